"""Events API: the organizer's back office and the public catalogue.

Organizer routes live under ``/organizations/{org}/events`` and reach the organization
through ``org_access`` (reads need ``view_events``, writes ``manage_events``); the
services then only see that organization's rows. Public routes need no account.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import AwareDatetime, TypeAdapter, ValidationError
from starlette.datastructures import UploadFile
from starlette.requests import Request as StarletteRequest
from starlette.types import Message

from admitone.authorization import OrgAccess, Permission
from admitone.checkin import lists as checkin_lists
from admitone.deps import KeyRingDep, SessionDep, SettingsDep, org_access
from admitone.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType, error_responses
from admitone.events import catalogue, service, validators
from admitone.events.models import Category, Event, EventStatus, TicketType
from admitone.events.schemas import (
    CatalogueEventOut,
    CatalogueFacets,
    EventIn,
    EventOut,
    EventPatch,
    FacetCount,
    OrganizerOut,
    PublicEventOut,
    PublicTicketTypeOut,
    TicketTypeIn,
    TicketTypeOut,
    TicketTypePatch,
    VenueOut,
)
from admitone.schemas import DataResponse, ListResponse, page_meta

organizer_router = APIRouter(prefix="/organizations/{org}/events", tags=["events (organizer)"])
public_router = APIRouter(prefix="/events", tags=["catalogue"])

ViewAccess = Annotated[OrgAccess, Depends(org_access(Permission.view_events))]
ManageAccess = Annotated[OrgAccess, Depends(org_access(Permission.manage_events))]
EventId = Annotated[uuid.UUID, Path(description="Event id")]
TicketTypeId = Annotated[uuid.UUID, Path(description="Ticket type id")]
Page = Annotated[int, Query(ge=1, le=100_000, description="Page number, from 1")]
PerPage = Annotated[int, Query(ge=1, le=100, description="Items per page (at most 100)")]

READ_ERRORS = error_responses(401, 403, 404, 422)
WRITE_ERRORS = error_responses(401, 403, 404, 409, 422)

# Room for the multipart boundaries and part headers around the image itself.
MULTIPART_OVERHEAD = 16 * 1024


# --- shaping answers -----------------------------------------------------------------


def _local(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    # Instants are stored in UTC; answers show them at the event's own offset.
    return value.astimezone(zone) if value is not None else None


def _image_url(event: Event) -> str | None:
    return f"/media/{event.image_path}" if event.image_path else None


def _venue(event: Event) -> VenueOut:
    return VenueOut(
        name=event.venue_name, address=event.venue_address, city=event.city, country=event.country
    )


def ticket_type_out(ticket_type: TicketType, zone: ZoneInfo) -> TicketTypeOut:
    return TicketTypeOut(
        id=ticket_type.id,
        event_id=ticket_type.event_id,
        name=ticket_type.name,
        description=ticket_type.description,
        price_minor=ticket_type.price_minor,
        vat_rate_bp=ticket_type.vat_rate_bp,
        capacity=ticket_type.capacity,
        quantity_sold=ticket_type.quantity_sold,
        quantity_held=ticket_type.quantity_held,
        available=ticket_type.available,
        sales_start=_local(ticket_type.sales_start, zone),
        sales_end=_local(ticket_type.sales_end, zone),
        min_per_order=ticket_type.min_per_order,
        max_per_order=ticket_type.max_per_order,
        max_per_buyer=ticket_type.max_per_buyer,
        is_active=ticket_type.is_active,
        position=ticket_type.position,
        created_at=ticket_type.created_at,
        updated_at=ticket_type.updated_at,
    )


def event_out(event: Event, *, organization_slug: str) -> EventOut:
    zone = ZoneInfo(event.timezone)
    return EventOut(
        id=event.id,
        organization_slug=organization_slug,
        slug=event.slug,
        title=event.title,
        description=event.description,
        category=event.category,
        venue=_venue(event),
        starts_at=_local(event.starts_at, zone),
        ends_at=_local(event.ends_at, zone),
        timezone=event.timezone,
        currency=event.currency,
        ask_attendee_names=event.ask_attendee_names,
        offline_ticket_limit=event.offline_ticket_limit,
        image_url=_image_url(event),
        status=event.status,
        published_at=event.published_at,
        cancelled_at=event.cancelled_at,
        created_at=event.created_at,
        updated_at=event.updated_at,
        ticket_types=[ticket_type_out(t, zone) for t in event.ticket_types],
    )


def _catalogue_fields(entry: catalogue.CatalogueEntry) -> dict[str, Any]:
    event = entry.event
    zone = ZoneInfo(event.timezone)
    return {
        "id": event.id,
        "slug": event.slug,
        "title": event.title,
        "category": event.category,
        "venue": _venue(event),
        "starts_at": _local(event.starts_at, zone),
        "ends_at": _local(event.ends_at, zone),
        "timezone": event.timezone,
        "currency": event.currency,
        "image_url": _image_url(event),
        "min_price_minor": entry.price_from,
        "organizer": OrganizerOut(name=event.organization.name, slug=event.organization.slug),
        "ticket_types": [
            PublicTicketTypeOut(
                id=t.id,
                name=t.name,
                description=t.description,
                price_minor=t.price_minor,
                available=entry.available(t),
                sales_start=_local(t.sales_start, zone),
                sales_end=_local(t.sales_end, zone),
                min_per_order=t.min_per_order,
                max_per_order=t.max_per_order,
                on_sale=catalogue.is_on_sale(event, t, available=entry.available(t)),
                sold_out=entry.available(t) == 0,
                may_come_back=entry.available(t) == 0 and t.capacity > t.quantity_sold,
            )
            for t in event.ticket_types
            if t.is_active
        ],
    }


def public_event_out(entry: catalogue.CatalogueEntry) -> PublicEventOut:
    event = entry.event
    return PublicEventOut(
        **_catalogue_fields(entry),
        description=event.description,
        status=event.status,
        is_cancelled=event.status == EventStatus.cancelled,
        cancelled_at=event.cancelled_at,
    )


# --- image upload --------------------------------------------------------------------


async def image_upload(request: Request, settings: SettingsDep) -> bytes:
    """The ``file`` part of a multipart body, never reading more than the size limit.

    A declared Content-Length over the limit is refused before reading; a body without
    one (chunked) is counted as it streams and cut off as soon as it passes the limit.
    """
    max_bytes = settings.max_image_bytes
    limit = max_bytes + MULTIPART_OVERHEAD
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise UnsupportedMediaType(
            "Send the image as multipart/form-data in a field named 'file'.",
            accepted=["multipart/form-data"],
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(max_bytes=max_bytes)
    received = 0

    async def bounded_receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise PayloadTooLarge(max_bytes=max_bytes)
        return message

    form = await StarletteRequest(request.scope, bounded_receive).form(max_files=1, max_fields=5)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput(
                errors=[{"field": "body.file", "message": "an image file is required"}]
            )
        data = await upload.read(max_bytes + 1)
    finally:
        await form.close()
    if len(data) > max_bytes:
        raise PayloadTooLarge(max_bytes=max_bytes)
    return data


IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


# --- organizer: events ---------------------------------------------------------------


@organizer_router.get("", summary="The organization's events", responses=READ_ERRORS)
def list_events(
    access: ViewAccess,
    session: SessionDep,
    status_filter: Annotated[
        EventStatus | None, Query(alias="status", description="Only events in this status")
    ] = None,
    page: Page = 1,
    per_page: PerPage = 20,
) -> ListResponse[EventOut]:
    events, total = service.list_events(
        session, access=access, status=status_filter, page=page, per_page=per_page
    )
    slug = access.organization.slug
    return ListResponse(
        data=[event_out(e, organization_slug=slug) for e in events],
        meta=page_meta(page=page, per_page=per_page, total=total),
    )


@organizer_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a draft event",
    responses=WRITE_ERRORS,
)
def create_event(
    body: EventIn, access: ManageAccess, session: SessionDep
) -> DataResponse[EventOut]:
    event = service.create_event(session, access=access, **body.service_values())
    return DataResponse(data=event_out(event, organization_slug=access.organization.slug))


@organizer_router.get("/{event_id}", summary="One event", responses=READ_ERRORS)
def get_event(event_id: EventId, access: ViewAccess, session: SessionDep) -> DataResponse[EventOut]:
    event = service.get_event(session, access=access, event_id=event_id)
    return DataResponse(data=event_out(event, organization_slug=access.organization.slug))


@organizer_router.patch("/{event_id}", summary="Change an event", responses=WRITE_ERRORS)
def update_event(
    event_id: EventId, body: EventPatch, access: ManageAccess, session: SessionDep
) -> DataResponse[EventOut]:
    event = service.update_event(session, access=access, event_id=event_id, changes=body.changes())
    return DataResponse(data=event_out(event, organization_slug=access.organization.slug))


@organizer_router.delete(
    "/{event_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an event that has no sales",
    responses=WRITE_ERRORS,
)
def delete_event(
    event_id: EventId, access: ManageAccess, session: SessionDep, settings: SettingsDep
) -> Response:
    service.delete_event(session, access=access, event_id=event_id, media_dir=settings.media_dir)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@organizer_router.post(
    "/{event_id}/duplicate",
    status_code=status.HTTP_201_CREATED,
    summary="Copy an event as a new draft (its ticket types, no sales, a new slug)",
    responses=WRITE_ERRORS,
)
def duplicate_event(
    event_id: EventId, access: ManageAccess, session: SessionDep, settings: SettingsDep
) -> DataResponse[EventOut]:
    event = service.duplicate_event(
        session, access=access, event_id=event_id, media_dir=settings.media_dir
    )
    return DataResponse(data=event_out(event, organization_slug=access.organization.slug))


@organizer_router.post(
    "/{event_id}/publish",
    summary="Publish a draft (needs an active ticket type and a future start)",
    responses=WRITE_ERRORS,
)
def publish_event(
    event_id: EventId, access: ManageAccess, session: SessionDep, keys: KeyRingDep
) -> DataResponse[EventOut]:
    event = service.publish_event(session, access=access, event_id=event_id)
    # The ticket-signing key is made now, in the same unit of work, not on the sale's
    # first busy minute; so is the default check-in list (from here, the outer layer:
    # events' services know nothing of check-in).
    keys.add_key(session, event.id)
    checkin_lists.ensure_default_list(session, event_id=event.id)
    return DataResponse(data=event_out(event, organization_slug=access.organization.slug))


@organizer_router.post(
    "/{event_id}/cancel", summary="Cancel a draft or published event", responses=WRITE_ERRORS
)
def cancel_event(
    event_id: EventId, access: ManageAccess, session: SessionDep
) -> DataResponse[EventOut]:
    event = service.cancel_event(session, access=access, event_id=event_id)
    return DataResponse(data=event_out(event, organization_slug=access.organization.slug))


@organizer_router.put(
    "/{event_id}/image",
    summary="Upload the event's image (JPEG, PNG or WebP; multipart field 'file')",
    responses=error_responses(400, 401, 403, 404, 413, 415, 422),
    openapi_extra=IMAGE_BODY,
)
def put_event_image(
    event_id: EventId,
    access: ManageAccess,
    session: SessionDep,
    settings: SettingsDep,
    data: Annotated[bytes, Depends(image_upload)],
) -> DataResponse[EventOut]:
    event = service.set_event_image(
        session,
        access=access,
        event_id=event_id,
        data=data,
        media_dir=settings.media_dir,
        max_bytes=settings.max_image_bytes,
    )
    return DataResponse(data=event_out(event, organization_slug=access.organization.slug))


@organizer_router.delete(
    "/{event_id}/image", summary="Remove the event's image", responses=WRITE_ERRORS
)
def delete_event_image(
    event_id: EventId, access: ManageAccess, session: SessionDep, settings: SettingsDep
) -> DataResponse[EventOut]:
    event = service.remove_event_image(
        session, access=access, event_id=event_id, media_dir=settings.media_dir
    )
    return DataResponse(data=event_out(event, organization_slug=access.organization.slug))


# --- organizer: ticket types ---------------------------------------------------------


def _zone_of(session: SessionDep, access: OrgAccess, event_id: uuid.UUID) -> ZoneInfo:
    return ZoneInfo(service.get_event(session, access=access, event_id=event_id).timezone)


@organizer_router.get(
    "/{event_id}/ticket-types", summary="The event's ticket types", responses=READ_ERRORS
)
def list_ticket_types(
    event_id: EventId, access: ViewAccess, session: SessionDep
) -> ListResponse[TicketTypeOut]:
    ticket_types = service.list_ticket_types(session, access=access, event_id=event_id)
    zone = _zone_of(session, access, event_id)
    return ListResponse(
        data=[ticket_type_out(t, zone) for t in ticket_types], meta={"total": len(ticket_types)}
    )


@organizer_router.post(
    "/{event_id}/ticket-types",
    status_code=status.HTTP_201_CREATED,
    summary="Add a ticket type",
    responses=WRITE_ERRORS,
)
def create_ticket_type(
    event_id: EventId, body: TicketTypeIn, access: ManageAccess, session: SessionDep
) -> DataResponse[TicketTypeOut]:
    ticket_type = service.create_ticket_type(
        session, access=access, event_id=event_id, **body.model_dump()
    )
    return DataResponse(data=ticket_type_out(ticket_type, _zone_of(session, access, event_id)))


@organizer_router.get(
    "/{event_id}/ticket-types/{ticket_type_id}", summary="One ticket type", responses=READ_ERRORS
)
def get_ticket_type(
    event_id: EventId, ticket_type_id: TicketTypeId, access: ViewAccess, session: SessionDep
) -> DataResponse[TicketTypeOut]:
    ticket_type = service.get_ticket_type(
        session, access=access, event_id=event_id, ticket_type_id=ticket_type_id
    )
    return DataResponse(data=ticket_type_out(ticket_type, _zone_of(session, access, event_id)))


@organizer_router.patch(
    "/{event_id}/ticket-types/{ticket_type_id}",
    summary="Change a ticket type (capacity never below sold + held)",
    responses=WRITE_ERRORS,
)
def update_ticket_type(
    event_id: EventId,
    ticket_type_id: TicketTypeId,
    body: TicketTypePatch,
    access: ManageAccess,
    session: SessionDep,
) -> DataResponse[TicketTypeOut]:
    ticket_type = service.update_ticket_type(
        session,
        access=access,
        event_id=event_id,
        ticket_type_id=ticket_type_id,
        changes=body.changes(),
    )
    return DataResponse(data=ticket_type_out(ticket_type, _zone_of(session, access, event_id)))


@organizer_router.delete(
    "/{event_id}/ticket-types/{ticket_type_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a ticket type that never sold (deactivate it otherwise)",
    responses=WRITE_ERRORS,
)
def delete_ticket_type(
    event_id: EventId, ticket_type_id: TicketTypeId, access: ManageAccess, session: SessionDep
) -> Response:
    service.delete_ticket_type(
        session, access=access, event_id=event_id, ticket_type_id=ticket_type_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- public catalogue ----------------------------------------------------------------

_INSTANT = TypeAdapter(AwareDatetime)


def _parse_day_or_instant(name: str, value: str | None, *, end: bool) -> datetime | None:
    """A date (a whole day, UTC) or an aware ISO datetime; 422 otherwise."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            instant = datetime.combine(day + timedelta(days=1 if end else 0), time(), tzinfo=UTC)
        else:
            instant = _INSTANT.validate_python(value)
        return validators.aware_datetime(instant)
    except (ValueError, ValidationError, OverflowError):
        raise InvalidInput(
            errors=[
                {
                    "field": f"query.{name}",
                    "message": "expected a date (2026-06-21) or a datetime with an offset",
                }
            ]
        ) from None


@public_router.get(
    "",
    summary="Search upcoming published events",
    responses=error_responses(422),
)
def search_events(
    session: SessionDep,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Words in title, description, venue or city"),
    ] = None,
    category: Annotated[Category | None, Query()] = None,
    city: Annotated[
        str | None, Query(max_length=100, pattern=r"^[^\x00]*$", description="Case-insensitive")
    ] = None,
    date_from: Annotated[
        str | None, Query(max_length=40, description="Events still running from this date")
    ] = None,
    date_to: Annotated[
        str | None, Query(max_length=40, description="Events starting up to this date (inclusive)")
    ] = None,
    price_min: Annotated[int | None, Query(ge=0, le=100_000_000)] = None,
    price_max: Annotated[int | None, Query(ge=0, le=100_000_000)] = None,
    sort: Annotated[catalogue.CatalogueSort, Query()] = catalogue.CatalogueSort.date,
    page: Page = 1,
    per_page: PerPage = 20,
) -> ListResponse[CatalogueEventOut]:
    filters = catalogue.CatalogueFilters(
        q=q,
        category=category,
        city=city,
        date_from=_parse_day_or_instant("date_from", date_from, end=False),
        date_to=_parse_day_or_instant("date_to", date_to, end=True),
        price_min=price_min,
        price_max=price_max,
    )
    result = catalogue.search_catalogue(
        session, filters=filters, sort=sort, page=page, per_page=per_page
    )
    facets = CatalogueFacets(
        **{
            name: [FacetCount(value=value, count=count) for value, count in counts]
            for name, counts in result.facets.items()
        }
    )
    return ListResponse(
        data=[CatalogueEventOut(**_catalogue_fields(entry)) for entry in result.entries],
        meta=page_meta(
            page=page, per_page=per_page, total=result.total, facets=facets.model_dump()
        ),
    )


@public_router.get(
    "/{id_or_slug}",
    summary="One published event with its ticket types and live availability",
    responses=error_responses(404, 422),
)
def get_public_event(
    id_or_slug: Annotated[str, Path(max_length=100)], session: SessionDep
) -> DataResponse[PublicEventOut]:
    entry = catalogue.get_public_event(session, id_or_slug=id_or_slug)
    return DataResponse(data=public_event_out(entry))
