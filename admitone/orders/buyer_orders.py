"""The buyer's orders: read one (by account or secret token), list one's own, cancel;
the guest orders of an address joining the account that verified it.

A buyer reaches an order through ``queries.buyer_order`` only; anyone else gets 404.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from admitone.accounts.models import User
from admitone.authorization import hash_order_token
from admitone.events import stock
from admitone.orders import queries
from admitone.orders.details import OrderDetails, reload_details, seats_of_orders, with_lines
from admitone.orders.errors import OrderNotFound, OrderNotPending
from admitone.orders.expiry import expire_if_due
from admitone.orders.models import Order, OrderStatus
from admitone.orders.transitions import move_orders


def _buyer_order(
    session: Session,
    *,
    order_id: uuid.UUID,
    user_id: uuid.UUID | None,
    order_token: str | None,
) -> Order:
    statement, parameters = queries.buyer_order(
        order_id=order_id,
        user_id=user_id,
        order_token_hash=hash_order_token(order_token) if order_token else None,
        statements=queries.BUYER_ORDER,
    )
    order = session.scalar(statement, parameters)
    if order is None:
        raise OrderNotFound()
    return order


def get_buyer_order(
    session: Session,
    *,
    order_id: uuid.UUID,
    user_id: uuid.UUID | None,
    order_token: str | None,
) -> OrderDetails:
    """An order of the logged-in buyer, or the one the order token opens; 404 otherwise."""
    order = _buyer_order(session, order_id=order_id, user_id=user_id, order_token=order_token)
    return with_lines(session, [order])[0]


def list_user_orders(
    session: Session, *, user_id: uuid.UUID, page: int = 1, per_page: int = 20
) -> tuple[list[OrderDetails], int]:
    """One page of a user's orders, newest first, and their total."""
    statement = queries.orders_of_user(user_id)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    orders = session.scalars(
        statement.order_by(Order.created_at.desc(), Order.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return with_lines(session, orders), total


def cancel_order(
    session: Session,
    *,
    order_id: uuid.UUID,
    user_id: uuid.UUID | None,
    order_token: str | None,
    now: datetime,
) -> OrderDetails:
    """The buyer cancels a pending order: pending -> cancelled, its held seats released.

    Lock: the order row (conditional UPDATE), then its ticket types in id order.
    """
    order = _buyer_order(session, order_id=order_id, user_id=user_id, order_token=order_token)
    expire_if_due(session, order, now=now)
    if not move_orders(
        session, [order], source=OrderStatus.pending, target=OrderStatus.cancelled, now=now
    ):
        current = session.scalar(select(Order.status).where(Order.id == order.id))
        raise OrderNotPending(status=str(current))
    stock.release_held(session, seats_of_orders(session, [order.id]))
    return reload_details(session, order.id)


def claim_guest_orders(session: Session, *, user: User) -> int:
    """The guest orders placed with the account's address become the account's, once the
    address is verified: the buyer who registers or logs in finds them among their
    orders and tickets. Returns how many joined.

    Only a verified address claims (anyone may type any address at checkout or
    registration); only guest orders move (an order of another account never does). The
    pages and the API call this where a login starts or an address is verified.
    """
    if user.email_verified_at is None:
        return 0
    result = cast(
        CursorResult[Any],
        session.execute(
            update(Order)
            .where(Order.user_id.is_(None), Order.buyer_email == user.email)
            .values(user_id=user.id)
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount
