"""The public catalogue: published events anyone may browse, search and open.

Read-only; lives beside ``service.py`` because it answers to anonymous visitors, not to
an organization, and sees only what ``queries.public_events`` lets through.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnExpressionArgument, Select, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from admitone.accounts.models import User
from admitone.authorization import Permission, checked_access
from admitone.db import utcnow
from admitone.errors import PermissionDenied
from admitone.events import queries, search, stock
from admitone.events.errors import EventNotFound
from admitone.events.models import Category, Event, EventStatus, TicketType

# The columns of a statement, kept through the catalogue filters.
Columns = TypeVarTuple("Columns")

SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


class CatalogueSort(StrEnum):
    date = "date"
    date_desc = "-date"
    price = "price"
    price_desc = "-price"


@dataclass(frozen=True)
class CatalogueFilters:
    q: str | None = None
    category: Category | None = None
    city: str | None = None
    # Events that overlap [date_from, date_to): a festival already running still shows.
    date_from: datetime | None = None
    date_to: datetime | None = None
    price_min: int | None = None
    price_max: int | None = None


@dataclass(frozen=True)
class CatalogueEntry:
    event: Event
    price_from: int | None
    # Seats on sale per ticket type: capacity - sold - live holds (a hold past its expiry
    # no longer counts, even before the sweep has released it).
    availability: dict[uuid.UUID, int] = field(default_factory=dict)

    def available(self, ticket_type: TicketType) -> int:
        return self.availability.get(ticket_type.id, ticket_type.available)


@dataclass(frozen=True)
class CataloguePage:
    entries: list[CatalogueEntry]
    total: int
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


def _conditions(
    filters: CatalogueFilters,
    *,
    terms: list[str],
    dialect: str,
    price_from: Any,
    now: datetime,
    ignore: str | None = None,
) -> list[Any]:
    """The WHERE terms of a catalogue query; ``ignore`` leaves one filter out (facets)."""
    conditions: list[Any] = [Event.status == EventStatus.published, Event.ends_at > now]
    if terms:
        conditions.append(search.match_events(dialect, terms))
    if filters.category is not None and ignore != "category":
        conditions.append(Event.category == filters.category)
    if filters.city and ignore != "city":
        conditions.append(func.lower(Event.city) == func.lower(filters.city))
    if filters.date_from is not None:
        conditions.append(Event.ends_at > filters.date_from)
    if filters.date_to is not None:
        conditions.append(Event.starts_at < filters.date_to)
    if filters.price_min is not None:
        conditions.append(price_from >= filters.price_min)
    if filters.price_max is not None:
        conditions.append(price_from <= filters.price_max)
    return conditions


def _order_by(sort: CatalogueSort, price_from: Any) -> list[ColumnExpressionArgument[Any]]:
    if sort == CatalogueSort.date_desc:
        return [Event.starts_at.desc(), Event.id]
    if sort == CatalogueSort.price:
        return [price_from.asc().nulls_last(), Event.starts_at, Event.id]
    if sort == CatalogueSort.price_desc:
        return [price_from.desc().nulls_last(), Event.starts_at, Event.id]
    return [Event.starts_at, Event.id]


def search_catalogue(
    session: Session,
    *,
    filters: CatalogueFilters,
    sort: CatalogueSort = CatalogueSort.date,
    page: int = 1,
    per_page: int = 20,
    now: datetime | None = None,
) -> CataloguePage:
    """Published events that have not ended, filtered, sorted and paged, with facets.

    Facets are disjunctive: the category counts ignore the category filter and the city
    counts ignore the city filter, so a visitor sees what choosing another would give.
    """
    now = now or utcnow()
    dialect = session.get_bind().dialect.name
    terms = search.search_terms(filters.q or "")
    prices = queries.cheapest_active_prices().subquery()
    price_from = prices.c.price_from

    def scoped(statement: Select[*Columns], ignore: str | None = None) -> Select[*Columns]:
        return statement.outerjoin(prices, prices.c.event_id == Event.id).where(
            *_conditions(
                filters, terms=terms, dialect=dialect, price_from=price_from, now=now, ignore=ignore
            )
        )

    total = session.scalar(scoped(select(func.count(Event.id)).select_from(Event))) or 0
    rows = session.execute(
        scoped(select(Event, price_from))
        .options(joinedload(Event.organization), selectinload(Event.ticket_types))
        .order_by(*_order_by(sort, price_from))
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()

    category_counts = session.execute(
        scoped(
            select(Event.category, func.count(Event.id)).select_from(Event), "category"
        ).group_by(Event.category)
    ).all()
    city_key = func.lower(Event.city)
    city_counts = session.execute(
        scoped(
            select(func.min(Event.city), func.count(Event.id)).select_from(Event), "city"
        ).group_by(city_key)
    ).all()

    def ranked(counts: Any) -> list[tuple[str, int]]:
        return sorted(((str(value), count) for value, count in counts), key=lambda c: (-c[1], c[0]))

    availability = stock.live_availability(
        session, now=now, ticket_type_ids=[t.id for event, _ in rows for t in event.ticket_types]
    )
    return CataloguePage(
        entries=[
            CatalogueEntry(event=event, price_from=price, availability=availability)
            for event, price in rows
        ],
        total=total,
        facets={"category": ranked(category_counts), "city": ranked(city_counts)},
    )


def get_public_event(session: Session, *, id_or_slug: str) -> CatalogueEntry:
    """A published or cancelled event by id or slug, with its active ticket types.

    Drafts are 404 here. The counters are read now, from the primary: live availability.
    """
    event = _find(session, queries.public_events(), id_or_slug)
    if event is None:
        raise EventNotFound()
    return _entry(session, event)


def get_draft_preview(session: Session, *, id_or_slug: str, user: User) -> CatalogueEntry:
    """A draft event as buyers will see it, for the members of its organization who may
    view events (``authorization.checked_access``; a platform admin too); anyone else
    gets the same 404 as for a draft anywhere (``EventNotFound``), so drafts do not leak.
    Read-only; the caller shows it as a preview, with no way to buy (``is_on_sale`` is
    false for a draft anyway)."""
    event = _find(session, queries.draft_events(), id_or_slug)
    if event is None:
        raise EventNotFound()
    member_role = session.scalar(queries.member_role(event.organization_id, user.id))
    try:
        checked_access(
            event.organization,
            member_role,
            user=user,
            permission=Permission.view_events,
            not_found=EventNotFound,
        )
    except PermissionDenied:
        raise EventNotFound() from None
    return _entry(session, event)


def _find(session: Session, statement: Select[Event], id_or_slug: str) -> Event | None:
    statement = statement.options(joinedload(Event.organization), selectinload(Event.ticket_types))
    try:
        statement = statement.where(Event.id == uuid.UUID(id_or_slug))
    except ValueError:
        # Anything that cannot be a slug is not looked up at all (NUL bytes, huge input).
        if not SLUG_PATTERN.fullmatch(id_or_slug):
            return None
        statement = statement.where(Event.slug == id_or_slug)
    return session.scalar(statement)


def _entry(session: Session, event: Event) -> CatalogueEntry:
    active = [ticket_type for ticket_type in event.ticket_types if ticket_type.is_active]
    return CatalogueEntry(
        event=event,
        price_from=min((t.price_minor for t in active), default=None),
        availability=stock.live_availability(session, now=utcnow(), event_id=event.id),
    )


def is_on_sale(
    event: Event,
    ticket_type: TicketType,
    *,
    now: datetime | None = None,
    available: int | None = None,
) -> bool:
    """Whether a buyer could order this ticket type right now."""
    now = now or utcnow()
    return (
        event.status == EventStatus.published
        and event.ends_at > now
        and ticket_type.is_active
        and (ticket_type.available if available is None else available) > 0
        and (ticket_type.sales_start is None or ticket_type.sales_start <= now)
        and (ticket_type.sales_end is None or now < ticket_type.sales_end)
    )
