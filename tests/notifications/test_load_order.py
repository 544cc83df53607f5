"""load_order's one statement (issue 15): the same lines and tickets, in the same order,
as the separate queries it replaced; the marker's check that send_once makes with it."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from admitone.db import Database
from admitone.events.models import TicketType
from admitone.notifications import service
from admitone.notifications.service import Kind, record_delivery, withheld
from admitone.orders.models import OrderItem
from admitone.tickets.models import Ticket
from tests.factories import add_ticket_type, make_shop
from tests.orders.helpers import buy


def _separately(session: Session, order_id: uuid.UUID) -> tuple[list[Any], list[Any]]:
    """The lines and tickets as load_order read them before: a query each."""
    lines = session.execute(
        select(OrderItem.id, TicketType.id)
        .join(TicketType, TicketType.id == OrderItem.ticket_type_id)
        .where(OrderItem.order_id == order_id)
        .order_by(TicketType.position, TicketType.name, OrderItem.id)
    ).all()
    tickets = session.execute(
        select(Ticket.id, TicketType.id)
        .join(TicketType, TicketType.id == Ticket.ticket_type_id)
        .where(Ticket.order_id == order_id)
        .order_by(TicketType.position, Ticket.created_at, Ticket.id)
    ).all()
    return [tuple(row) for row in lines], [tuple(row) for row in tickets]


def test_lines_and_tickets_as_the_separate_queries_gave_them(
    client: TestClient, clean_database: Database
) -> None:
    shop = make_shop(clean_database, capacity=20, price_minor=2500, name="Standing")
    # Same position as the first type (its tickets interleave by issue time), then before.
    add_ticket_type(clean_database, shop, name="Balcony", price_minor=3000, position=0)
    add_ticket_type(clean_database, shop, name="Front", price_minor=5000, position=-1)
    quantities = (2, 3, 1)
    order = buy(
        client,
        shop,
        items=[
            {"ticket_type_id": str(type_id), "quantity": quantity}
            for type_id, quantity in zip(shop.ticket_type_ids, quantities, strict=True)
        ],
    )
    order_id = uuid.UUID(order["id"])

    with clean_database.session(write=False) as session:
        bundle = service.load_order(session, order_id)
        assert bundle is not None
        lines, tickets = _separately(session, order_id)
    assert [(item.id, ticket_type.id) for item, ticket_type in bundle.lines] == lines
    assert [(ticket.id, ticket_type.id) for ticket, ticket_type in bundle.tickets] == tickets
    assert len(bundle.tickets) == sum(quantities)
    assert all(ticket.ticket_type_id == ticket_type.id for ticket, ticket_type in bundle.tickets)
    assert (bundle.order.id, bundle.event.id) == (order_id, shop.event_id)
    assert bundle.organizer.startswith("Org ") and bundle.organizer_verified

    with clean_database.session(write=False) as session:
        assert service.load_order(session, uuid.uuid4()) is None


def test_the_marker_check_goes_with_the_load(client: TestClient, clean_database: Database) -> None:
    shop = make_shop(clean_database)
    order_id = uuid.UUID(buy(client, shop)["id"])
    other = uuid.uuid4()

    def loaded(kind: str, marker_id: uuid.UUID) -> bool:
        with clean_database.session(write=False) as session:
            return (
                service._load_order_unless_delivered(
                    session, order_id, kind=kind, marker_id=marker_id
                )
                is not None
            )

    # The tests' runner sent the confirmation when the payment committed.
    assert not loaded(Kind.order_confirmation, order_id)
    assert loaded(Kind.order_refunded, order_id)
    assert loaded(Kind.order_confirmation_resent, other)
    record_delivery(
        clean_database,
        kind=withheld(Kind.order_confirmation_resent),
        object_id=other,
        recipient="ada@example.com",
        message_id="",
    )
    assert not loaded(Kind.order_confirmation_resent, other)
