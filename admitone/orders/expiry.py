"""Expiry: an unpaid hold runs out.

A pending order past its ``expires_at`` already reads as ``expired`` and its seats as
available (``transitions.effective_status``, ``events.stock.live_availability``); the
rows catch up when a new order of the event falls short of seats
(``release_expired_holds``), when its buyer acts on it (``expire_if_due``), or at the
periodic sweep (``expire_holds``, job ``orders.expire_holds``). Each release is a
guarded pending -> expired move, and only its winner gives the seats back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import BindParameter, Select, bindparam, func, select
from sqlalchemy.orm import Session

from admitone.errors import Busy
from admitone.events import stock
from admitone.orders.errors import HoldExpired
from admitone.orders.models import Order, OrderItem, OrderStatus
from admitone.orders.transitions import move_orders

# Expired orders released per call; the periodic sweep picks up whatever is left.
RELEASE_BATCH = 500


def _expired_holds(*, limit: int | BindParameter[int]) -> Select[uuid.UUID]:
    """Pending orders, oldest id first, locked unless another transaction has them."""
    return (
        select(Order.id)
        .where(Order.status == OrderStatus.pending)
        .order_by(Order.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Order)
    )


# Built once: the orders of a sold-out rush run it when they fall short of seats.
_EXPIRED_HOLDS = _expired_holds(limit=bindparam("limit")).where(
    Order.event_id == bindparam("event_id"), Order.expires_at <= bindparam("now")
)


def release_expired_holds(
    session: Session,
    *,
    event_id: uuid.UUID,
    now: datetime,
    order_ids: Iterable[uuid.UUID] | None = None,
    limit: int = RELEASE_BATCH,
) -> list[uuid.UUID]:
    """Move the event's pending orders past ``expires_at`` to ``expired``; free their seats.

    Invariant: a hold is released once, by the transaction whose conditional
    ``pending -> expired`` UPDATE matched. Lock: every ticket type of the event in id
    order first, so a transaction releasing the same holds at the same moment finishes
    before this one looks (and a buyer short of seats then sees them back on sale); then
    the expired order rows with ``FOR UPDATE SKIP LOCKED`` (an order that another
    transaction is paying or cancelling is left to it, never waited for). Returns the
    expired ids.
    """
    stock.lock_event_ticket_types(session, event_id)
    if order_ids is None:
        candidates = list(
            session.scalars(_EXPIRED_HOLDS, {"event_id": event_id, "now": now, "limit": limit})
        )
    else:
        candidates = list(
            session.scalars(
                _expired_holds(limit=limit).where(
                    Order.event_id == event_id,
                    Order.expires_at <= now,
                    Order.id.in_(list(order_ids)),
                )
            )
        )
    if not candidates:
        return []
    expired = move_orders(
        session, candidates, source=OrderStatus.pending, target=OrderStatus.expired, now=now
    )
    if not expired:
        return []
    freed = session.execute(
        select(OrderItem.ticket_type_id, func.sum(OrderItem.quantity))
        .where(OrderItem.order_id.in_(expired))
        .group_by(OrderItem.ticket_type_id)
    ).all()
    stock.release_held(
        session, {ticket_type_id: int(quantity) for ticket_type_id, quantity in freed}
    )
    return expired


def expire_if_due(session: Session, order: Order, *, now: datetime) -> None:
    """A pending order past its hold cannot be paid or cancelled: expire it now."""
    if order.status != OrderStatus.pending or order.expires_at > now:
        return
    released = release_expired_holds(
        session, event_id=order.event_id, now=now, order_ids=[order.id]
    )
    if released:
        raise HoldExpired(order_id=str(order.id))
    # Another transaction holds the order row (paying or expiring it): ask to retry.
    raise Busy(retry_after=1)


def expire_holds(session: Session, *, now: datetime, max_events: int = 100) -> int:
    """The periodic sweep (job ``orders.expire_holds``): expire every hold past its time.

    Same mechanism as the lazy release (``release_expired_holds``), event by
    event in id order; orders another transaction holds are skipped, not waited for.
    Returns how many orders expired.
    """
    event_ids = session.scalars(
        select(Order.event_id)
        .where(Order.status == OrderStatus.pending, Order.expires_at <= now)
        .distinct()
        .limit(max_events)
    ).all()
    return sum(
        len(release_expired_holds(session, event_id=event_id, now=now))
        for event_id in sorted(event_ids)
    )
