"""A cancelled event's orders: pending ones cancelled at once, paid ones refunded by a
job, one order per unit of work (``orders.tasks``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from admitone.config import Settings
from admitone.events import stock
from admitone.events.models import Event, EventStatus
from admitone.jobs import enqueue_after_commit
from admitone.orders.details import seats_of_orders
from admitone.orders.models import Order, OrderStatus
from admitone.orders.refunds import refund_paid_orders
from admitone.orders.transitions import move_orders


def cancel_event_orders(session: Session, *, event_id: uuid.UUID, now: datetime) -> None:
    """A cancelled event: every pending order is cancelled now (its hold released), and
    every paid one is refunded by the job ``orders.refund_cancelled_event``, each in a
    unit of work of its own.

    The refunds are a job because each is a call to the payment provider: a large event
    would keep the organizer's request waiting for minutes, and one refused refund would
    undo the whole cancellation. Lock: the event's pending order rows in id order, then
    its ticket types in id order.
    """
    enqueue_after_commit(session, "orders.refund_cancelled_event", event_id=str(event_id))
    pending = session.scalars(
        select(Order.id)
        .where(Order.event_id == event_id, Order.status == OrderStatus.pending)
        .order_by(Order.id)
        .with_for_update(of=Order)
    ).all()
    if not pending:
        return
    stock.lock_event_ticket_types(session, event_id)
    cancelled = move_orders(
        session, pending, source=OrderStatus.pending, target=OrderStatus.cancelled, now=now
    )
    stock.release_held(session, seats_of_orders(session, cancelled))


def paid_orders_of_cancelled_event(session: Session, event_id: uuid.UUID) -> list[uuid.UUID]:
    """The paid orders still to refund of a cancelled event (none if it is not cancelled)."""
    return list(
        session.scalars(
            select(Order.id)
            .join(Event, Event.id == Order.event_id)
            .where(
                Order.event_id == event_id,
                Order.status == OrderStatus.paid,
                Event.status == EventStatus.cancelled,
            )
            .order_by(Order.id)
        )
    )


def cancelled_events_with_paid_orders(
    session: Session, *, cancelled_after: datetime, cancelled_before: datetime
) -> list[uuid.UUID]:
    """Events cancelled in this window that still have paid orders to refund."""
    return list(
        session.scalars(
            select(Event.id)
            .where(
                Event.status == EventStatus.cancelled,
                Event.cancelled_at > cancelled_after,
                Event.cancelled_at <= cancelled_before,
                select(Order.id)
                .where(Order.event_id == Event.id, Order.status == OrderStatus.paid)
                .exists(),
            )
            .order_by(Event.cancelled_at)
        )
    )


def refund_cancelled_event_order(
    session: Session, *, order_id: uuid.UUID, now: datetime, settings: Settings
) -> bool:
    """Refund one paid order of a cancelled event in full; False if it is not paid any
    more (refunded meanwhile: the paid -> refunded update finds nothing to move)."""
    refunded = refund_paid_orders(
        session, order_ids=[order_id], reason="event_cancelled", now=now, settings=settings
    )
    return bool(refunded)
