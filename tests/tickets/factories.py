"""Paid orders and their tickets, inserted through the models.

The orders service moves stock and takes payments; these tests only need paid orders,
so they are written directly and ``tickets.service.issue_tickets`` issues the tickets,
exactly as the payment path does.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from admitone.accounts.models import User
from admitone.authorization import hash_order_token
from admitone.checkin.models import CheckinList, CheckinPresence
from admitone.db import Database, utcnow
from admitone.events.models import Category, Event, EventStatus, TicketType
from admitone.orders.models import Order, OrderItem, OrderStatus
from admitone.tickets import service as tickets
from admitone.tickets.models import Ticket
from tests.helpers import add_member, create_org, register


@dataclass
class EventInfo:
    id: uuid.UUID
    organization_id: uuid.UUID
    ticket_type_ids: list[uuid.UUID]


@dataclass
class PaidOrder:
    id: uuid.UUID
    code: str
    token: str
    ticket_ids: list[uuid.UUID]


def make_event(
    database: Database,
    *,
    organization_id: str | uuid.UUID,
    status: EventStatus = EventStatus.published,
    ticket_types: tuple[tuple[str, int], ...] = (("General", 100),),
    title: str = "Night Show",
    ask_attendee_names: bool = False,
) -> EventInfo:
    starts_at = utcnow() + timedelta(days=30)
    with database.session() as session:
        event = Event(
            organization_id=uuid.UUID(str(organization_id)),
            slug=f"event-{uuid.uuid4().hex[:12]}",
            title=title,
            category=Category.concert,
            venue_name="The Hall",
            city="Lyon",
            country="FR",
            timezone="Europe/Paris",
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=4),
            currency="EUR",
            status=status,
            published_at=utcnow() if status == EventStatus.published else None,
            ask_attendee_names=ask_attendee_names,
        )
        session.add(event)
        session.flush()
        types = [
            TicketType(
                event_id=event.id, name=name, price_minor=2500, capacity=capacity, position=index
            )
            for index, (name, capacity) in enumerate(ticket_types)
        ]
        session.add_all(types)
        session.flush()
        return EventInfo(
            id=event.id,
            organization_id=event.organization_id,
            ticket_type_ids=[ticket_type.id for ticket_type in types],
        )


def make_paid_order(
    database: Database,
    event: EventInfo,
    *,
    quantities: dict[uuid.UUID, int] | None = None,
    user_id: str | uuid.UUID | None = None,
    buyer_name: str = "Ada Lovelace",
) -> PaidOrder:
    """A paid order (of one General seat by default) and its issued tickets."""
    quantities = quantities or {event.ticket_type_ids[0]: 1}
    token = secrets.token_urlsafe(32)
    code = f"T{secrets.token_hex(5).upper()}"
    with database.session() as session:
        order = Order(
            code=code,
            organization_id=event.organization_id,
            event_id=event.id,
            user_id=uuid.UUID(str(user_id)) if user_id else None,
            buyer_name=buyer_name,
            buyer_email="buyer@example.com",
            access_token_hash=hash_order_token(token),
            status=OrderStatus.paid,
            currency="EUR",
            total_minor=2500 * sum(quantities.values()),
            expires_at=utcnow() + timedelta(minutes=15),
            paid_at=utcnow(),
        )
        session.add(order)
        session.flush()
        items = [
            OrderItem(
                order_id=order.id,
                ticket_type_id=ticket_type_id,
                quantity=quantity,
                unit_price_minor=2500,
            )
            for ticket_type_id, quantity in quantities.items()
        ]
        session.add_all(items)
        session.flush()
        issued = tickets.issue_tickets(session, order=order, items=items)
        return PaidOrder(
            id=order.id, code=code, token=token, ticket_ids=[ticket.id for ticket in issued]
        )


def refund_order(database: Database, order_id: uuid.UUID) -> int:
    """What a full refund does to tickets: the order is refunded, its tickets revoked."""
    with database.session() as session:
        session.execute(
            update(Order).where(Order.id == order_id).values(status=OrderStatus.refunded)
        )
        return tickets.revoke_tickets(session, order_id=order_id)


def ticket_row(database: Database, ticket_id: uuid.UUID | str) -> Ticket:
    with database.session(write=False) as session:
        return session.scalars(select(Ticket).where(Ticket.id == uuid.UUID(str(ticket_id)))).one()


def presence_row(
    database: Database, ticket_id: uuid.UUID | str, list_id: uuid.UUID | str | None = None
) -> CheckinPresence | None:
    """A ticket's presence on a check-in list (default: its event's default list)."""
    ticket = uuid.UUID(str(ticket_id))
    with database.session(write=False) as session:
        statement = select(CheckinPresence).where(CheckinPresence.ticket_id == ticket)
        if list_id is None:
            statement = statement.join(
                CheckinList, CheckinList.id == CheckinPresence.list_id
            ).where(CheckinList.default_for_event_id.is_not(None))
        else:
            statement = statement.where(CheckinPresence.list_id == uuid.UUID(str(list_id)))
        return session.scalars(statement).one_or_none()


def admitted_at(database: Database, ticket_id: uuid.UUID | str) -> Any:
    """When the ticket entered, if it is inside on its default list now (else None):
    what ``tickets.admitted_at`` said before check-in lists."""
    presence = presence_row(database, ticket_id)
    return presence.last_entry_at if presence is not None and presence.inside else None


def admitted_gate(database: Database, ticket_id: uuid.UUID | str) -> str | None:
    presence = presence_row(database, ticket_id)
    return presence.last_gate if presence is not None and presence.inside else None


def make_platform_admin(database: Database, user_id: str) -> None:
    """A platform admin who has a second factor (without one, an admin may only set one
    up: tests/twofactor); the flag is set directly, the factor itself is not needed here."""
    with database.session() as session:
        session.execute(
            update(User)
            .where(User.id == uuid.UUID(user_id))
            .values(is_platform_admin=True, two_factor_enabled=True)
        )


@dataclass
class World:
    """An organization running a published event with two ticket types, its team, a
    buyer with a paid order, and a second organization with its own event."""

    client: TestClient
    database: Database
    owner: dict[str, Any]
    org: dict[str, Any]
    event: EventInfo
    buyer: dict[str, Any]
    order: PaidOrder
    other_owner: dict[str, Any]
    other_org: dict[str, Any]
    other_event: EventInfo
    members: dict[str, dict[str, Any]] = field(default_factory=dict)

    def member(self, role: str) -> dict[str, Any]:
        """An account holding ``role`` in the event's organization (made on first use)."""
        if role not in self.members:
            account = register(self.client)
            add_member(self.client, self.owner["headers"], self.org["slug"], account["email"], role)
            self.members[role] = account
        return self.members[role]


def build_world(client: TestClient, database: Database) -> World:
    owner = register(client)
    org = create_org(client, owner["headers"])
    event = make_event(
        database, organization_id=org["id"], ticket_types=(("General", 100), ("VIP", 20))
    )
    buyer = register(client)
    order = make_paid_order(
        database,
        event,
        quantities={event.ticket_type_ids[0]: 2, event.ticket_type_ids[1]: 1},
        user_id=buyer["user"]["id"],
    )
    other_owner = register(client)
    other_org = create_org(client, other_owner["headers"])
    other_event = make_event(database, organization_id=other_org["id"], title="Other Show")
    return World(
        client=client,
        database=database,
        owner=owner,
        org=org,
        event=event,
        buyer=buyer,
        order=order,
        other_owner=other_owner,
        other_org=other_org,
        other_event=other_event,
    )
