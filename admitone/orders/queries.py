"""Scoped statements for orders.

Buyers reach an order through ``buyer_order`` (their account, or the order token:
``authorization.BuyerProof``); organizers through ``orders_of_event``, which filters by
the organization resolved by ``org_access``. Anything else is not found (404), so ids
do not leak.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, bindparam, false, func, or_, select

from admitone.events.models import Event, TicketType
from admitone.orders.models import Order, OrderItem, OrderStatus


def _orders_reachable_by(*, user: bool, token: bool) -> Select[Order]:
    conditions: list[ColumnElement[bool]] = []
    if user:
        conditions.append(Order.user_id == bindparam("user_id"))
    if token:
        conditions.append(Order.access_token_hash == bindparam("order_token_hash"))
    return select(Order).where(
        Order.id == bindparam("order_id"), or_(*conditions) if conditions else false()
    )


# Built once for each way in (account, token, both, neither): a buyer's order is read on
# every step of a purchase (docs/hot-path.md).
BUYER_ORDER = {
    (user, token): _orders_reachable_by(user=user, token=token)
    for user in (False, True)
    for token in (False, True)
}


StatementT = TypeVar("StatementT")


def buyer_order(
    *,
    order_id: uuid.UUID,
    user_id: uuid.UUID | None,
    order_token_hash: str | None,
    statements: Mapping[tuple[bool, bool], StatementT],
) -> tuple[StatementT, dict[str, object]]:
    """The statement (and its parameters) reading one order as its buyer may reach it;
    ``statements``: ``BUYER_ORDER`` or statements built on each of them, by the same keys."""
    statement = statements[(user_id is not None, order_token_hash is not None)]
    parameters: dict[str, object] = {
        "order_id": order_id,
        "user_id": user_id,
        "order_token_hash": order_token_hash,
    }
    return statement, parameters


def status_guard(value: Any) -> ColumnElement[bool]:
    """``orders.status = value`` for an UPDATE that finds its orders by id, written so
    that only the primary key can serve it.

    With statistics taken when no order was pending (a quiet hour), PostgreSQL planned
    ``id = :id AND status = 'pending'`` on the (status, expires_at) index, and so read
    every pending order, in the middle of a rush. ``coalesce`` changes nothing else:
    status is never null.
    """
    return func.coalesce(Order.status, "") == value


def orders_of_user(user_id: uuid.UUID) -> Select[Order]:
    return select(Order).where(Order.user_id == user_id)


def event_of_organization(organization_id: uuid.UUID, event_id: uuid.UUID) -> Select[Event]:
    return select(Event).where(Event.id == event_id, Event.organization_id == organization_id)


def orders_of_event(organization_id: uuid.UUID, event_id: uuid.UUID) -> Select[Order]:
    return select(Order).where(Order.organization_id == organization_id, Order.event_id == event_id)


def with_status(statement: Select[Order], status: OrderStatus, *, now: datetime) -> Select[Order]:
    """Filter by the status a reader sees: a pending order past its hold reads as expired."""
    live_hold = and_(Order.status == OrderStatus.pending, Order.expires_at > now)
    if status == OrderStatus.pending:
        return statement.where(live_hold)
    if status == OrderStatus.expired:
        return statement.where(
            or_(
                Order.status == OrderStatus.expired,
                and_(Order.status == OrderStatus.pending, Order.expires_at <= now),
            )
        )
    return statement.where(Order.status == status)


def matching(statement: Select[Order], text: str) -> Select[Order]:
    """Orders whose buyer name, e-mail or code contains ``text`` (case-insensitive)."""
    needle = text.lower()
    return statement.where(
        or_(
            func.lower(Order.buyer_name).contains(needle, autoescape=True),
            func.lower(Order.buyer_email).contains(needle, autoescape=True),
            func.lower(Order.code).contains(needle, autoescape=True),
        )
    )


def lines_of(order_ids: Iterable[uuid.UUID]) -> Select[OrderItem, str]:
    """The items of these orders with their ticket type's name, in one query."""
    return (
        select(OrderItem, TicketType.name)
        .join(TicketType, TicketType.id == OrderItem.ticket_type_id)
        .where(OrderItem.order_id.in_(list(order_ids)))
        .order_by(OrderItem.order_id, TicketType.position, TicketType.name)
    )
