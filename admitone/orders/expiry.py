"""Expiry: an unpaid hold runs out.

A pending order past its ``expires_at`` already reads as ``expired`` and its seats as
available (``transitions.effective_status``, ``locking.live_availability``); the rows
catch up at the next write that touches the event (``locking.release_expired_holds``),
when its buyer acts on it (``expire_if_due``) or at the periodic sweep
(``expire_holds``, job ``orders.expire_holds``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from admitone import locking
from admitone.errors import Busy
from admitone.orders.errors import HoldExpired
from admitone.orders.models import Order, OrderStatus


def expire_if_due(session: Session, order: Order, *, now: datetime) -> None:
    """A pending order past its hold cannot be paid or cancelled: expire it now."""
    if order.status != OrderStatus.pending or order.expires_at > now:
        return
    released = locking.release_expired_holds(
        session, event_id=order.event_id, now=now, order_ids=[order.id]
    )
    if released:
        raise HoldExpired(order_id=str(order.id))
    # Another transaction holds the order row (paying or expiring it): ask to retry.
    raise Busy(retry_after=1)


def expire_holds(session: Session, *, now: datetime, max_events: int = 100) -> int:
    """The periodic sweep (job ``orders.expire_holds``): expire every hold past its time.

    Same mechanism as the lazy release (``locking.release_expired_holds``), event by
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
        len(locking.release_expired_holds(session, event_id=event_id, now=now))
        for event_id in sorted(event_ids)
    )
