"""Organizer pages for the gates (issue 16, points 2 and 6): the event's paired devices,
revoking one, and the conflict report of offline scans (filterable, and as a CSV).

Like the JSON API (``checkin.api.devices_router`` and ``conflicts_router``): reading
needs ``view_events``, revoking ``manage_events``; every read and change goes through
``checkin.devices`` and ``checkin.offline``. Times are shown in the event's time zone.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.responses import Response

from admitone.authorization import OrgAccess, Permission
from admitone.checkin import devices, lists, offline
from admitone.checkin.models import ConflictReason
from admitone.deps import SessionDep
from admitone.events import service as events
from admitone.web.deps import page_org_access, page_router
from admitone.web.i18n import _
from admitone.web.pages.accounts import redirect
from admitone.web.pages.organizer import _org_context
from admitone.web.templating import render

router = page_router()

ViewAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.view_events))]
ManageAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.manage_events))]
EventId = Annotated[uuid.UUID, Path()]
DeviceId = Annotated[uuid.UUID, Path()]
CONFLICTS_SHOWN = 500


def conflict_reason_label(reason: str) -> str:
    return {
        ConflictReason.already_admitted: _("Already admitted"),
        ConflictReason.revoked: _("Refunded or cancelled"),
        ConflictReason.wrong_list: _("Not on this list"),
        ConflictReason.outside_window: _("Outside the list's hours"),
        ConflictReason.not_inside: _("Exit without an entry"),
        ConflictReason.not_found: _("Unknown ticket"),
        ConflictReason.invalid_signature: _("Not a valid ticket"),
        ConflictReason.wrong_event: _("Ticket of another event"),
    }.get(ConflictReason(reason), reason)


@router.get("/organizer/{org}/events/{event_id}/devices")
def devices_page(
    request: Request, session: SessionDep, access: ViewAccess, event_id: EventId
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    views = devices.list_devices(session, access=access, event_id=event.id)
    return render(request, "organizer/devices.html", _org_context(access, event=event, views=views))


@router.post("/organizer/{org}/events/{event_id}/devices/{device_id}/revoke")
def revoke_device(
    session: SessionDep, access: ManageAccess, event_id: EventId, device_id: DeviceId
) -> Response:
    devices.revoke_device(session, access=access, event_id=event_id, device_id=device_id)
    return redirect(
        f"/organizer/{access.organization.slug}/events/{event_id}/devices",
        flash="device_revoked",
    )


@router.get("/organizer/{org}/events/{event_id}/checkin-conflicts")
def conflicts_page(
    request: Request,
    session: SessionDep,
    access: ViewAccess,
    event_id: EventId,
    list_id: Annotated[str, Query(max_length=36)] = "",
    reason: Annotated[str, Query(max_length=20)] = "",
    gate: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    event_lists = lists.lists_of_event(session, event_id=event.id)
    # Unknown filter values filter nothing out rather than fail: they come from a form.
    chosen_list = next(
        (view.checkin_list.id for view in event_lists if str(view.checkin_list.id) == list_id),
        None,
    )
    chosen_reason = reason if reason in ConflictReason.__members__ else ""
    where = offline.ConflictFilter(
        list_id=chosen_list,
        reason=ConflictReason(chosen_reason) if chosen_reason else None,
        gate=gate.strip() or None,
    )
    found = offline.event_conflicts(
        session, event_id=event.id, where=where, limit=CONFLICTS_SHOWN + 1
    )
    csv_query = "&".join(
        f"{name}={value}"
        for name, value in (
            ("list_id", chosen_list or ""),
            ("reason", chosen_reason),
            ("gate", gate.strip()),
        )
        if value
    )
    return render(
        request,
        "organizer/checkin_conflicts.html",
        _org_context(
            access,
            event=event,
            conflicts=found[:CONFLICTS_SHOWN],
            more=len(found) > CONFLICTS_SHOWN,
            lists=[view.checkin_list for view in event_lists],
            reasons=[(item.value, conflict_reason_label(item)) for item in ConflictReason],
            reason_label=conflict_reason_label,
            filters={
                "list_id": str(chosen_list or ""),
                "reason": chosen_reason,
                "gate": gate.strip(),
            },
            csv_query=csv_query,
        ),
    )


@router.get("/organizer/{org}/events/{event_id}/checkin-conflicts.csv")
def conflicts_csv(
    session: SessionDep,
    access: ViewAccess,
    event_id: EventId,
    list_id: Annotated[uuid.UUID | None, Query()] = None,
    reason: Annotated[ConflictReason | None, Query()] = None,
    gate: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    found = offline.event_conflicts(
        session,
        event_id=event.id,
        where=offline.ConflictFilter(list_id=list_id, reason=reason, gate=gate),
    )
    return Response(
        offline.conflicts_csv(found),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="conflicts-{event.slug}.csv"',
            "cache-control": "private, no-store",
        },
    )
