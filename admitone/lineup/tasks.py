"""Jobs of the lineup: telling those who starred a slot that it moved or was cancelled."""

from __future__ import annotations

import uuid

from admitone.jobs.registry import JobContext, job
from admitone.lineup import notices


@job("lineup.send_slot_change_notices")
def send_slot_change_notices(context: JobContext, *, change_id: str) -> int:
    """One mail per attendee who starred the slot, once each (a delivery marker per
    change and attendee); re-loads the change and the slot, and sends nothing for an
    event no longer published. Returns how many went out."""
    return notices.send_change_notices(
        context.database, context.settings, change_id=uuid.UUID(change_id)
    )
