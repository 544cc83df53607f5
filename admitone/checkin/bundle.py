"""The offline bundle: what a paired gate device downloads to decide alone (issue 16,
point 3; docs/gates.md, "The bundle").

A sync is a run of pages. The first page of a sync takes its cursor's time **before**
reading anything (minus ``OVERLAP``), so a change that commits while the sync runs comes
again in the next sync rather than never; re-sending a row is harmless, the device
upserts by key. Within a sync, pages follow each other by keyset: the tickets changed
since the previous sync by ``(changed_at, id)``, then the presences by ``(list_id,
ticket_id)``. The cursor is opaque to the device and carries all of it, so a cut-off
download resumes from its last page.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from admitone.checkin import lists, offline
from admitone.checkin.devices import DeviceAccess
from admitone.checkin.errors import BundleCursorInvalid
from admitone.checkin.models import (
    CheckIn,
    CheckinDevice,
    CheckinList,
    CheckinPresence,
    CheckinUndo,
)
from admitone.db import utcnow
from admitone.events.models import TicketType
from admitone.tickets.models import Ticket, TicketStatus
from admitone.tickets.signing import EventKey, KeyRing

PAGE_SIZE = 5000
# Longer than any transaction may run (requests are bounded far below it), so a change
# written with an earlier time than the sync's start, but committed after the sync read
# past it, is inside the next sync's window.
OVERLAP = timedelta(minutes=5)
_PHASES = ("tickets", "presences")


@dataclass(frozen=True)
class Cursor:
    """Where a sync is: changes after ``since`` (None: everything), in ``phase``, after
    the keyset position ``after``; ``next_since`` is the next sync's ``since``."""

    since: datetime | None
    next_since: datetime
    phase: str = "tickets"
    after: tuple[str, str] | None = None

    def encode(self, event_id: uuid.UUID) -> str:
        raw = {
            "e": str(event_id),
            "s": self.since.isoformat() if self.since is not None else None,
            "n": self.next_since.isoformat(),
            "p": self.phase,
            "a": list(self.after) if self.after is not None else None,
        }
        text = json.dumps(raw, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(text).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, event_id: uuid.UUID) -> Cursor:
        try:
            raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            if not isinstance(raw, dict) or raw.get("e") != str(event_id):
                raise ValueError("another event's cursor")
            phase = raw["p"]
            if phase not in _PHASES:
                raise ValueError("phase")
            after = raw["a"]
            if after is not None:
                if not (isinstance(after, list) and len(after) == 2):
                    raise ValueError("after")
                after = (str(after[0]), str(uuid.UUID(str(after[1]))))
                if phase == "tickets":
                    _aware(after[0])
                else:
                    uuid.UUID(after[0])
            since = _aware(raw["s"]) if raw["s"] is not None else None
            return cls(since=since, next_since=_aware(raw["n"]), phase=phase, after=after)
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
            raise BundleCursorInvalid() from None


def _aware(text: object) -> datetime:
    if not isinstance(text, str):
        raise ValueError("time")
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("naive time")
    return value


@dataclass
class BundlePage:
    device: DeviceAccess
    key: EventKey
    lists: list[lists.ListView]
    ticket_types: list[tuple[uuid.UUID, str]]
    full: bool
    tickets: list[tuple[uuid.UUID, uuid.UUID, str, TicketStatus]] = field(default_factory=list)
    presences: list[tuple[uuid.UUID, uuid.UUID, bool, int, datetime, str | None]] = field(
        default_factory=list
    )
    # (list, ticket) pairs whose only entry a supervisor undid since the last sync: the
    # server has no presence for them any more.
    undone: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)
    # On the last page: the conflicts involving this device (as a batch's answer has them).
    conflicts: list[offline.ScanConflict] = field(default_factory=list)
    # On the last page: the event's revoked devices (a site relay stops accepting them).
    revoked_devices: list[uuid.UUID] = field(default_factory=list)
    server_time: datetime = field(default_factory=utcnow)
    cursor: str = ""
    complete: bool = False


def bundle_page(
    session: Session, *, device: DeviceAccess, keys: KeyRing, cursor: str | None
) -> BundlePage:
    """One page of the device's event bundle (read-only but for the device's last
    contact). Every page carries the small parts (event, device, key, lists, types)."""
    event = device.event
    now = utcnow()
    position = (
        Cursor(since=None, next_since=now - OVERLAP)
        if cursor is None
        else Cursor.decode(cursor, event.id)
    )
    ticket_count = session.scalar(select(func.count()).where(Ticket.event_id == event.id)) or 0
    page = BundlePage(
        device=device,
        key=keys.get_or_create(session, event.id),
        lists=lists.lists_of_event(session, event_id=event.id),
        ticket_types=[
            (row.id, row.name)
            for row in session.execute(
                select(TicketType.id, TicketType.name)
                .where(TicketType.event_id == event.id)
                .order_by(TicketType.position, TicketType.id)
            )
        ],
        full=ticket_count <= event.offline_ticket_limit,
        server_time=now,
    )
    budget = PAGE_SIZE
    if position.phase == "tickets":
        changed = _changed_tickets(session, page, position, budget + 1)
        page.tickets = [row[:4] for row in changed[:budget]]
        if len(changed) > budget:
            last_id, changed_at = changed[budget - 1][0], changed[budget - 1][4]
            page.cursor = Cursor(
                since=position.since,
                next_since=position.next_since,
                phase="tickets",
                after=(changed_at.isoformat(), str(last_id)),
            ).encode(event.id)
            return page
        budget -= len(page.tickets)
        position = Cursor(since=position.since, next_since=position.next_since, phase="presences")
    page.presences = _changed_presences(session, event.id, position, budget + 1)
    if len(page.presences) > budget or budget == 0:
        page.presences = page.presences[:budget]
        if page.presences:
            last_presence = page.presences[-1]
            after: tuple[str, str] | None = (str(last_presence[0]), str(last_presence[1]))
        else:
            after = position.after
        page.cursor = Cursor(
            since=position.since, next_since=position.next_since, phase="presences", after=after
        ).encode(event.id)
        return page
    page.undone = _undone(session, event.id, position.since)
    # A gate hears of its conflicts at every sync, not only when it has scans to upload.
    page.conflicts = offline.device_conflicts(session, device=device)
    page.revoked_devices = list(
        session.scalars(
            select(CheckinDevice.id).where(
                CheckinDevice.event_id == event.id, CheckinDevice.revoked_at.is_not(None)
            )
        )
    )
    page.cursor = Cursor(since=position.next_since, next_since=position.next_since).encode(event.id)
    page.complete = True
    return page


def _changed_tickets(
    session: Session, page: BundlePage, position: Cursor, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID, str, TicketStatus, datetime]]:
    """The event's tickets changed since the cursor (all of them, or only the revoked
    ones when the event is above its offline limit), by ``(changed_at, id)``."""
    conditions: list[Any] = [Ticket.event_id == page.device.event.id]
    if position.since is not None:
        conditions.append(Ticket.changed_at > position.since)
    if position.after is not None:
        after_time, after_id = _aware(position.after[0]), uuid.UUID(position.after[1])
        conditions.append(
            or_(
                Ticket.changed_at > after_time,
                and_(Ticket.changed_at == after_time, Ticket.id > after_id),
            )
        )
    if not page.full:
        conditions.append(Ticket.status == TicketStatus.revoked)
    rows = session.execute(
        select(
            Ticket.id, Ticket.ticket_type_id, Ticket.holder_name, Ticket.status, Ticket.changed_at
        )
        .where(*conditions)
        .order_by(Ticket.changed_at, Ticket.id)
        .limit(limit)
    ).all()
    return [(row[0], row[1], row[2], row[3], row[4]) for row in rows]


def _changed_presences(
    session: Session, event_id: uuid.UUID, position: Cursor, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID, bool, int, datetime, str | None]]:
    """The presences on the event's lists changed since the cursor, by key."""
    conditions: list[Any] = [CheckinList.event_id == event_id]
    if position.since is not None:
        conditions.append(CheckinPresence.changed_at > position.since)
    if position.after is not None:
        after_list, after_ticket = uuid.UUID(position.after[0]), uuid.UUID(position.after[1])
        conditions.append(
            or_(
                CheckinPresence.list_id > after_list,
                and_(
                    CheckinPresence.list_id == after_list,
                    CheckinPresence.ticket_id > after_ticket,
                ),
            )
        )
    rows = session.execute(
        select(
            CheckinPresence.list_id,
            CheckinPresence.ticket_id,
            CheckinPresence.inside,
            CheckinPresence.entries,
            CheckinPresence.last_entry_at,
            CheckinPresence.last_gate,
        )
        .join(CheckinList, CheckinList.id == CheckinPresence.list_id)
        .where(*conditions)
        .order_by(CheckinPresence.list_id, CheckinPresence.ticket_id)
        .limit(limit)
    ).all()
    return [(row[0], row[1], bool(row[2]), row[3], row[4], row[5]) for row in rows]


def _undone(
    session: Session, event_id: uuid.UUID, since: datetime | None
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(list, ticket) of the admissions undone since the last sync that left the ticket
    with no presence (an undo of a later entry updates the presence, which comes with
    the presences)."""
    if since is None:
        return []  # a first sync has no stale presence to correct
    rows = session.execute(
        select(CheckIn.list_id, CheckIn.ticket_id)
        .join(CheckinUndo, CheckinUndo.checkin_id == CheckIn.id)
        .outerjoin(
            CheckinPresence,
            (CheckinPresence.list_id == CheckIn.list_id)
            & (CheckinPresence.ticket_id == CheckIn.ticket_id),
        )
        .where(
            CheckinUndo.event_id == event_id,
            CheckinUndo.undone_at > since,
            CheckinPresence.ticket_id.is_(None),
            CheckIn.ticket_id.is_not(None),
        )
        .distinct()
    ).all()
    return [(row[0], row[1]) for row in rows if row[0] is not None and row[1] is not None]
