"""Check-in API: the scanners' key, the scan itself and the live counters."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from admitone.authorization import Permission
from admitone.checkin import service
from admitone.checkin.schemas import (
    CheckinKeyOut,
    CheckinStatsOut,
    FoundTicketOut,
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


def caller_event_access(permission: Permission) -> Callable[..., EventAccess]:
    """``event_access`` for the scan, with the caller read in the same query as the event
    and their role (one round trip instead of two: gates scan in bursts)."""

    def dependency(
        request: Request,
        session: SessionDep,
        settings: SettingsDep,
        credentials: BearerCredentials,
        event_id: EventId,
    ) -> EventAccess:
        user_id, auth_session_id = required_claims_of(request, settings, credentials)
        return service.resolve_caller_event_access(
            session,
            event_id=event_id,
            user_id=user_id,
            auth_session_id=auth_session_id,
            permission=permission,
        )

    return dependency


ScanAccess = Annotated[EventAccess, Depends(caller_event_access(Permission.check_in))]


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
    "`admitted`, `already_admitted`, `invalid_signature`, `wrong_event`, `revoked` or "
    "`not_found`. Each scan is recorded.",
    responses=error_responses(400, 401, 403, 404, 409, 422, 503),
)
def scan(
    body: ScanIn, access: ScanAccess, session: SessionDep, keys: KeyRingDep
) -> DataResponse[ScanOut]:
    outcome = service.scan_ticket(
        session, access=access, keys=keys, qr=body.qr, gate=body.gate, nonce=body.nonce
    )
    return DataResponse(data=ScanOut.from_outcome(outcome))


@router.get(
    "/checkins/stats",
    summary="Admitted and total valid tickets, overall and by ticket type",
    responses=error_responses(401, 403, 404, 422),
)
def stats(access: CheckInAccess, session: SessionDep) -> DataResponse[CheckinStatsOut]:
    return DataResponse(
        data=CheckinStatsOut.from_stats(service.checkin_stats(session, access=access))
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
) -> ListResponse[FoundTicketOut]:
    found = service.find_tickets(session, access=access, query=q)
    return ListResponse(data=[FoundTicketOut.from_found(item) for item in found])


@router.post(
    "/tickets/{ticket_id}/undo-admission",
    summary="Undo a mistaken admission (admins and owners)",
    description="The ticket may then be admitted again. The admitting scan stays "
    "recorded, with who undid it and when.",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
def undo_admission(
    ticket_id: TicketId, access: UndoAccess, session: SessionDep
) -> DataResponse[UndoneAdmissionOut]:
    undone = service.undo_admission(session, access=access, ticket_id=ticket_id)
    return DataResponse(data=UndoneAdmissionOut.from_undone(undone))
