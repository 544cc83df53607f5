"""Order states: the moves an order may make, and the one function that makes them.

``move_orders`` is the only code that changes ``orders.status`` (a new order is
inserted ``pending``). Each move is a conditional ``UPDATE ... WHERE id = :id AND
status IN (the states the caller expects)``; its row count (or its RETURNING) says
whether this transaction won it, and only the winner does what follows (sell the seats,
issue the tickets, refund). Two transactions racing for one order can therefore never
both move it: the loser's UPDATE waits for the winner's row lock, then finds the new
status and matches nothing (docs/locking.md).

A move names its source states, each of which ``TRANSITIONS`` must allow: a move the
table does not hold is a bug and raises ``ForbiddenTransition`` before any statement.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from admitone.db_direct import DirectStatement, execute_direct
from admitone.orders.models import Order, OrderStatus
from admitone.orders.queries import status_guard

# Every move an order may make, and what makes it. An order is never deleted, and
# ``refunded`` is final.
TRANSITIONS: dict[tuple[OrderStatus, OrderStatus], str] = {
    (OrderStatus.pending, OrderStatus.paid): "its payment succeeded",
    (OrderStatus.pending, OrderStatus.cancelled): "its buyer cancels it, or its event is cancelled",
    (OrderStatus.pending, OrderStatus.expired): "its hold ran out",
    (OrderStatus.pending, OrderStatus.refunded): "paid while its event was off sale: refunded",
    (OrderStatus.expired, OrderStatus.paid): "paid after its hold ran out, its seats still free",
    (OrderStatus.expired, OrderStatus.refunded): "paid after its hold ran out, seats gone",
    (OrderStatus.cancelled, OrderStatus.refunded): "paid after it was cancelled: refunded",
    (
        OrderStatus.paid,
        OrderStatus.refunded,
    ): "refunded in full (organizer, cancelled event, provider)",
}


class ForbiddenTransition(ValueError):
    """A move that ``TRANSITIONS`` does not hold: a bug in the caller, never input."""


def effective_status(order: Order, *, now: datetime) -> OrderStatus:
    """The status a reader sees: a pending order whose hold ran out is expired."""
    if order.status == OrderStatus.pending and order.expires_at <= now:
        return OrderStatus.expired
    return order.status


def move_orders(
    session: Session,
    orders: Sequence[Order | uuid.UUID],
    *,
    source: OrderStatus | Collection[OrderStatus],
    target: OrderStatus,
    now: datetime,
) -> list[uuid.UUID]:
    """Move these orders from ``source`` (one state or several) to ``target``; the ids of
    those this transaction moved, in id order. An order in another state is left as it
    is (another transaction moved it first, or it never was in ``source``).

    Each order is given as a loaded ``Order``, which is kept in step with the row (no
    reload), or by id. Entering a state also sets what records it: ``paid_at``,
    ``cancelled_at``, ``refunded_minor`` (the whole total), and ``updated_at`` always.

    Lock: the order rows (row locks of the UPDATE) until the transaction ends; callers
    take them before any ticket-type row (docs/locking.md). One order is one statement
    built once (the paying path); several are one statement with RETURNING.
    """
    sources = (source,) if isinstance(source, OrderStatus) else tuple(sorted(set(source)))
    for state in sources:
        if (state, target) not in TRANSITIONS:
            raise ForbiddenTransition(f"an order never moves from {state} to {target}")
    if not orders:
        return []
    session.flush()  # a Core statement does not autoflush the ORM rows it may depend on
    loaded = {item.id: item for item in orders if isinstance(item, Order)}
    ids = sorted({item.id if isinstance(item, Order) else item for item in orders})
    if len(ids) == 1:
        result = execute_direct(
            session,
            _move_one(target, len(sources)),
            {
                "order_id": ids[0],
                "target": target,
                "now": now,
                **{f"source_{index}": state for index, state in enumerate(sources)},
            },
        )
        moved = ids if result.rowcount == 1 else []
    else:
        moved = sorted(
            session.scalars(
                update(Order)
                .where(Order.id.in_(ids), or_(*(status_guard(state) for state in sources)))
                .values(
                    status=target,
                    updated_at=now,
                    **_records_of(target, now=now, total=Order.total_minor),
                )
                .returning(Order.id)
                .execution_options(synchronize_session=False)
            )
        )
    for order_id in moved:
        order = loaded.get(order_id)
        if order is not None:
            _keep_in_step(order, target=target, now=now)
    return moved


def _records_of(target: OrderStatus, *, now: Any, total: Any) -> dict[str, Any]:
    """The columns that record entering ``target``. ``now`` and ``total`` are values (an
    order kept in step) or SQL (a bind parameter, the row's own total)."""
    records: dict[OrderStatus, dict[str, Any]] = {
        OrderStatus.paid: {"paid_at": now},
        OrderStatus.cancelled: {"cancelled_at": now},
        # The whole total: an order's total never changes, and a payment refunded with it
        # was opened for exactly that amount (payments.checkout).
        OrderStatus.refunded: {"refunded_minor": total},
    }
    return records.get(target, {})


@functools.cache
def _move_one(target: OrderStatus, source_count: int) -> DirectStatement:
    """``UPDATE orders SET status = :target ... WHERE id = :order_id AND status IN
    (:source_0, ...)``, declared once per target and number of sources: it runs on every
    paid order (docs/hot-path.md). The status guard is written so that only the primary
    key serves it (``queries.status_guard``)."""
    orders = cast(Table, Order.__table__)  # a declarative model's table is a Table
    now = bindparam("now", type_=orders.c.updated_at.type)
    return DirectStatement(
        update(orders)
        .where(
            orders.c.id == bindparam("order_id"),
            or_(*(status_guard(bindparam(f"source_{index}")) for index in range(source_count))),
        )
        .values(
            status=bindparam("target"),
            updated_at=now,
            **_records_of(target, now=now, total=orders.c.total_minor),
        )
    )


def _keep_in_step(order: Order, *, target: OrderStatus, now: datetime) -> None:
    # The row was changed by a conditional UPDATE: mirror it without dirtying the object.
    values = {"status": target, "updated_at": now}
    values.update(_records_of(target, now=now, total=order.total_minor))
    for name, value in values.items():
        set_committed_value(order, name, value)


def _declare_moves() -> None:
    """Declare every single-order move the table allows (each target with each number of
    sources), so that one the direct path cannot run fails when this module is imported."""
    for target in {target for _source, target in TRANSITIONS}:
        source_count = sum(1 for _source, into in TRANSITIONS if into == target)
        for count in range(1, source_count + 1):
            _move_one(target, count)


_declare_moves()
