"""Check-in API: the scanners' key, the scan itself and the live counters (``router``);
the organizer's check-in lists and their counters (``lists_router``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from admitone.authorization import OrgAccess, Permission
from admitone.checkin import lists, service
from admitone.checkin.schemas import (
    CheckinKeyOut,
    CheckinListIn,
    CheckinListOut,
    CheckinListPatch,
    CheckinStatsOut,
    FoundTicketOut,
    ListStatsOut,
    ScanIn,
    ScanOut,
    UndoneAdmissionOut,
)
from admitone.checkin.service import EventAccess
from admitone.deps import (
    BearerCredentials,
    CurrentUser,
    KeyRingDep,
    OptionalUser,
    SessionDep,
    SettingsDep,
    org_access,
    required_claims_of,
)
from admitone.errors import error_responses
from admitone.hot_routes import hot_route
from admitone.schemas import DataResponse, ListResponse

router = APIRouter(prefix="/events/{event_id}", tags=["check-in"])

EventId = Annotated[uuid.UUID, Path(description="The event's id")]


def event_access(permission: Permission) -> Callable[..., EventAccess]:
    """A dependency resolving ``{event_id}`` to the caller's checked access to it."""

    def dependency(session: SessionDep, user: CurrentUser, event_id: EventId) -> EventAccess:
        return service.resolve_event_access(
            session, event_id=event_id, user=user, permission=permission
        )

    return dependency


CheckInAccess = Annotated[EventAccess, Depends(event_access(Permission.check_in))]
UndoAccess = Annotated[EventAccess, Depends(event_access(Permission.undo_check_in))]
TicketId = Annotated[uuid.UUID, Path(description="The ticket's id")]


def caller_claims(
    request: Request, settings: SettingsDep, credentials: BearerCredentials
) -> tuple[uuid.UUID, uuid.UUID]:
    """The access token's (user id, login session id), checked without a query: the scan
    reads the caller in its one query, with the event, their role, the list and the
    ticket (gates scan in bursts), and checks the access there. 401 without a token."""
    return required_claims_of(request, settings, credentials)


ScanCaller = Annotated[tuple[uuid.UUID, uuid.UUID], Depends(caller_claims)]
ListIdQuery = Annotated[
    uuid.UUID | None,
    Query(description="A check-in list of the event (default: its default list)"),
]


@router.get(
    "/checkin-key",
    summary="The event's public key, to verify ticket QR codes offline",
    responses=error_responses(401, 404, 422),
)
def get_checkin_key(
    event_id: EventId, session: SessionDep, user: OptionalUser, keys: KeyRingDep
) -> DataResponse[CheckinKeyOut]:
    key = service.get_checkin_key(session, event_id=event_id, user=user, keys=keys)
    return DataResponse(data=CheckinKeyOut.from_key(key))


@hot_route(
    router.post,
    "/checkins",
    summary="Scan a ticket at a gate (staff, admin, owner)",
    description="Always answers 200 with a `result` once the scan is processed: "
    "`admitted`, `exited`, `already_admitted`, `not_inside`, `wrong_list`, "
    "`outside_window`, `invalid_signature`, `wrong_event`, `revoked` or `not_found`. "
    "Each scan is recorded. A scan is for a check-in list (`list_id`, default: the "
    "event's default list) and is an `entry` (default) or an `exit`.",
    responses=error_responses(400, 401, 403, 404, 409, 422, 503),
)
def scan(
    event_id: EventId,
    body: ScanIn,
    caller: ScanCaller,
    session: SessionDep,
    keys: KeyRingDep,
) -> DataResponse[ScanOut]:
    user_id, auth_session_id = caller
    outcome = service.scan_as_caller(
        session,
        event_id=event_id,
        user_id=user_id,
        auth_session_id=auth_session_id,
        keys=keys,
        qr=body.qr,
        gate=body.gate,
        nonce=body.nonce,
        list_id=body.list_id,
        kind=body.kind,
    )
    return DataResponse(data=ScanOut.from_outcome(outcome))


@router.get(
    "/checkins/stats",
    summary="Inside now and total valid tickets of a list, overall and by ticket type",
    responses=error_responses(401, 403, 404, 422),
)
def stats(
    access: CheckInAccess, session: SessionDep, list_id: ListIdQuery = None
) -> DataResponse[CheckinStatsOut]:
    return DataResponse(
        data=CheckinStatsOut.from_stats(
            service.checkin_stats(session, access=access, list_id=list_id)
        )
    )


@router.get(
    "/checkins/search",
    summary="Find tickets of the event by holder or buyer name, e-mail or order code",
    description="For a person at the gate without their QR: names match in part, an "
    "e-mail, an order code or a ticket code match whole (any case). At most 20. Admit "
    "a ticket found by sending its `id` as `qr` to the scan.",
    responses=error_responses(401, 403, 404, 422),
)
def search(
    access: CheckInAccess,
    session: SessionDep,
    q: Annotated[str, Query(max_length=200, description="A name, an e-mail or a code")],
    list_id: ListIdQuery = None,
) -> ListResponse[FoundTicketOut]:
    found = service.find_tickets(session, access=access, query=q, list_id=list_id)
    return ListResponse(data=[FoundTicketOut.from_found(item) for item in found])


@router.post(
    "/tickets/{ticket_id}/undo-admission",
    summary="Undo a mistaken admission (admins and owners)",
    description="Undoes the ticket's current entry on a list (`list_id`, default: the "
    "event's default list): the ticket is out and may then be admitted again. The "
    "admitting scan stays recorded, with who undid it and when.",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
def undo_admission(
    ticket_id: TicketId, access: UndoAccess, session: SessionDep, list_id: ListIdQuery = None
) -> DataResponse[UndoneAdmissionOut]:
    undone = service.undo_admission(session, access=access, ticket_id=ticket_id, list_id=list_id)
    return DataResponse(data=UndoneAdmissionOut.from_undone(undone))


# --- the organizer's check-in lists ------------------------------------------------------

lists_router = APIRouter(
    prefix="/organizations/{org}/events/{event_id}/checkin-lists", tags=["check-in lists"]
)
ViewAccess = Annotated[OrgAccess, Depends(org_access(Permission.view_events))]
ManageAccess = Annotated[OrgAccess, Depends(org_access(Permission.manage_events))]
ListId = Annotated[uuid.UUID, Path(description="The check-in list's id")]


@lists_router.get(
    "",
    summary="The event's check-in lists, the default one first",
    responses=error_responses(401, 403, 404, 422),
)
def list_checkin_lists(
    event_id: EventId, access: ViewAccess, session: SessionDep
) -> ListResponse[CheckinListOut]:
    found = lists.list_lists(session, access=access, event_id=event_id)
    return ListResponse(data=[CheckinListOut.from_view(view) for view in found])


@lists_router.post(
    "",
    status_code=201,
    summary="Add a check-in list: its ticket types, re-entry, time window",
    responses=error_responses(401, 403, 404, 422),
)
def create_checkin_list(
    event_id: EventId, body: CheckinListIn, access: ManageAccess, session: SessionDep
) -> DataResponse[CheckinListOut]:
    view = lists.create_list(
        session,
        access=access,
        event_id=event_id,
        name=body.name,
        ticket_type_ids=body.ticket_type_ids,
        allow_reentry=body.allow_reentry,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
    )
    return DataResponse(data=CheckinListOut.from_view(view))


@lists_router.get(
    "/{list_id}",
    summary="One check-in list",
    responses=error_responses(401, 403, 404, 422),
)
def get_checkin_list(
    event_id: EventId, list_id: ListId, access: ViewAccess, session: SessionDep
) -> DataResponse[CheckinListOut]:
    view = lists.get_list(session, access=access, event_id=event_id, list_id=list_id)
    return DataResponse(data=CheckinListOut.from_view(view))


@lists_router.patch(
    "/{list_id}",
    summary="Change a check-in list (the fields sent)",
    responses=error_responses(401, 403, 404, 422),
)
def update_checkin_list(
    event_id: EventId,
    list_id: ListId,
    body: CheckinListPatch,
    access: ManageAccess,
    session: SessionDep,
) -> DataResponse[CheckinListOut]:
    view = lists.update_list(
        session, access=access, event_id=event_id, list_id=list_id, changes=body.changes()
    )
    return DataResponse(data=CheckinListOut.from_view(view))


@lists_router.delete(
    "/{list_id}",
    status_code=204,
    summary="Delete a check-in list that was never scanned (not the default one)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def delete_checkin_list(
    event_id: EventId, list_id: ListId, access: ManageAccess, session: SessionDep
) -> Response:
    lists.delete_list(session, access=access, event_id=event_id, list_id=list_id)
    return Response(status_code=204)


@lists_router.get(
    "/{list_id}/stats",
    summary="A list's counters: inside now, admitted, by ticket type, gate, quarter hour",
    responses=error_responses(401, 403, 404, 422),
)
def checkin_list_stats(
    event_id: EventId, list_id: ListId, access: ViewAccess, session: SessionDep
) -> DataResponse[ListStatsOut]:
    stats = lists.list_stats(session, access=access, event_id=event_id, list_id=list_id)
    return DataResponse(data=ListStatsOut.from_stats(stats))
