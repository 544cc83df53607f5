"""What an order may buy now: the sale terms of an event and of the ticket types asked
for, read in one query (columns only, statements built once: they run on every order
of a sale), and the checks a new order must pass before any seat is taken.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Uuid, and_, bindparam, select
from sqlalchemy.orm import Session

from admitone.db_direct import DirectStatement, execute_direct
from admitone.events.errors import EventNotFound, TicketTypeNotFound
from admitone.events.models import Event, EventStatus, TicketType
from admitone.orders.errors import (
    EventNotPublished,
    LimitExceeded,
    SalesClosed,
    SalesNotOpen,
    TicketTypeInactive,
)

# orders.total_minor is a 32-bit integer column.
MAX_TOTAL_MINOR = 2_000_000_000


@dataclass(frozen=True, slots=True)
class EventOnSale:
    """What selling needs of an event."""

    id: uuid.UUID
    organization_id: uuid.UUID
    status: EventStatus
    currency: str
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class TicketTypeOnSale:
    """What selling needs of a ticket type: its terms, not its counters."""

    id: uuid.UUID
    name: str
    price_minor: int
    is_active: bool
    sales_start: datetime | None
    sales_end: datetime | None
    min_per_order: int
    max_per_order: int
    max_per_buyer: int | None


@functools.lru_cache(maxsize=32)
def _sale_terms(type_count: int) -> DirectStatement:
    """The event and ``type_count`` of its ticket types (parameters ``event_id``,
    ``type_0``...): declared once per count, columns only. It runs for every order of a
    sale, and building a statement or loading whole entities costs more than the query
    (docs/hot-path.md)."""
    return DirectStatement(
        select(
            Event.id.label("event_id"),
            Event.organization_id,
            Event.status,
            Event.currency,
            Event.ends_at,
            *(
                getattr(TicketType, field).label(f"type_{field}")
                for field in TicketTypeOnSale.__slots__
            ),
        )
        .outerjoin(
            TicketType,
            and_(
                TicketType.event_id == Event.id,
                TicketType.id.in_(
                    [bindparam(f"type_{i}", type_=Uuid()) for i in range(type_count)]
                ),
            ),
        )
        .where(Event.id == bindparam("event_id"))
    )


# Declared when this module is imported, so a statement the direct path cannot run fails
# here; the other counts are the same statement with more parameters.
_sale_terms(1)


def load_for_sale(
    session: Session, *, event_id: uuid.UUID, quantities: dict[uuid.UUID, int]
) -> tuple[EventOnSale, dict[uuid.UUID, TicketTypeOnSale]]:
    """The event and the requested ticket types of it, in one query."""
    type_ids = {f"type_{i}": type_id for i, type_id in enumerate(quantities)}
    rows = execute_direct(
        session, _sale_terms(len(type_ids)), {"event_id": event_id, **type_ids}
    ).all()
    if not rows:
        raise EventNotFound(event_id=str(event_id))
    first = rows[0]
    event = EventOnSale(
        id=first.event_id,
        organization_id=first.organization_id,
        status=first.status,
        currency=first.currency,
        ends_at=first.ends_at,
    )
    ticket_types = {
        row.type_id: TicketTypeOnSale(
            *(getattr(row, f"type_{field}") for field in TicketTypeOnSale.__slots__)
        )
        for row in rows
        if row.type_id is not None
    }
    for ticket_type_id in sorted(quantities):
        if ticket_type_id not in ticket_types:
            raise TicketTypeNotFound(ticket_type_id=str(ticket_type_id))
    return event, ticket_types


def check_on_sale(
    event: EventOnSale,
    ticket_types: dict[uuid.UUID, TicketTypeOnSale],
    quantities: dict[uuid.UUID, int],
    *,
    now: datetime,
) -> int:
    """Raise the first reason these items cannot be sold now; the order total otherwise."""
    if event.status != EventStatus.published:
        raise EventNotPublished(status=str(event.status))
    total = 0
    for ticket_type_id in sorted(quantities):
        ticket_type = ticket_types[ticket_type_id]
        quantity = quantities[ticket_type_id]
        if not ticket_type.is_active:
            raise TicketTypeInactive(ticket_type_id=str(ticket_type_id))
        if ticket_type.sales_start is not None and now < ticket_type.sales_start:
            raise SalesNotOpen(
                ticket_type_id=str(ticket_type_id), sales_start=ticket_type.sales_start
            )
        # Without an explicit end, sales close when the event ends.
        sales_end = ticket_type.sales_end or event.ends_at
        if now >= sales_end:
            raise SalesClosed(ticket_type_id=str(ticket_type_id), sales_end=sales_end)
        if not ticket_type.min_per_order <= quantity <= ticket_type.max_per_order:
            raise LimitExceeded(
                ticket_type_id=str(ticket_type_id),
                requested=quantity,
                min_per_order=ticket_type.min_per_order,
                max_per_order=ticket_type.max_per_order,
            )
        total += quantity * ticket_type.price_minor
    if total > MAX_TOTAL_MINOR:
        raise LimitExceeded("The order total is too large.", max_total_minor=MAX_TOTAL_MINOR)
    return total
