"""Stock moves: the only code that changes ``ticket_types.quantity_held`` and ``quantity_sold``.

The rules (docs/locking.md explains them):

* Seats are taken with one conditional ``UPDATE`` per ticket type, inside the caller's
  transaction: ``quantity_held = quantity_held + q WHERE capacity - sold - held >= q``,
  row count checked. On PostgreSQL the UPDATE takes the row lock and re-checks the
  condition on the newest row version, so it is safe under READ COMMITTED; on SQLite
  the write transaction already began ``IMMEDIATE`` (admitone/db.py), so writers are
  serial. No read-then-write anywhere.
* Ticket-type rows are always touched in ascending id order, and a transaction that
  touches orders locks its order rows before any ticket type: two transactions can
  therefore never wait on each other in a cycle.
* Order state transitions are conditional (``WHERE status = :expected``) and only the
  transaction whose UPDATE matched moves the counters, so a seat is released or sold once.
* A lock wait longer than PostgreSQL's ``lock_timeout`` (or SQLite's busy timeout)
  raises ``OperationalError``, which the error handler turns into ``503 BUSY``.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Insert, Select, Table, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import InstrumentedAttribute, Session

from admitone.config import Environment, Settings
from admitone.db import Base, execute_direct
from admitone.events.models import TicketType
from admitone.orders.models import Order, OrderItem, OrderStatus
from admitone.orders.transitions import move_orders

Quantities = Mapping[uuid.UUID, int]

# Expired orders released per call; the periodic sweep picks up whatever is left.
RELEASE_BATCH = 500


class StockCountersBroken(RuntimeError):
    """A counter would go negative: the counters disagree with the orders (a bug, never input)."""


def _in_lock_order(quantities: Quantities) -> list[tuple[uuid.UUID, int]]:
    return sorted((tid, q) for tid, q in quantities.items() if q > 0)


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def sum_quantities(pairs: Iterable[tuple[uuid.UUID, int]]) -> dict[uuid.UUID, int]:
    """Quantities per ticket type from (ticket type id, quantity) pairs."""
    total: dict[uuid.UUID, int] = {}
    for ticket_type_id, quantity in pairs:
        total[ticket_type_id] = total.get(ticket_type_id, 0) + quantity
    return total


def insert_once(session: Session, model: type[Base], values: dict[str, Any]) -> bool:
    """INSERT a row unless its unique key exists already; True when this call inserted it.

    ``INSERT ... ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite): on PostgreSQL an insert
    racing an uncommitted one with the same key waits for it, then does nothing if it
    committed. Used for the payment-notification inbox, idempotency keys, delivery
    markers and the scans' nonces.
    """
    session.flush()  # a Core statement does not autoflush the ORM objects it may refer to
    statement = _insert_once_statement(session.get_bind().dialect.name, model.__table__)
    return execute_direct(session, statement, values).first() is not None


@functools.cache
def _insert_once_statement(dialect_name: str, table: Table) -> Insert:
    # Built once per table: payment notifications arrive on every paid order.
    insert = postgresql_insert if dialect_name == "postgresql" else sqlite_insert
    # A returned row, not the row count: some drivers report none for this statement.
    return insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)


# --- taking seats ----------------------------------------------------------------------


def take_seats(
    session: Session, quantities: Quantities, *, as_sold: bool = False
) -> uuid.UUID | None:
    """Hold (or, with ``as_sold``, sell) the seats, all or nothing; None on success.

    Lock: each ticket-type row, in id order, through its conditional UPDATE. On a miss
    the seats already taken here are given back (their rows are ours until commit), so
    the caller may carry on with the transaction; the id of the first ticket type
    without enough seats is returned.
    """
    taken: dict[uuid.UUID, int] = {}
    for ticket_type_id, quantity in _in_lock_order(quantities):
        if _UNSAFE.enabled:
            ok = _take_non_atomically(session, ticket_type_id, quantity, as_sold=as_sold)
        else:
            ok = _take_atomically(session, ticket_type_id, quantity, as_sold=as_sold)
        if not ok:
            if taken:
                (release_sold if as_sold else release_held)(session, taken)
            return ticket_type_id
        taken[ticket_type_id] = quantity
    return None


# The stock statements are built once: they run on every order of a sale, and building
# a statement costs more CPU than running it (docs/ARCHITECTURE.md, "Performance").
# (Parameters are not named after columns: an UPDATE reserves those for its SET clause.)
_ticket_types = TicketType.__table__
_free = _ticket_types.c.capacity - _ticket_types.c.quantity_sold - _ticket_types.c.quantity_held
_THIS_TYPE = _ticket_types.c.id == bindparam("ticket_type")
_QUANTITY = bindparam("quantity")
_HOLD_SEATS = (
    update(_ticket_types)
    .where(_THIS_TYPE, _free >= _QUANTITY)
    .values(quantity_held=_ticket_types.c.quantity_held + _QUANTITY)
)
_SELL_SEATS = (
    update(_ticket_types)
    .where(_THIS_TYPE, _free >= _QUANTITY)
    .values(quantity_sold=_ticket_types.c.quantity_sold + _QUANTITY)
)
_HELD_TO_SOLD = (
    update(_ticket_types)
    .where(_THIS_TYPE, _ticket_types.c.quantity_held >= _QUANTITY)
    .values(
        quantity_held=_ticket_types.c.quantity_held - _QUANTITY,
        quantity_sold=_ticket_types.c.quantity_sold + _QUANTITY,
    )
)


def _take_atomically(
    session: Session, ticket_type_id: uuid.UUID, quantity: int, *, as_sold: bool
) -> bool:
    result = execute_direct(
        session,
        _SELL_SEATS if as_sold else _HOLD_SEATS,
        {"ticket_type": ticket_type_id, "quantity": quantity},
    )
    return result.rowcount == 1


def convert_held_to_sold(session: Session, quantities: Quantities) -> None:
    """Turn a paid order's held seats into sold ones (held -= q, sold += q).

    Lock: the ticket-type rows in id order. The caller won the order's pending -> paid
    transition, so these seats are its own hold; a miss means broken counters.
    """
    for ticket_type_id, quantity in _in_lock_order(quantities):
        result = execute_direct(
            session, _HELD_TO_SOLD, {"ticket_type": ticket_type_id, "quantity": quantity}
        )
        if result.rowcount != 1:
            raise StockCountersBroken(f"ticket type {ticket_type_id}: held < {quantity}")


def release_held(session: Session, quantities: Quantities) -> None:
    """Give held seats back to sale (expiry, cancellation). Lock: rows in id order."""
    _decrement(session, TicketType.quantity_held, quantities)


def release_sold(session: Session, quantities: Quantities) -> None:
    """Give sold seats back to sale (refund). Lock: rows in id order."""
    _decrement(session, TicketType.quantity_sold, quantities)


def _decrement(
    session: Session, counter: InstrumentedAttribute[int], quantities: Quantities
) -> None:
    for ticket_type_id, quantity in _in_lock_order(quantities):
        result = session.execute(
            update(TicketType)
            .where(TicketType.id == ticket_type_id, counter >= quantity)
            .values({counter: counter - quantity})
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise StockCountersBroken(f"ticket type {ticket_type_id}: counter < {quantity}")


def lock_event_ticket_types(session: Session, event_id: uuid.UUID) -> None:
    """Lock every ticket type of an event, in id order (PostgreSQL; SQLite is already serial).

    Used before moving counters of several ticket types that were not chosen by one
    sorted list (expired orders, then a new hold): the rows are then ours in id order
    and any later UPDATE of them cannot join a lock cycle.

    ``FOR NO KEY UPDATE``, the lock an UPDATE of the counters takes anyway: every buyer
    in flight holds ``KEY SHARE`` on its ticket types (the foreign keys of the order
    lines it inserted), which ``FOR UPDATE`` would wait for while those buyers queue
    behind it: a deadlock (tests/concurrency, lapsed holds).
    """
    if _is_postgresql(session):
        session.execute(
            select(TicketType.id)
            .where(TicketType.event_id == event_id)
            .order_by(TicketType.id)
            .with_for_update(key_share=True)
        )


# --- expiry ----------------------------------------------------------------------------


def _expired_holds(*, limit: int | BindParameter[int]) -> Select[tuple[uuid.UUID]]:
    """Pending orders, oldest id first, locked unless another transaction has them."""
    return (
        select(Order.id)
        .where(Order.status == OrderStatus.pending)
        .order_by(Order.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Order)
    )


# Built once: every new order of a sale runs it first (costs one indexed SELECT).
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
    lock_event_ticket_types(session, event_id)
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
    release_held(session, {ticket_type_id: int(quantity) for ticket_type_id, quantity in freed})
    return expired


# --- availability ----------------------------------------------------------------------


def live_availability(
    session: Session,
    *,
    now: datetime,
    ticket_type_ids: Iterable[uuid.UUID] | None = None,
    event_id: uuid.UUID | None = None,
) -> dict[uuid.UUID, int]:
    """Seats on sale per ticket type: capacity - sold - live holds.

    Read-only and lock-free, for display (and the SOLD_OUT details): a hold past its
    ``expires_at`` stops counting here at once, before any transaction has released
    it. Taking seats never trusts this number; it re-checks in its conditional UPDATE.
    """
    if ticket_type_ids is None and event_id is None:
        raise ValueError("give ticket_type_ids or event_id")
    counters = select(
        TicketType.id, TicketType.capacity - TicketType.quantity_sold - TicketType.quantity_held
    )
    stale = (
        select(OrderItem.ticket_type_id, func.sum(OrderItem.quantity))
        .join(Order, Order.id == OrderItem.order_id)
        .where(Order.status == OrderStatus.pending, Order.expires_at <= now)
        .group_by(OrderItem.ticket_type_id)
    )
    if ticket_type_ids is not None:
        ids = list(ticket_type_ids)
        counters = counters.where(TicketType.id.in_(ids))
        stale = stale.where(OrderItem.ticket_type_id.in_(ids))
    if event_id is not None:
        counters = counters.where(TicketType.event_id == event_id)
        stale = stale.where(Order.event_id == event_id)
    expired_holds = {tid: int(quantity) for tid, quantity in session.execute(stale)}
    return {
        tid: max(free + expired_holds.get(tid, 0), 0) for tid, free in session.execute(counters)
    }


# --- test-only negative control ----------------------------------------------------------


class _UnsafeCheck:
    """The switch of the negative-control race test (tests/concurrency): never on otherwise."""

    def __init__(self) -> None:
        self.enabled = False
        self.window_seconds = 0.0
        self.checks_passed = 0
        self.lock = threading.Lock()


_UNSAFE = _UnsafeCheck()


def enable_unsafe_stock_check(settings: Settings, *, window_seconds: float = 0.05) -> None:
    """TEST ONLY: take seats by read, sleep, write, to show that the race test really races.

    Refused unless ``settings.env`` is ``test``: nothing else may ever switch it on.
    """
    if settings.env != Environment.test:
        raise RuntimeError("the unsafe stock check exists for the race tests only")
    with _UNSAFE.lock:
        _UNSAFE.enabled = True
        _UNSAFE.window_seconds = window_seconds
        _UNSAFE.checks_passed = 0


def disable_unsafe_stock_check() -> int:
    """Switch the negative control off; returns how many stock checks it let through."""
    with _UNSAFE.lock:
        passed, _UNSAFE.checks_passed = _UNSAFE.checks_passed, 0
        _UNSAFE.enabled = False
        return passed


def _take_non_atomically(
    session: Session, ticket_type_id: uuid.UUID, quantity: int, *, as_sold: bool
) -> bool:
    # The classic bug on purpose: read the counters (here, as an app checking stock before
    # its transaction would: on a connection of its own), decide, then write the new value
    # computed from the stale read. Concurrent buyers all see the same free seats.
    bind = session.get_bind()
    with bind.connect().execution_options(sqlite_begin_immediate=False) as reader:
        capacity, sold, held = reader.execute(
            select(TicketType.capacity, TicketType.quantity_sold, TicketType.quantity_held).where(
                TicketType.id == ticket_type_id
            )
        ).one()
    if capacity - sold - held < quantity:
        return False
    with _UNSAFE.lock:
        _UNSAFE.checks_passed += 1
    time.sleep(_UNSAFE.window_seconds)
    values = {"quantity_sold": sold + quantity} if as_sold else {"quantity_held": held + quantity}
    session.execute(
        update(TicketType)
        .where(TicketType.id == ticket_type_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return True
