"""The organizer's views of an event's orders: the list, one order, the sales figures.

Every read goes through ``queries.orders_of_event`` (the organization resolved by
``org_access``): another organization's order is not found (404). Read-only, no lock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from admitone.authorization import OrgAccess
from admitone.events.errors import EventNotFound
from admitone.events.models import Event, TicketType
from admitone.orders import queries
from admitone.orders.details import OrderDetails, with_lines
from admitone.orders.errors import OrderNotFound
from admitone.orders.fulfilment import ORDER_PURPOSE
from admitone.orders.models import Order, OrderItem, OrderStatus
from admitone.payments.models import Payment, Refund
from admitone.tickets.models import Ticket, TicketStatus


def require_event(session: Session, *, access: OrgAccess, event_id: uuid.UUID) -> Event:
    event = session.scalar(queries.event_of_organization(access.organization.id, event_id))
    if event is None:
        raise EventNotFound()
    return event


def list_event_orders(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    now: datetime,
    text: str | None = None,
    status: OrderStatus | None = None,
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[OrderDetails], int]:
    """One page of an event's orders (newest first) and their total, for its organizer.

    ``text`` matches the buyer's name, e-mail or the order code; ``status`` is the status
    a reader sees (a pending order past its hold counts as expired).
    """
    require_event(session, access=access, event_id=event_id)
    statement = queries.orders_of_event(access.organization.id, event_id)
    if text:
        statement = queries.matching(statement, text)
    if status is not None:
        statement = queries.with_status(statement, status, now=now)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    orders = session.scalars(
        statement.order_by(Order.created_at.desc(), Order.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return with_lines(session, orders), total


@dataclass(frozen=True)
class TicketTypeSales:
    tickets: int
    revenue_minor: int


@dataclass(frozen=True)
class SalesSummary:
    """An event's paid sales for its organizer's figures, aggregated in the database."""

    by_ticket_type: dict[uuid.UUID, TicketTypeSales]
    # (paid at, seats) of each paid order: for a chart by day in the event's time zone.
    paid_seats: list[tuple[datetime, int]]

    @property
    def paid_orders(self) -> int:
        return len(self.paid_seats)


def sales_summary(session: Session, *, access: OrgAccess, event_id: uuid.UUID) -> SalesSummary:
    """Tickets and revenue per ticket type, and seats per paid order, of paid orders.

    Grouped by SQL rather than loading the orders: a festival's page stays one query
    away from its figures whatever the number of orders. Read-only, no lock.
    """
    require_event(session, access=access, event_id=event_id)
    paid = (
        Order.organization_id == access.organization.id,
        Order.event_id == event_id,
        Order.status == OrderStatus.paid,
    )
    by_type = {
        ticket_type_id: TicketTypeSales(tickets=int(tickets), revenue_minor=int(revenue))
        for ticket_type_id, tickets, revenue in session.execute(
            select(
                OrderItem.ticket_type_id,
                func.sum(OrderItem.quantity),
                func.sum(OrderItem.quantity * OrderItem.unit_price_minor),
            )
            .join(Order, Order.id == OrderItem.order_id)
            .where(*paid)
            .group_by(OrderItem.ticket_type_id)
        )
    }
    paid_seats = [
        (moment, int(seats))
        for moment, seats in session.execute(
            select(func.coalesce(Order.paid_at, Order.created_at), func.sum(OrderItem.quantity))
            .join(OrderItem, OrderItem.order_id == Order.id)
            .where(*paid)
            .group_by(Order.id, Order.paid_at, Order.created_at)
        )
    ]
    return SalesSummary(by_ticket_type=by_type, paid_seats=paid_seats)


def get_event_order(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, order_id: uuid.UUID
) -> OrderDetails:
    """One order of the organization's event; 404 for anyone else's."""
    order = session.scalar(
        queries.orders_of_event(access.organization.id, event_id).where(Order.id == order_id)
    )
    if order is None:
        raise OrderNotFound()
    return with_lines(session, [order])[0]


@dataclass(frozen=True)
class OrderTicket:
    ticket: Ticket
    ticket_type_name: str
    price_minor: int


@dataclass(frozen=True)
class OrderRecord:
    """One order as the organizer's order page shows it: lines, tickets, money."""

    details: OrderDetails
    tickets: list[OrderTicket]
    payments: list[Payment]
    refunds: list[Refund]

    @property
    def refundable(self) -> list[OrderTicket]:
        return [row for row in self.tickets if row.ticket.status == TicketStatus.valid]


def get_event_order_record(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, order_id: uuid.UUID
) -> OrderRecord:
    """One order of the organization's event with its tickets, payments and refunds (three
    more queries, whatever their number); 404 for anyone else's order. Read-only."""
    details = get_event_order(session, access=access, event_id=event_id, order_id=order_id)
    tickets = [
        OrderTicket(ticket=ticket, ticket_type_name=name, price_minor=price)
        for ticket, name, price in session.execute(
            select(Ticket, TicketType.name, OrderItem.unit_price_minor)
            .join(TicketType, TicketType.id == Ticket.ticket_type_id)
            .join(OrderItem, OrderItem.id == Ticket.order_item_id)
            .where(Ticket.order_id == details.order.id)
            .order_by(TicketType.position, Ticket.created_at, Ticket.id)
            .execution_options(populate_existing=True)
        )
    ]
    payments = list(
        session.scalars(
            select(Payment)
            .where(Payment.purpose == ORDER_PURPOSE, Payment.purpose_id == details.order.id)
            .order_by(Payment.created_at, Payment.id)
            .execution_options(populate_existing=True)
        )
    )
    refunds = list(
        session.scalars(
            select(Refund)
            .where(Refund.purpose == ORDER_PURPOSE, Refund.purpose_id == details.order.id)
            .order_by(Refund.created_at, Refund.id)
        )
    )
    return OrderRecord(details=details, tickets=tickets, payments=payments, refunds=refunds)
