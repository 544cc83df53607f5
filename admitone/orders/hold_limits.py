"""Hold limits (issue 13): nobody holds the whole stock.

Once an order's seats are taken, so under the ticket-type row locks until COMMIT, one
statement sums the seats the same account or e-mail (and the same network address)
holds for the event, and the buyer's paid and held seats of each type with a
``max_per_buyer``; beyond a limit the whole order rolls back (docs/locking.md, "Hold
limits").
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, func, literal, or_, select
from sqlalchemy.orm import Session

from admitone.config import Settings
from admitone.db_direct import DirectStatement, execute_direct
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
CLIENT_SEATS = DirectStatement(_client_seats_statement(by_address=True))
_BUYER_SEATS = DirectStatement(_client_seats_statement(by_address=False))


@dataclass(frozen=True)
class Client:
    """Who is ordering, as the hold limits count them."""

    user_id: uuid.UUID | None
    buyer_email: str
    client_ip: str | None


@dataclass(frozen=True)
class HoldLimits:
    """The hold limits of one new order: its client, its seats, and the parameters of the
    count of the client's other seats (``CLIENT_SEATS``)."""

    client: Client
    quantities: Mapping[uuid.UUID, int]
    parameters: Mapping[str, Any]
    settings: Settings

    def apply_to(self, ticket_types: Mapping[uuid.UUID, TicketTypeOnSale]) -> bool:
        """Whether any bound is on for this order: none, and the count is not run."""
        return bool(
            self.settings.max_held_seats_per_client
            or (self.settings.max_held_seats_per_address and self.client.client_ip)
            or any(ticket_type.max_per_buyer is not None for ticket_type in ticket_types.values())
        )

    def enforce(
        self, session: Session, *, ticket_types: Mapping[uuid.UUID, TicketTypeOnSale]
    ) -> None:
        """Count the client's other seats and raise beyond a bound (``check``).

        Lock: none of its own. The caller has taken the order's seats, so it holds their
        ticket-type rows until COMMIT (SQLite: the write lock): a concurrent order of the
        same seats waits, and its count sees this order.
        """
        by_address = self.settings.max_held_seats_per_address and self.client.client_ip
        statement = CLIENT_SEATS if by_address else _BUYER_SEATS
        rows = execute_direct(session, statement, self.parameters).all()
        check(
            rows,
            quantities=self.quantities,
            ticket_types=ticket_types,
            client=self.client,
            settings=self.settings,
        )


def for_order(
    *,
    event_id: uuid.UUID,
    order_id: uuid.UUID,
    quantities: Mapping[uuid.UUID, int],
    client: Client,
    now: datetime,
    settings: Settings,
) -> HoldLimits:
    """The hold limits of a new order; no query. ``create_order`` asks for them before its
    first statement and enforces them once its seats are taken. (The race tests' negative
    control puts a version that counts here, before any lock, in its place:
    tests/concurrency/unsafe.py.)"""
    return HoldLimits(
        client=client,
        quantities=quantities,
        parameters={
            "event_id": event_id,
            "order_id": order_id,
            "user_id": client.user_id,
            "buyer_email": client.buyer_email,
            "client_ip": client.client_ip,
            "now": now,
        },
        settings=settings,
    )


def check(
    rows: Sequence[Any],
    *,
    quantities: Mapping[uuid.UUID, int],
    ticket_types: Mapping[uuid.UUID, TicketTypeOnSale],
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
