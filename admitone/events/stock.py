"""Stock: the only code that moves ``ticket_types.quantity_held`` and ``quantity_sold``,
and the seats on sale as readers see them.

Ticket types and their counters are the events domain's; orders hold, sell and release
seats through this module only. The rules (docs/locking.md explains them):

* Seats are taken with one conditional ``UPDATE`` per ticket type, inside the caller's
  transaction: ``quantity_held = quantity_held + q WHERE capacity - sold - held >= q``,
  row count checked. On PostgreSQL the UPDATE takes the row lock and re-checks the
  condition on the newest row version, so it is safe under READ COMMITTED; on SQLite
  the write transaction already began ``IMMEDIATE`` (admitone/db.py), so writers are
  serial. No read-then-write anywhere.
* Ticket-type rows are always touched in ascending id order, and a transaction that
  touches orders locks its order rows before any ticket type: two transactions can
  therefore never wait on each other in a cycle.
* Counters move only after the order transition that justifies them was won
  (``orders.transitions``: a conditional UPDATE), so a seat is released or sold once.
* A lock wait longer than PostgreSQL's ``lock_timeout`` (or SQLite's busy timeout)
  raises ``OperationalError``, which the error handler turns into ``503 BUSY``.

Availability reads the holds that lapsed but are not released yet from the orders'
tables (``orders.models``): the one thing of orders this module knows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import BindParameter, CursorResult, Table, bindparam, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from admitone.db_direct import DirectStatement, execute_direct
from admitone.events.models import TicketType
from admitone.orders.models import Order, OrderItem, OrderStatus

Quantities = Mapping[uuid.UUID, int]  # seats per ticket type


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


def take_seats(
    session: Session, quantities: Quantities, *, as_sold: bool = False
) -> uuid.UUID | None:
    """Hold (or, with ``as_sold``, sell) the seats, all or nothing; None on success.

    Lock: each ticket-type row, in id order, through its conditional UPDATE. On a miss
    the seats already taken here are given back (their rows are ours until commit), so
    the caller may carry on with the transaction; the id of the first ticket type
    without enough seats is returned. Callers call it as ``stock.take_seats``: the race
    tests' negative control puts a non-atomic version in its place
    (tests/concurrency/unsafe.py).
    """
    taken: dict[uuid.UUID, int] = {}
    for ticket_type_id, quantity in _in_lock_order(quantities):
        if not _take_atomically(session, ticket_type_id, quantity, as_sold=as_sold):
            if taken:
                (release_sold if as_sold else release_held)(session, taken)
            return ticket_type_id
        taken[ticket_type_id] = quantity
    return None


# The stock statements are built once: they run on every order of a sale, and building
# a statement costs more CPU than running it (docs/hot-path.md).
# (Parameters are not named after columns: an UPDATE reserves those for its SET clause.)
_ticket_types = cast(Table, TicketType.__table__)  # a declarative model's table is a Table
_free = _ticket_types.c.capacity - _ticket_types.c.quantity_sold - _ticket_types.c.quantity_held
_THIS_TYPE = _ticket_types.c.id == bindparam("ticket_type")
_QUANTITY: BindParameter[int] = bindparam("quantity")
_HOLD_SEATS = DirectStatement(
    update(_ticket_types)
    .where(_THIS_TYPE, _free >= _QUANTITY)
    .values(quantity_held=_ticket_types.c.quantity_held + _QUANTITY)
)
_SELL_SEATS = DirectStatement(
    update(_ticket_types)
    .where(_THIS_TYPE, _free >= _QUANTITY)
    .values(quantity_sold=_ticket_types.c.quantity_sold + _QUANTITY)
)
_HELD_TO_SOLD = DirectStatement(
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
        result = cast(
            CursorResult[Any],
            session.execute(
                update(TicketType)
                .where(TicketType.id == ticket_type_id, counter >= quantity)
                .values({counter: counter - quantity})
                .execution_options(synchronize_session=False)
            ),
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
