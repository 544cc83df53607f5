"""Events and ticket types as an organizer manages them.

Every function takes the caller's ``OrgAccess`` (checked by the route or the caller) and
reaches rows only through the scoped builders of ``queries.py``. State transitions
(publish, cancel) and capacity changes are conditional UPDATEs whose row count is
checked, so they stay right under concurrent requests and concurrent sales.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from admitone import slugs
from admitone.authorization import OrgAccess
from admitone.db import utcnow
from admitone.errors import InvalidInput
from admitone.events import images, queries, validators
from admitone.events.errors import (
    CapacityBelowSold,
    EventAlreadyCancelled,
    EventCancelled,
    EventHasSales,
    EventNotDraft,
    EventNotFound,
    EventNotPublishable,
    EventSlugTaken,
    TicketTypeHasSales,
    TicketTypeNotFound,
)
from admitone.events.models import (
    OFFLINE_TICKET_LIMIT,
    Category,
    Event,
    EventStatus,
    TicketType,
)
from admitone.orders.event_cancellation import cancel_event_orders

SLUG_MAX = 80
# Attributes a PATCH may change, with the check each value must pass.
EVENT_FIELDS = frozenset(
    {
        "title",
        "slug",
        "description",
        "category",
        "venue_name",
        "venue_address",
        "city",
        "country",
        "starts_at",
        "ends_at",
        "timezone",
        "currency",
        "ask_attendee_names",
        "offline_ticket_limit",
    }
)
TICKET_TYPE_FIELDS = frozenset(
    {
        "name",
        "description",
        "price_minor",
        "vat_rate_bp",
        "capacity",
        "sales_start",
        "sales_end",
        "min_per_order",
        "max_per_order",
        "max_per_buyer",
        "is_active",
        "position",
    }
)


# --- helpers -------------------------------------------------------------------------


def slugify(text: str) -> str:
    """A URL slug from a title: ASCII letters, digits and single dashes."""
    return slugs.slugify(text, fallback="event")


def _unique_slug(session: Session, base: str) -> str:
    taken = set(
        session.scalars(
            select(Event.slug).where((Event.slug == base) | Event.slug.like(f"{base}-%"))
        )
    )
    if _looks_like_uuid(base):
        taken.add(base)  # an event is also found by its id: a slug must not look like one
    return slugs.first_free(base, taken)


def _looks_like_uuid(value: str) -> bool:
    try:
        validators.event_slug(value)
    except ValueError:
        return True
    return False


def _slug_is_taken(session: Session, slug: str, *, except_id: uuid.UUID | None = None) -> bool:
    statement = select(Event.id).where(Event.slug == slug)
    if except_id is not None:
        statement = statement.where(Event.id != except_id)
    return session.scalar(statement) is not None


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(errors=[{"field": field, "message": message}])


def _check(field: str, check: Any, value: Any) -> Any:
    try:
        return check(value)
    except ValueError as exc:
        raise _invalid(field, str(exc)) from None


def _check_event_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Normalised values; InvalidInput naming the field otherwise (the schemas check first)."""
    checks = {
        "timezone": validators.time_zone,
        "currency": validators.currency,
        "country": validators.country,
        "starts_at": validators.aware_datetime,
        "ends_at": validators.aware_datetime,
        "slug": validators.event_slug,
        "category": Category,
        "offline_ticket_limit": validators.offline_ticket_limit,
    }
    return {
        name: _check(name, checks[name], value) if name in checks else value
        for name, value in values.items()
    }


def _event_has_sales(session: Session, event_id: uuid.UUID) -> bool:
    # Lock the ticket types first: a concurrent hold then waits for us (PostgreSQL; a
    # SQLite writer holds the database lock already).
    counters = session.execute(
        select(TicketType.quantity_sold, TicketType.quantity_held)
        .where(TicketType.event_id == event_id)
        .order_by(TicketType.id)
        .with_for_update()
    ).all()
    if any(sold + held > 0 for sold, held in counters):
        return True
    return bool(session.scalar(queries.event_has_orders(event_id)))


def _ensure_not_cancelled(event: Event) -> None:
    if event.status == EventStatus.cancelled:
        raise EventCancelled()


# --- events --------------------------------------------------------------------------


def get_event(session: Session, *, access: OrgAccess, event_id: uuid.UUID) -> Event:
    """The organization's event with its ticket types; 404 for anyone else's."""
    event = session.scalar(
        queries.events_of(access.organization.id)
        .where(Event.id == event_id)
        .options(selectinload(Event.ticket_types))
        .execution_options(populate_existing=True)
    )
    if event is None:
        raise EventNotFound()
    return event


def list_events(
    session: Session,
    *,
    access: OrgAccess,
    status: EventStatus | None = None,
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[Event], int]:
    """One page of the organization's events (soonest first) and their total."""
    statement = queries.events_of(access.organization.id)
    if status is not None:
        statement = statement.where(Event.status == status)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    events = session.scalars(
        statement.options(selectinload(Event.ticket_types))
        .order_by(Event.starts_at, Event.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return list(events), total


def latest_event_choices(session: Session, *, access: OrgAccess) -> tuple[str, str, str] | None:
    """(time zone, country, currency) of the organization's newest event: the choices a
    new event's form offers first; None before its first event."""
    row = session.execute(
        select(Event.timezone, Event.country, Event.currency)
        .where(Event.organization_id == access.organization.id)
        .order_by(Event.created_at.desc(), Event.id)
        .limit(1)
    ).first()
    return (row.timezone, row.country, row.currency) if row else None


def create_event(
    session: Session,
    *,
    access: OrgAccess,
    title: str,
    category: Category,
    venue_name: str,
    city: str,
    country: str,
    starts_at: datetime,
    ends_at: datetime,
    timezone: str,
    currency: str,
    slug: str | None = None,
    description: str = "",
    venue_address: str = "",
    ask_attendee_names: bool = False,
    offline_ticket_limit: int = OFFLINE_TICKET_LIMIT,
) -> Event:
    """Create a draft event; its slug is globally unique (generated from the title if absent)."""
    values = _check_event_values(
        {
            "title": title,
            "category": category,
            "venue_name": venue_name,
            "venue_address": venue_address,
            "city": city,
            "country": country,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "timezone": timezone,
            "currency": currency,
            "description": description,
            "ask_attendee_names": ask_attendee_names,
            "offline_ticket_limit": offline_ticket_limit,
        }
    )
    if values["ends_at"] <= values["starts_at"]:
        raise _invalid("ends_at", "ends_at must be after starts_at")
    if slug is None:
        slug = _unique_slug(session, slugify(title))
    else:
        slug = _check("slug", validators.event_slug, slug)
        if _slug_is_taken(session, slug):
            raise EventSlugTaken(slug=slug)
    event = Event(organization_id=access.organization.id, slug=slug, **values)
    session.add(event)
    session.flush()
    return get_event(session, access=access, event_id=event.id)


def update_event(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, changes: Mapping[str, Any]
) -> Event:
    """Change an event's fields (model attribute names); end stays after start.

    A cancelled event is frozen; the currency cannot change once the event has sales.
    """
    unknown = set(changes) - EVENT_FIELDS
    if unknown:
        raise _invalid(sorted(unknown)[0], "cannot be changed")
    event = get_event(session, access=access, event_id=event_id)
    _ensure_not_cancelled(event)
    values = _check_event_values(changes)
    starts_at = values.get("starts_at", event.starts_at)
    ends_at = values.get("ends_at", event.ends_at)
    if ends_at <= starts_at:
        raise _invalid("ends_at", "ends_at must be after starts_at")
    if "slug" in values and _slug_is_taken(session, values["slug"], except_id=event.id):
        raise EventSlugTaken(slug=values["slug"])
    if (
        "currency" in values
        and values["currency"] != event.currency
        and _event_has_sales(session, event.id)
    ):
        raise EventHasSales("The currency cannot change once tickets are sold or held.")
    for name, value in values.items():
        setattr(event, name, value)
    session.flush()
    return get_event(session, access=access, event_id=event.id)


def delete_event(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, media_dir: Path
) -> None:
    """Delete an event and its ticket types; refused once anything was sold, held or ordered."""
    event = get_event(session, access=access, event_id=event_id)
    if _event_has_sales(session, event.id):
        raise EventHasSales()
    session.execute(delete(TicketType).where(TicketType.event_id == event.id))
    session.execute(delete(Event).where(Event.id == event.id))
    session.flush()
    if event.image_path:
        images.delete_image_after_commit(session, relative=event.image_path, media_dir=media_dir)
    # The rows are gone (bulk deletes); forget their stale objects.
    for ticket_type in event.ticket_types:
        session.expunge(ticket_type)
    session.expunge(event)


# What a copy takes from its original; the rest (status, dates of publication, counters,
# slug, image file) is the copy's own.
_COPIED_EVENT_FIELDS = (
    "title",
    "description",
    "category",
    "venue_name",
    "venue_address",
    "city",
    "country",
    "timezone",
    "starts_at",
    "ends_at",
    "currency",
    "ask_attendee_names",
    "offline_ticket_limit",
)
_COPIED_TICKET_TYPE_FIELDS = tuple(sorted(TICKET_TYPE_FIELDS))


def duplicate_event(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, media_dir: Path
) -> Event:
    """A new draft copy of one of the organization's events (any status), with copies of
    its ticket types, nothing sold or held, and a new slug (the original's with a number).

    The image file is copied too, so that changing or deleting either event's image
    leaves the other's alone (a new file removed again if the unit of work rolls back).
    Orders, tickets and signing keys are never copied. No lock: only new rows.
    """
    original = get_event(session, access=access, event_id=event_id)
    copy = Event(
        organization_id=access.organization.id,
        slug=_unique_slug(session, original.slug[: SLUG_MAX - 10].strip("-") or "event"),
        status=EventStatus.draft,
        **{name: getattr(original, name) for name in _COPIED_EVENT_FIELDS},
    )
    if original.image_path:
        source = media_dir / original.image_path
        if source.resolve().parent == (media_dir / images.MEDIA_SUBDIR).resolve() and (
            source.is_file()
        ):
            copy.image_path = images.store_image(
                session,
                data=source.read_bytes(),
                extension=source.suffix.lstrip("."),
                media_dir=media_dir,
            )
    session.add(copy)
    session.flush()
    for ticket_type in original.ticket_types:
        session.add(
            TicketType(
                event_id=copy.id,
                **{name: getattr(ticket_type, name) for name in _COPIED_TICKET_TYPE_FIELDS},
            )
        )
    session.flush()
    return get_event(session, access=access, event_id=copy.id)


def publish_event(session: Session, *, access: OrgAccess, event_id: uuid.UUID) -> Event:
    """draft -> published, with at least one active ticket type and a start in the future."""
    event = get_event(session, access=access, event_id=event_id)
    if event.status != EventStatus.draft:
        raise EventNotDraft(status=str(event.status))
    reasons = []
    if not any(ticket_type.is_active for ticket_type in event.ticket_types):
        reasons.append("no_active_ticket_type")
    now = utcnow()
    if event.starts_at <= now:
        reasons.append("starts_in_the_past")
    if reasons:
        raise EventNotPublishable(reasons=reasons)
    published = cast(
        CursorResult[Any],
        session.execute(
            update(Event)
            .where(Event.id == event.id, Event.status == EventStatus.draft)
            .values(status=EventStatus.published, published_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    if published.rowcount != 1:
        raise EventNotDraft()
    return get_event(session, access=access, event_id=event.id)


def cancel_event(session: Session, *, access: OrgAccess, event_id: uuid.UUID) -> Event:
    """draft or published -> cancelled (once: a concurrent second cancel gets a 409)."""
    event = get_event(session, access=access, event_id=event_id)
    now = utcnow()
    cancelled = cast(
        CursorResult[Any],
        session.execute(
            update(Event)
            .where(
                Event.id == event.id,
                Event.status.in_([EventStatus.draft, EventStatus.published]),
            )
            .values(status=EventStatus.cancelled, cancelled_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    if cancelled.rowcount != 1:
        raise EventAlreadyCancelled()
    # Pending orders are cancelled now (their holds released); paid ones are refunded
    # by a job, and their buyers told once refunded.
    cancel_event_orders(session, event_id=event.id, now=now)
    return get_event(session, access=access, event_id=event.id)


def set_event_image(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    data: bytes,
    media_dir: Path,
    max_bytes: int,
) -> Event:
    """Store a checked JPEG, PNG or WebP as the event's image; the old file goes on commit."""
    event = get_event(session, access=access, event_id=event_id)
    extension = images.check_image(data, max_bytes=max_bytes)
    old_path = event.image_path
    event.image_path = images.store_image(
        session, data=data, extension=extension, media_dir=media_dir
    )
    session.flush()
    if old_path:
        images.delete_image_after_commit(session, relative=old_path, media_dir=media_dir)
    return event


def remove_event_image(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, media_dir: Path
) -> Event:
    """Drop the event's image (the file goes once the change commits)."""
    event = get_event(session, access=access, event_id=event_id)
    if event.image_path:
        images.delete_image_after_commit(session, relative=event.image_path, media_dir=media_dir)
        event.image_path = None
        session.flush()
    return event


# --- ticket types --------------------------------------------------------------------


def get_ticket_type(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, ticket_type_id: uuid.UUID
) -> TicketType:
    """One ticket type of the organization's event; 404 for anyone else's."""
    ticket_type = session.scalar(
        queries.ticket_types_of(access.organization.id, event_id)
        .where(TicketType.id == ticket_type_id)
        .execution_options(populate_existing=True)
    )
    if ticket_type is None:
        raise TicketTypeNotFound()
    return ticket_type


def list_ticket_types(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID
) -> list[TicketType]:
    """The event's ticket types in display order."""
    get_event(session, access=access, event_id=event_id)
    return list(
        session.scalars(
            queries.ticket_types_of(access.organization.id, event_id).order_by(
                TicketType.position, TicketType.created_at, TicketType.id
            )
        )
    )


def _check_ticket_type_values(
    *,
    sales_start: datetime | None,
    sales_end: datetime | None,
    min_per_order: int,
    max_per_order: int,
) -> None:
    for name, value in (("sales_start", sales_start), ("sales_end", sales_end)):
        if value is not None:
            _check(name, validators.aware_datetime, value)
    if sales_start is not None and sales_end is not None and sales_end <= sales_start:
        raise _invalid("sales_end", "sales_end must be after sales_start")
    if max_per_order < min_per_order:
        raise _invalid("max_per_order", "max_per_order must be at least min_per_order")


def create_ticket_type(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    name: str,
    price_minor: int,
    capacity: int,
    vat_rate_bp: int = 0,
    description: str = "",
    sales_start: datetime | None = None,
    sales_end: datetime | None = None,
    min_per_order: int = 1,
    max_per_order: int = 10,
    max_per_buyer: int | None = None,
    is_active: bool = True,
    position: int = 0,
) -> TicketType:
    """Add a ticket type to an event that is not cancelled; nothing is sold yet."""
    event = get_event(session, access=access, event_id=event_id)
    _ensure_not_cancelled(event)
    if price_minor < 0:
        raise _invalid("price_minor", "must not be negative")
    if capacity < 0:
        raise _invalid("capacity", "must not be negative")
    _check_ticket_type_values(
        sales_start=sales_start,
        sales_end=sales_end,
        min_per_order=min_per_order,
        max_per_order=max_per_order,
    )
    ticket_type = TicketType(
        event_id=event.id,
        name=name,
        description=description,
        price_minor=price_minor,
        vat_rate_bp=vat_rate_bp,
        capacity=capacity,
        sales_start=sales_start,
        sales_end=sales_end,
        min_per_order=min_per_order,
        max_per_order=max_per_order,
        max_per_buyer=max_per_buyer,
        is_active=is_active,
        position=position,
    )
    session.add(ticket_type)
    session.flush()
    return ticket_type


def update_ticket_type(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    changes: Mapping[str, Any],
) -> TicketType:
    """Change a ticket type; its capacity never drops below what is sold plus held.

    The capacity is written with ``UPDATE ... WHERE quantity_sold + quantity_held <=
    :capacity``: a sale committed meanwhile is seen by that condition (PostgreSQL
    re-checks the locked row; a SQLite writer holds the database lock), so the check
    and the write cannot be split by a concurrent hold.
    """
    unknown = set(changes) - TICKET_TYPE_FIELDS
    if unknown:
        raise _invalid(sorted(unknown)[0], "cannot be changed")
    event = get_event(session, access=access, event_id=event_id)
    _ensure_not_cancelled(event)
    ticket_type = get_ticket_type(
        session, access=access, event_id=event_id, ticket_type_id=ticket_type_id
    )
    merged = {name: changes.get(name, getattr(ticket_type, name)) for name in TICKET_TYPE_FIELDS}
    if merged["price_minor"] < 0:
        raise _invalid("price_minor", "must not be negative")
    if merged["capacity"] < 0:
        raise _invalid("capacity", "must not be negative")
    _check_ticket_type_values(
        sales_start=merged["sales_start"],
        sales_end=merged["sales_end"],
        min_per_order=merged["min_per_order"],
        max_per_order=merged["max_per_order"],
    )
    for name, value in changes.items():
        if name != "capacity":
            setattr(ticket_type, name, value)
    session.flush()
    if "capacity" in changes and changes["capacity"] != ticket_type.capacity:
        capacity = changes["capacity"]
        resized = cast(
            CursorResult[Any],
            session.execute(
                update(TicketType)
                .where(
                    TicketType.id == ticket_type.id,
                    TicketType.quantity_sold + TicketType.quantity_held <= capacity,
                )
                .values(capacity=capacity, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            ),
        )
        if resized.rowcount != 1:
            current = get_ticket_type(
                session, access=access, event_id=event_id, ticket_type_id=ticket_type_id
            )
            raise CapacityBelowSold(
                capacity=capacity, sold=current.quantity_sold, held=current.quantity_held
            )
    return get_ticket_type(session, access=access, event_id=event_id, ticket_type_id=ticket_type_id)


def deletable_ticket_type_ids(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID
) -> set[uuid.UUID]:
    """The event's ticket types that ``delete_ticket_type`` would delete now: nothing sold
    or held, in no order (the same conditions, read without a lock: a page's hint; the
    delete checks them again)."""
    return set(
        session.scalars(
            queries.ticket_types_of(access.organization.id, event_id)
            .with_only_columns(TicketType.id)
            .where(
                TicketType.quantity_sold == 0,
                TicketType.quantity_held == 0,
                ~queries.ticket_type_in_an_order(),
            )
        )
    )


def delete_ticket_type(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, ticket_type_id: uuid.UUID
) -> None:
    """Delete a ticket type that never sold, held or appeared in an order."""
    ticket_type = get_ticket_type(
        session, access=access, event_id=event_id, ticket_type_id=ticket_type_id
    )
    # Conditional on the counters, so a hold taken meanwhile keeps the row.
    deleted = cast(
        CursorResult[Any],
        session.execute(
            delete(TicketType)
            .where(
                TicketType.id == ticket_type.id,
                TicketType.quantity_sold == 0,
                TicketType.quantity_held == 0,
                ~queries.ticket_type_has_orders(ticket_type.id).scalar_subquery(),
            )
            .execution_options(synchronize_session=False)
        ),
    )
    if deleted.rowcount != 1:
        raise TicketTypeHasSales(sold=ticket_type.quantity_sold, held=ticket_type.quantity_held)
    session.expunge(ticket_type)
