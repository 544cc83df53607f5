"""Rows for orders and payments tests, inserted through the models.

An organization (with its owner's membership), a published event on sale and its ticket
types, in one call, so that a test states only what it is about (a capacity, a sales
window, an inactive type) without going through the organizer API each time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from admitone.accounts.models import User
from admitone.db import Database, utcnow
from admitone.events.models import Category, Event, EventStatus, TicketType
from admitone.orders.models import Order
from admitone.organizations.models import Membership, Organization, Role


@dataclass
class Shop:
    """An organization selling one event; ``ticket_type_ids[0]`` is the default type."""

    organization_id: uuid.UUID
    org_slug: str
    event_id: uuid.UUID
    ticket_type_ids: list[uuid.UUID] = field(default_factory=list)
    currency: str = "EUR"

    @property
    def ticket_type_id(self) -> uuid.UUID:
        return self.ticket_type_ids[0]


def make_organization(
    database: Database,
    *,
    owner_id: str | uuid.UUID | None = None,
    slug: str | None = None,
    verified: bool = True,
) -> tuple[uuid.UUID, str]:
    """An organization, owned by ``owner_id`` if given, verified by the platform unless
    told otherwise (docs/mail.md); returns (id, slug)."""
    slug = slug or f"org-{uuid.uuid4().hex[:10]}"
    with database.session() as session:
        organization = Organization(
            name=f"Org {slug}", slug=slug, verified_at=utcnow() if verified else None
        )
        session.add(organization)
        session.flush()
        if owner_id is not None:
            session.add(
                Membership(
                    organization_id=organization.id,
                    user_id=uuid.UUID(str(owner_id)),
                    role=Role.owner,
                )
            )
        return organization.id, slug


def make_event(
    database: Database,
    *,
    organization_id: uuid.UUID,
    status: EventStatus = EventStatus.published,
    currency: str = "EUR",
    starts_at: datetime | None = None,
) -> uuid.UUID:
    starts_at = starts_at or utcnow() + timedelta(days=30)
    with database.session() as session:
        event = Event(
            organization_id=organization_id,
            slug=f"event-{uuid.uuid4().hex[:12]}",
            title="Moonlight Jazz",
            category=Category.concert,
            venue_name="Le Caveau",
            city="Paris",
            country="FR",
            timezone="Europe/Paris",
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=3),
            currency=currency,
            status=status,
            published_at=utcnow() if status == EventStatus.published else None,
        )
        session.add(event)
        session.flush()
        return event.id


def make_ticket_type(
    database: Database,
    *,
    event_id: uuid.UUID,
    name: str = "Standing",
    price_minor: int = 2500,
    capacity: int = 20,
    **fields: Any,
) -> uuid.UUID:
    with database.session() as session:
        ticket_type = TicketType(
            event_id=event_id, name=name, price_minor=price_minor, capacity=capacity, **fields
        )
        session.add(ticket_type)
        session.flush()
        return ticket_type.id


def make_shop(
    database: Database,
    *,
    owner_id: str | uuid.UUID | None = None,
    capacity: int = 20,
    price_minor: int = 2500,
    currency: str = "EUR",
    status: EventStatus = EventStatus.published,
    verified: bool = True,
    **ticket_type_fields: Any,
) -> Shop:
    """An organization (owned by ``owner_id``), a published event and one ticket type."""
    organization_id, slug = make_organization(database, owner_id=owner_id, verified=verified)
    event_id = make_event(
        database, organization_id=organization_id, status=status, currency=currency
    )
    ticket_type_id = make_ticket_type(
        database,
        event_id=event_id,
        capacity=capacity,
        price_minor=price_minor,
        **ticket_type_fields,
    )
    return Shop(
        organization_id=organization_id,
        org_slug=slug,
        event_id=event_id,
        ticket_type_ids=[ticket_type_id],
        currency=currency,
    )


def add_ticket_type(database: Database, shop: Shop, **fields: Any) -> uuid.UUID:
    ticket_type_id = make_ticket_type(database, event_id=shop.event_id, **fields)
    shop.ticket_type_ids.append(ticket_type_id)
    return ticket_type_id


# --- reading and nudging state ---------------------------------------------------------


@dataclass(frozen=True)
class Counters:
    capacity: int
    sold: int
    held: int

    @property
    def available(self) -> int:
        return self.capacity - self.sold - self.held


def counters(database: Database, ticket_type_id: uuid.UUID | str) -> Counters:
    with database.session(write=False) as session:
        row = session.execute(
            select(TicketType.capacity, TicketType.quantity_sold, TicketType.quantity_held).where(
                TicketType.id == uuid.UUID(str(ticket_type_id))
            )
        ).one()
    return Counters(capacity=row[0], sold=row[1], held=row[2])


def expire_hold(
    database: Database, order_id: uuid.UUID | str, *, ago: timedelta | None = None
) -> None:
    """Move an order's expires_at into the past, as if its hold had run out."""
    with database.session() as session:
        session.execute(
            update(Order)
            .where(Order.id == uuid.UUID(str(order_id)))
            .values(expires_at=utcnow() - (ago or timedelta(seconds=1)))
        )


def set_event_status(database: Database, event_id: uuid.UUID, status: EventStatus) -> None:
    with database.session() as session:
        session.execute(update(Event).where(Event.id == event_id).values(status=status))


def set_ticket_type(database: Database, ticket_type_id: uuid.UUID, **values: Any) -> None:
    with database.session() as session:
        session.execute(update(TicketType).where(TicketType.id == ticket_type_id).values(**values))


def make_user(database: Database, *, full_name: str = "Ada Lovelace") -> uuid.UUID:
    """An account with no usable password (service-level tests that need a user row)."""
    with database.session() as session:
        user = User(email=f"user-{uuid.uuid4().hex[:12]}@example.org", password_hash="!")
        user.full_name = full_name
        session.add(user)
        session.flush()
        return user.id
