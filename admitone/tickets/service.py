"""Tickets: issued when an order is paid, revoked when it is refunded."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from admitone.db import utcnow
from admitone.orders.models import Order, OrderItem
from admitone.tickets.models import Ticket, TicketStatus


def issue_tickets(session: Session, *, order: Order, items: list[OrderItem]) -> list[Ticket]:
    """One ticket per seat of a paid order. Idempotent: an order's tickets are issued once.

    The caller holds the order's "pending -> paid" transition (a conditional update), so
    only one transaction ever reaches this for a given order.
    """
    existing = list(session.scalars(select(Ticket).where(Ticket.order_id == order.id)))
    if existing:
        return existing
    tickets = [
        Ticket(
            order_id=order.id,
            order_item_id=item.id,
            event_id=order.event_id,
            ticket_type_id=item.ticket_type_id,
            holder_name=order.buyer_name,
        )
        for item in items
        for _seat in range(item.quantity)
    ]
    session.add_all(tickets)
    session.flush()
    return tickets


def revoke_tickets(
    session: Session, *, order_id: uuid.UUID, ticket_ids: list[uuid.UUID] | None = None
) -> int:
    """Revoke an order's valid tickets (all, or the given ones); returns how many."""
    statement = (
        update(Ticket)
        .where(Ticket.order_id == order_id, Ticket.status == TicketStatus.valid)
        .values(status=TicketStatus.revoked, revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if ticket_ids is not None:
        statement = statement.where(Ticket.id.in_(ticket_ids))
    return session.execute(statement).rowcount
