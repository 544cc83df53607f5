"""Hold limits (issue 13): nobody holds the whole stock.

Once an order's seats are taken, so under the ticket-type row locks until COMMIT, one
statement sums the seats the same account or e-mail (and the same network address)
holds for the event, and the buyer's paid and held seats of each type with a
``max_per_buyer``; beyond a limit the whole order rolls back (docs/locking.md, "Hold
limits").
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, case, func, literal, or_, select
from sqlalchemy.orm import Session

from admitone.config import Environment, Settings
from admitone.orders.errors import BuyerLimitReached, HoldLimitReached
from admitone.orders.models import Order, OrderItem, OrderStatus
from admitone.orders.sale_terms import TicketTypeOnSale

_orders = Order.__table__
_items = OrderItem.__table__
_live_hold = and_(_orders.c.status == OrderStatus.pending, _orders.c.expires_at > bindparam("now"))
_same_buyer = or_(
    _orders.c.user_id == bindparam("user_id"), _orders.c.buyer_email == bindparam("buyer_email")
)
_same_address = _orders.c.client_ip == bindparam("client_ip")
_this_event = _orders.c.event_id == bindparam("event_id")


def _seats_where(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, _items.c.quantity), else_=0)), 0)


def _client_seats_statement(*, by_address: bool) -> Select[Any]:
    """Per ticket type, the seats of the client's other orders of the event: held (live
    pending) by the same account or e-mail, held from the same address (only
    ``by_address``), and paid or held by the same account or e-mail.

    Each branch of the WHERE reads through its own index: (event, e-mail), (event,
    address) and the account's. The address branch is left out when its bound is off or
    the address unknown: every buyer behind one proxy (a load test's one host) would
    make each order read all the others, and counts only live holds.
    """
    from_address = (
        _seats_where(and_(_live_hold, _same_address)) if by_address else literal(0)
    ).label("held_from_address")
    whose = [
        and_(_this_event, _orders.c.buyer_email == bindparam("buyer_email")),
        and_(_this_event, _orders.c.user_id == bindparam("user_id")),
    ]
    if by_address:
        whose.append(and_(_this_event, _same_address, _live_hold))
    return (
        select(
            _items.c.ticket_type_id,
            _seats_where(and_(_live_hold, _same_buyer)).label("held_by_buyer"),
            from_address,
            _seats_where(_same_buyer).label("bought_by_buyer"),
        )
        .select_from(_items.join(_orders, _orders.c.id == _items.c.order_id))
        .where(
            or_(*whose),
            or_(_orders.c.status == OrderStatus.paid, _live_hold),
            _orders.c.id != bindparam("order_id"),
        )
        .group_by(_items.c.ticket_type_id)
    )


# Built once each (one runs on every order of a sale).
CLIENT_SEATS = _client_seats_statement(by_address=True)
_BUYER_SEATS = _client_seats_statement(by_address=False)


def seats_statement(settings: Settings, client: Client) -> Select[Any]:
    return (
        CLIENT_SEATS if settings.max_held_seats_per_address and client.client_ip else _BUYER_SEATS
    )


@dataclass(frozen=True)
class Client:
    """Who is ordering, as the hold limits count them."""

    user_id: uuid.UUID | None
    buyer_email: str
    client_ip: str | None


def limits_apply(
    settings: Settings,
    client: Client,
    ticket_types: dict[uuid.UUID, TicketTypeOnSale],
) -> bool:
    return bool(
        settings.max_held_seats_per_client
        or (settings.max_held_seats_per_address and client.client_ip)
        or any(ticket_type.max_per_buyer is not None for ticket_type in ticket_types.values())
    )


def enforce_hold_limits(
    rows: Sequence[Any],
    *,
    quantities: dict[uuid.UUID, int],
    ticket_types: dict[uuid.UUID, TicketTypeOnSale],
    client: Client,
    settings: Settings,
) -> None:
    """Raise when this order, added to the client's other orders (``rows`` of
    ``CLIENT_SEATS``), goes beyond a limit: the organizer's per buyer first (it does not
    pass with time), then the seats held at once per account/e-mail and per address."""
    bought = {row.ticket_type_id: int(row.bought_by_buyer) for row in rows}
    for ticket_type_id in sorted(ticket_types.keys() & quantities.keys()):
        limit = ticket_types[ticket_type_id].max_per_buyer
        already = bought.get(ticket_type_id, 0)
        if limit is not None and already + quantities[ticket_type_id] > limit:
            raise BuyerLimitReached(
                ticket_type_id=str(ticket_type_id), max_per_buyer=limit, already=already
            )
    requested = sum(quantities.values())
    held_by_buyer = sum(int(row.held_by_buyer) for row in rows)
    limit = settings.max_held_seats_per_client
    if limit and held_by_buyer + requested > limit:
        raise HoldLimitReached(scope="buyer", limit=limit, held=held_by_buyer, requested=requested)
    held_from_address = sum(int(row.held_from_address) for row in rows)
    limit = settings.max_held_seats_per_address
    if limit and client.client_ip and held_from_address + requested > limit:
        raise HoldLimitReached(
            scope="address", limit=limit, held=held_from_address, requested=requested
        )


def client_seats_parameters(
    *, event_id: uuid.UUID, order_id: uuid.UUID, client: Client, now: datetime
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "order_id": order_id,
        "user_id": client.user_id,
        "buyer_email": client.buyer_email,
        "client_ip": client.client_ip,
        "now": now,
    }


class _UnsafeHoldCheck:
    """The switch of the hold limits' negative-control race test: never on otherwise."""

    def __init__(self) -> None:
        self.enabled = False
        self.window_seconds = 0.0
        self.lock = threading.Lock()


UNSAFE_HOLD_CHECK = _UnsafeHoldCheck()


def enable_unsafe_hold_check(settings: Settings, *, window_seconds: float = 0.05) -> None:
    """TEST ONLY: count the client's seats before taking any lock (on a connection of its
    own, then a pause), as a naive implementation would: the race test shows that
    concurrent orders of one client then all pass. Refused unless ``settings.env`` is test.
    """
    if settings.env != Environment.test:
        raise RuntimeError("the unsafe hold check exists for the race tests only")
    with UNSAFE_HOLD_CHECK.lock:
        UNSAFE_HOLD_CHECK.enabled = True
        UNSAFE_HOLD_CHECK.window_seconds = window_seconds


def disable_unsafe_hold_check() -> None:
    with UNSAFE_HOLD_CHECK.lock:
        UNSAFE_HOLD_CHECK.enabled = False


def check_limits_without_lock(session: Session, parameters: dict[str, Any], **limits: Any) -> None:
    bind = session.get_bind()
    connection: Connection
    with bind.connect().execution_options(sqlite_begin_immediate=False) as connection:
        rows = connection.execute(CLIENT_SEATS, parameters).all()  # every branch: a test
    enforce_hold_limits(rows, **limits)
    time.sleep(UNSAFE_HOLD_CHECK.window_seconds)
