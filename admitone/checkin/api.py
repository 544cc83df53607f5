"""Check-in API: the scanners' key, the scan itself and the live counters (``router``);
the organizer's check-in lists and their counters (``lists_router``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from admitone.authorization import OrgAccess, Permission
from admitone.checkin import bundle, devices, lists, offline, service
from admitone.checkin.errors import CheckinEventNotFound
from admitone.checkin.models import ConflictReason
from admitone.checkin.schemas import (
    BatchIn,
    BatchOut,
    BundleOut,
    CheckinKeyOut,
    CheckinListIn,
    CheckinListOut,
    CheckinListPatch,
    CheckinStatsOut,
    ConflictOut,
    DeviceIn,
    DeviceOut,
    FoundTicketOut,
    ListStatsOut,
    PairedDeviceOut,
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
from admitone.errors import NotAuthenticated, error_responses
from admitone.events import service as events_service
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
) -> tuple[uuid.UUID, uuid.UUID] | str:
    """The access token's (user id, login session id), checked without a query: the scan
    reads the caller in its one query, with the event, their role, the list and the
    ticket (gates scan in bursts), and checks the access there. 401 without a token.
    A gate device's token is passed on as it is, for ``devices.resolve_device``."""
    if credentials is not None and devices.is_device_token(credentials.credentials):
        return credentials.credentials
    return required_claims_of(request, settings, credentials)


ScanCaller = Annotated[tuple[uuid.UUID, uuid.UUID] | str, Depends(caller_claims)]
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
    if isinstance(caller, str):  # a gate device's token
        device = devices.resolve_device(session, token=caller)
        if device.event.id != event_id:
            raise CheckinEventNotFound()
        outcome = service.scan_ticket(
            session,
            access=EventAccess(event=device.event, org=device.org),
            keys=keys,
            qr=body.qr,
            gate=body.gate or device.device.gate,
            nonce=body.nonce,
            list_id=body.list_id,
            kind=body.kind,
            device_id=device.device.id,
        )
        return DataResponse(data=ScanOut.from_outcome(outcome))
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


# --- gate devices ------------------------------------------------------------------------


@router.post(
    "/devices",
    status_code=201,
    summary="Pair a gate device with the event (staff, admin, owner)",
    description="Answers the device's token once: the device sends it as its bearer token "
    "to /scan/bundle, /scan/batches and the online scan. docs/gates.md.",
    responses=error_responses(401, 403, 404, 422),
)
def pair_device(
    body: DeviceIn, access: CheckInAccess, session: SessionDep
) -> DataResponse[PairedDeviceOut]:
    paired = devices.pair_device(
        session, event=access.event, user=access.org.user, name=body.name, gate=body.gate
    )
    out = DeviceOut.from_device(paired.device, paired_by=access.org.user.full_name or None)
    return DataResponse(data=PairedDeviceOut(**out.model_dump(), token=paired.token))


devices_router = APIRouter(
    prefix="/organizations/{org}/events/{event_id}/devices", tags=["gate devices"]
)
DeviceId = Annotated[uuid.UUID, Path(description="The device's id")]


@devices_router.get(
    "",
    summary="The event's gate devices, with their last contact (revoked ones too)",
    responses=error_responses(401, 403, 404, 422),
)
def list_devices(
    event_id: EventId, access: ViewAccess, session: SessionDep
) -> ListResponse[DeviceOut]:
    found = devices.list_devices(session, access=access, event_id=event_id)
    return ListResponse(
        data=[
            DeviceOut.from_device(view.device, paired_by=view.paired_by, scans=view.scans)
            for view in found
        ]
    )


@devices_router.delete(
    "/{device_id}",
    status_code=204,
    summary="Revoke a gate device: its token stops working",
    responses=error_responses(401, 403, 404, 422),
)
def revoke_device(
    event_id: EventId, device_id: DeviceId, access: ManageAccess, session: SessionDep
) -> Response:
    devices.revoke_device(session, access=access, event_id=event_id, device_id=device_id)
    return Response(status_code=204)


def device_access(
    request: Request, session: SessionDep, credentials: BearerCredentials
) -> devices.DeviceAccess:
    """The gate device behind the bearer token (401 without one, or a bad one); its last
    contact is noted by the calls that write (a GET's unit of work only reads)."""
    if credentials is None:
        raise NotAuthenticated()
    return devices.resolve_device(
        session, token=credentials.credentials, note_contact=request.method == "POST"
    )


DeviceCaller = Annotated[devices.DeviceAccess, Depends(device_access)]
scan_router = APIRouter(prefix="/scan", tags=["gate devices"])


@scan_router.get(
    "/bundle",
    summary="What the device needs to decide alone, by pages (device token)",
    description="Without `cursor`: a full download. Then send each page's `cursor` until "
    "`complete`; keep the last one for the next sync, which answers only what changed. "
    'docs/gates.md, "The bundle".',
    responses=error_responses(401, 422),
)
def get_bundle(
    device: DeviceCaller,
    session: SessionDep,
    keys: KeyRingDep,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> DataResponse[BundleOut]:
    page = bundle.bundle_page(session, device=device, keys=keys, cursor=cursor)
    return DataResponse(data=BundleOut.from_page(page))


@scan_router.post(
    "/batches",
    summary="Upload offline scans (device token): each stored once, one result per scan",
    description="Idempotent per (device, nonce): send a batch again, split or reordered, "
    "and each scan is stored once. Offline entries and exits are facts: stored even when "
    "the server would have refused them, with the reason (`conflict`). docs/gates.md.",
    responses=error_responses(401, 422),
)
def upload_batch(
    body: BatchIn, device: DeviceCaller, session: SessionDep, keys: KeyRingDep
) -> DataResponse[BatchOut]:
    answer = offline.upload_batch(
        session,
        device=device,
        keys=keys,
        device_time=body.device_time,
        scans=[
            offline.OfflineScan(
                nonce=item.nonce,
                qr=item.qr,
                list_id=item.list_id,
                kind=item.kind,
                scanned_at=item.scanned_at,
                result=item.result,
                gate=item.gate,
            )
            for item in body.scans
        ],
    )
    return DataResponse(data=BatchOut.from_answer(answer))


# --- the organizer's conflict report -----------------------------------------------------

conflicts_router = APIRouter(
    prefix="/organizations/{org}/events/{event_id}/checkin-conflicts", tags=["check-in lists"]
)
CONFLICTS_SHOWN = 1000


@conflicts_router.get(
    "",
    summary="Offline scans the server would have refused (duplicates...), newest first",
    description="Filter by `list_id`, `reason`, `gate`, `device_id`; `format=csv` for a "
    "CSV of all of them (JSON: the newest 1,000).",
    responses={**error_responses(401, 403, 404, 422), 200: {"content": {"text/csv": {}}}},
)
def list_conflicts(
    event_id: EventId,
    access: ViewAccess,
    session: SessionDep,
    list_id: Annotated[uuid.UUID | None, Query()] = None,
    reason: Annotated[ConflictReason | None, Query()] = None,
    gate: Annotated[str | None, Query(max_length=100)] = None,
    device_id: Annotated[uuid.UUID | None, Query()] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    event = events_service.get_event(session, access=access, event_id=event_id)
    where = offline.ConflictFilter(list_id=list_id, reason=reason, gate=gate, device_id=device_id)
    if format == "csv":
        found = offline.event_conflicts(session, event_id=event.id, where=where)
        return Response(
            content=offline.conflicts_csv(found),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="conflicts-{event.slug}.csv"'},
        )
    found = offline.event_conflicts(session, event_id=event.id, where=where, limit=CONFLICTS_SHOWN)
    return ListResponse(data=[ConflictOut.from_conflict(item) for item in found])
