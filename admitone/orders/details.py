"""An order with its lines, as every reader of orders shows it, and the seats of orders.

One query reads the lines of any number of orders (no N+1).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from admitone.orders import queries
from admitone.orders.models import Order, OrderItem


@dataclass(frozen=True)
class OrderLine:
    item: OrderItem
    ticket_type_name: str


@dataclass(frozen=True)
class OrderDetails:
    order: Order
    lines: list[OrderLine]


def with_lines(session: Session, orders: Sequence[Order]) -> list[OrderDetails]:
    """Orders with their lines: one query for all of them (no N+1)."""
    if not orders:
        return []
    lines: dict[uuid.UUID, list[OrderLine]] = defaultdict(list)
    for item, name in session.execute(queries.lines_of(order.id for order in orders)):
        lines[item.order_id].append(OrderLine(item=item, ticket_type_name=name))
    return [OrderDetails(order=order, lines=lines[order.id]) for order in orders]


def reload_details(session: Session, order_id: uuid.UUID) -> OrderDetails:
    order = session.scalar(
        select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    )
    assert order is not None  # orders are never deleted
    return with_lines(session, [order])[0]


def seats_of_orders(session: Session, order_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Seats per ticket type over these orders (one grouped query)."""
    if not order_ids:
        return {}
    rows = session.execute(
        select(OrderItem.ticket_type_id, func.sum(OrderItem.quantity))
        .where(OrderItem.order_id.in_(list(order_ids)))
        .group_by(OrderItem.ticket_type_id)
    )
    return {ticket_type_id: int(quantity) for ticket_type_id, quantity in rows}
