"""Orders: seats held until paid, expiry, cancellation, the organizer's views, refunds.

An order is created ``pending`` with its seats held until ``expires_at``; payment moves
it to ``paid`` (payments.service), the buyer may cancel it while pending, and an unpaid
hold expires. Every stock move goes through ``admitone.locking`` (docs/locking.md), and
every state change is a conditional UPDATE whose row count is checked.

A pending order past its ``expires_at`` already reads as ``expired`` and its seats as
available (``effective_status``, ``locking.live_availability``); the rows catch up at
the next write that touches the event or at the periodic sweep (``expire_holds``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    Uuid,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from admitone import locking, metrics
from admitone.accounts.service import normalize_email
from admitone.authorization import (
    OrgAccess,
    hash_order_token,
    keyed_order_token,
    new_order_token,
)
from admitone.config import Environment, Settings
from admitone.db import execute_direct, insert_new, load_direct
from admitone.errors import Busy
from admitone.events.errors import EventNotFound, TicketTypeNotFound
from admitone.events.models import Event, EventStatus, TicketType
from admitone.jobs import enqueue_after_commit
from admitone.metrics import count_after_commit
from admitone.orders import queries
from admitone.orders.errors import (
    BuyerLimitReached,
    DuplicateTicketType,
    EventNotPublished,
    HoldExpired,
    HoldLimitReached,
    IdempotencyKeyReused,
    LimitExceeded,
    OrderNotFound,
    OrderNotPaid,
    OrderNotPending,
    SalesClosed,
    SalesNotOpen,
    SoldOut,
    TicketTypeInactive,
)
from admitone.orders.fulfilment import ORDER_PURPOSE, valid_ticket_seats
from admitone.orders.models import IdempotencyRecord, Order, OrderItem, OrderStatus
from admitone.orders.transitions import move_orders
from admitone.organizations.models import Organization
from admitone.payments import service as payments
from admitone.payments.errors import RefundTooLarge, TicketsNotRefundable
from admitone.payments.models import Payment
from admitone.payments.providers import CheckoutLine, CheckoutRequest, checkout_provider
from admitone.tickets.models import Ticket, TicketStatus
from admitone.tickets.service import revoke_tickets

# Unambiguous on paper and on the phone: no 0/O, 1/I.
ORDER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
ORDER_CODE_LENGTH = 8
# orders.total_minor is a 32-bit integer column.
MAX_TOTAL_MINOR = 2_000_000_000
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class ItemRequest:
    ticket_type_id: uuid.UUID
    quantity: int


@dataclass(frozen=True)
class OrderLine:
    item: OrderItem
    ticket_type_name: str


@dataclass(frozen=True)
class OrderDetails:
    order: Order
    lines: list[OrderLine]


@dataclass(frozen=True)
class CreatedOrder:
    details: OrderDetails
    order_token: str  # the guest's secret: only its hash is stored
    replayed: bool  # an Idempotency-Key retry: the order made by the first request


def _new_code() -> str:
    # 32 letters, so a random byte picks one without bias (256 = 8 x 32): one read of the
    # system's random source per code instead of one per letter.
    letters = len(ORDER_CODE_ALPHABET)
    return "".join(
        ORDER_CODE_ALPHABET[byte % letters] for byte in secrets.token_bytes(ORDER_CODE_LENGTH)
    )


def _details(session: Session, orders: Sequence[Order]) -> list[OrderDetails]:
    """Orders with their lines: one query for all of them (no N+1)."""
    if not orders:
        return []
    lines: dict[uuid.UUID, list[OrderLine]] = defaultdict(list)
    for item, name in session.execute(queries.lines_of(order.id for order in orders)):
        lines[item.order_id].append(OrderLine(item=item, ticket_type_name=name))
    return [OrderDetails(order=order, lines=lines[order.id]) for order in orders]


def _reload(session: Session, order_id: uuid.UUID) -> OrderDetails:
    order = session.scalar(
        select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    )
    assert order is not None  # orders are never deleted
    return _details(session, [order])[0]


def _items_quantities(session: Session, order_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Seats per ticket type over these orders (one grouped query)."""
    if not order_ids:
        return {}
    rows = session.execute(
        select(OrderItem.ticket_type_id, func.sum(OrderItem.quantity))
        .where(OrderItem.order_id.in_(list(order_ids)))
        .group_by(OrderItem.ticket_type_id)
    )
    return {ticket_type_id: int(quantity) for ticket_type_id, quantity in rows}


# --- creating an order -----------------------------------------------------------------


def _quantities(items: Sequence[ItemRequest]) -> dict[uuid.UUID, int]:
    if not items:
        raise DuplicateTicketType("An order needs at least one item.")
    quantities: dict[uuid.UUID, int] = {}
    for item in items:
        if item.ticket_type_id in quantities:
            raise DuplicateTicketType(ticket_type_id=str(item.ticket_type_id))
        if item.quantity < 1:
            raise LimitExceeded(ticket_type_id=str(item.ticket_type_id), requested=item.quantity)
        quantities[item.ticket_type_id] = item.quantity
    return quantities


def _fingerprint(
    *, event_id: uuid.UUID, quantities: dict[uuid.UUID, int], buyer_name: str, buyer_email: str
) -> str:
    canonical = json.dumps(
        {
            "event_id": str(event_id),
            "items": sorted([str(tid), quantity] for tid, quantity in quantities.items()),
            "buyer": [buyer_name, buyer_email],
        },
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _claim_idempotency_key(
    session: Session,
    *,
    scope: str,
    key: str,
    fingerprint: str,
    record_id: uuid.UUID,
    order_id: uuid.UUID,
    now: datetime,
) -> IdempotencyRecord | None:
    """Reserve ``key`` for the order about to be made; the earlier record if it is taken.

    The record is inserted first, before any seat is taken: a concurrent request with the
    same key waits on the unique index (PostgreSQL) or on the write lock (SQLite) and then
    replays this request's order. A request that fails rolls its record back with it.
    """
    lookup = select(IdempotencyRecord).where(
        IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
    )
    existing = session.scalar(lookup)
    if existing is not None and existing.created_at > now - IDEMPOTENCY_KEY_LIFETIME:
        return existing
    if existing is not None:
        session.delete(existing)
        session.flush()
    values = {
        "id": record_id,
        "scope": scope,
        "key": key,
        "request_hash": fingerprint,
        "resource_id": order_id,
        "created_at": now,
    }
    if locking.insert_once(session, IdempotencyRecord, values):
        return None
    # A concurrent request with this key committed first.
    return session.scalar(lookup.execution_options(populate_existing=True))


@dataclass(frozen=True, slots=True)
class EventOnSale:
    """What selling needs of an event."""

    id: uuid.UUID
    organization_id: uuid.UUID
    status: EventStatus
    currency: str
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class TicketTypeOnSale:
    """What selling needs of a ticket type: its terms, not its counters."""

    id: uuid.UUID
    name: str
    price_minor: int
    is_active: bool
    sales_start: datetime | None
    sales_end: datetime | None
    min_per_order: int
    max_per_order: int
    max_per_buyer: int | None


@functools.lru_cache(maxsize=32)
def _sale_terms(type_count: int) -> Select[Any]:
    """The event and ``type_count`` of its ticket types (parameters ``event_id``,
    ``type_0``...): built once per count, columns only. It runs for every order of a
    sale, and building a statement or loading whole entities costs more than the query
    (docs/ARCHITECTURE.md)."""
    return (
        select(
            Event.id.label("event_id"),
            Event.organization_id,
            Event.status,
            Event.currency,
            Event.ends_at,
            *(
                getattr(TicketType, field).label(f"type_{field}")
                for field in TicketTypeOnSale.__slots__
            ),
        )
        .outerjoin(
            TicketType,
            and_(
                TicketType.event_id == Event.id,
                TicketType.id.in_(
                    [bindparam(f"type_{i}", type_=Uuid()) for i in range(type_count)]
                ),
            ),
        )
        .where(Event.id == bindparam("event_id"))
    )


def _load_for_sale(
    session: Session, *, event_id: uuid.UUID, quantities: dict[uuid.UUID, int]
) -> tuple[EventOnSale, dict[uuid.UUID, TicketTypeOnSale]]:
    """The event and the requested ticket types of it, in one query."""
    type_ids = {f"type_{i}": type_id for i, type_id in enumerate(quantities)}
    rows = execute_direct(
        session, _sale_terms(len(type_ids)), {"event_id": event_id, **type_ids}
    ).all()
    if not rows:
        raise EventNotFound(event_id=str(event_id))
    first = rows[0]
    event = EventOnSale(
        id=first.event_id,
        organization_id=first.organization_id,
        status=first.status,
        currency=first.currency,
        ends_at=first.ends_at,
    )
    ticket_types = {
        row.type_id: TicketTypeOnSale(
            *(getattr(row, f"type_{field}") for field in TicketTypeOnSale.__slots__)
        )
        for row in rows
        if row.type_id is not None
    }
    for ticket_type_id in sorted(quantities):
        if ticket_type_id not in ticket_types:
            raise TicketTypeNotFound(ticket_type_id=str(ticket_type_id))
    return event, ticket_types


def _check_on_sale(
    event: EventOnSale,
    ticket_types: dict[uuid.UUID, TicketTypeOnSale],
    quantities: dict[uuid.UUID, int],
    *,
    now: datetime,
) -> int:
    """Raise the first reason these items cannot be sold now; the order total otherwise."""
    if event.status != EventStatus.published:
        raise EventNotPublished(status=str(event.status))
    total = 0
    for ticket_type_id in sorted(quantities):
        ticket_type = ticket_types[ticket_type_id]
        quantity = quantities[ticket_type_id]
        if not ticket_type.is_active:
            raise TicketTypeInactive(ticket_type_id=str(ticket_type_id))
        if ticket_type.sales_start is not None and now < ticket_type.sales_start:
            raise SalesNotOpen(
                ticket_type_id=str(ticket_type_id), sales_start=ticket_type.sales_start
            )
        # Without an explicit end, sales close when the event ends.
        sales_end = ticket_type.sales_end or event.ends_at
        if now >= sales_end:
            raise SalesClosed(ticket_type_id=str(ticket_type_id), sales_end=sales_end)
        if not ticket_type.min_per_order <= quantity <= ticket_type.max_per_order:
            raise LimitExceeded(
                ticket_type_id=str(ticket_type_id),
                requested=quantity,
                min_per_order=ticket_type.min_per_order,
                max_per_order=ticket_type.max_per_order,
            )
        total += quantity * ticket_type.price_minor
    if total > MAX_TOTAL_MINOR:
        raise LimitExceeded("The order total is too large.", max_total_minor=MAX_TOTAL_MINOR)
    return total


# --- hold limits (issue 13: nobody can hold the whole stock) ----------------------------

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
_CLIENT_SEATS = _client_seats_statement(by_address=True)
_BUYER_SEATS = _client_seats_statement(by_address=False)


def _seats_statement(settings: Settings, client: _Client) -> Select[Any]:
    return (
        _CLIENT_SEATS if settings.max_held_seats_per_address and client.client_ip else _BUYER_SEATS
    )


@dataclass(frozen=True)
class _Client:
    """Who is ordering, as the hold limits count them."""

    user_id: uuid.UUID | None
    buyer_email: str
    client_ip: str | None


def _limits_apply(
    settings: Settings,
    client: _Client,
    ticket_types: dict[uuid.UUID, TicketTypeOnSale],
) -> bool:
    return bool(
        settings.max_held_seats_per_client
        or (settings.max_held_seats_per_address and client.client_ip)
        or any(ticket_type.max_per_buyer is not None for ticket_type in ticket_types.values())
    )


def _enforce_hold_limits(
    rows: Sequence[Any],
    *,
    quantities: dict[uuid.UUID, int],
    ticket_types: dict[uuid.UUID, TicketTypeOnSale],
    client: _Client,
    settings: Settings,
) -> None:
    """Raise when this order, added to the client's other orders (``rows`` of
    ``_CLIENT_SEATS``), goes beyond a limit: the organizer's per buyer first (it does not
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


def _client_seats_parameters(
    *, event_id: uuid.UUID, order_id: uuid.UUID, client: _Client, now: datetime
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


_UNSAFE_HOLD_CHECK = _UnsafeHoldCheck()


def enable_unsafe_hold_check(settings: Settings, *, window_seconds: float = 0.05) -> None:
    """TEST ONLY: count the client's seats before taking any lock (on a connection of its
    own, then a pause), as a naive implementation would: the race test shows that
    concurrent orders of one client then all pass. Refused unless ``settings.env`` is test.
    """
    if settings.env != Environment.test:
        raise RuntimeError("the unsafe hold check exists for the race tests only")
    with _UNSAFE_HOLD_CHECK.lock:
        _UNSAFE_HOLD_CHECK.enabled = True
        _UNSAFE_HOLD_CHECK.window_seconds = window_seconds


def disable_unsafe_hold_check() -> None:
    with _UNSAFE_HOLD_CHECK.lock:
        _UNSAFE_HOLD_CHECK.enabled = False


def _check_limits_without_lock(session: Session, parameters: dict[str, Any], **limits: Any) -> None:
    bind = session.get_bind()
    connection: Connection
    with bind.connect().execution_options(sqlite_begin_immediate=False) as connection:
        rows = connection.execute(_CLIENT_SEATS, parameters).all()  # every branch: a test
    _enforce_hold_limits(rows, **limits)
    time.sleep(_UNSAFE_HOLD_CHECK.window_seconds)


def create_order(
    session: Session,
    *,
    event_id: uuid.UUID,
    items: Sequence[ItemRequest],
    buyer_name: str,
    buyer_email: str,
    user_id: uuid.UUID | None,
    now: datetime,
    settings: Settings,
    idempotency_scope: str | None = None,
    idempotency_key: str | None = None,
    locale: str | None = None,
    client_ip: str | None = None,
) -> CreatedOrder:
    """Hold seats for a new pending order that expires after ``settings.unpaid_hold``
    (paying extends it: ``pay_order``).

    Invariant: sold + held never exceeds capacity — seats are taken only by
    ``locking.take_seats`` (a conditional UPDATE per ticket type, in id order, inside this
    transaction); when they fall short, the event's expired holds are released and the
    seats taken again. Prices and the total come from the ticket types, never from the
    caller. With an idempotency key, a retry of the same request returns the same order;
    a different request with the key is refused.

    Hold limits (docs/locking.md): once the seats are taken, so under the ticket-type row
    locks until COMMIT, one query sums the seats the same account or e-mail (and the same
    ``client_ip``) holds for the event, and the buyer's paid and held seats of each type
    with a ``max_per_buyer``; beyond a limit, HoldLimitReached or BuyerLimitReached and
    the whole order rolls back. A concurrent order of the same ticket types waits for
    this one's commit, so it counts it.
    """
    quantities = _quantities(items)
    buyer_email = normalize_email(buyer_email)
    order_id = uuid.uuid4()
    if idempotency_key is not None:
        if idempotency_scope is None:
            raise ValueError("an idempotency key needs its scope")
        fingerprint = _fingerprint(
            event_id=event_id, quantities=quantities, buyer_name=buyer_name, buyer_email=buyer_email
        )
        record_id = uuid.uuid4()
        record = _claim_idempotency_key(
            session,
            scope=idempotency_scope,
            key=idempotency_key,
            fingerprint=fingerprint,
            record_id=record_id,
            order_id=order_id,
            now=now,
        )
        if record is not None:
            if record.request_hash != fingerprint:
                raise IdempotencyKeyReused()
            return CreatedOrder(
                details=_reload(session, record.resource_id),
                order_token=keyed_order_token(settings.secret_key.get_secret_value(), record.id),
                replayed=True,
            )
        order_token = keyed_order_token(settings.secret_key.get_secret_value(), record_id)
    else:
        order_token = new_order_token()

    client = _Client(user_id=user_id, buyer_email=buyer_email, client_ip=client_ip)
    limits_parameters = _client_seats_parameters(
        event_id=event_id, order_id=order_id, client=client, now=now
    )
    unsafe_check = _UNSAFE_HOLD_CHECK.enabled
    if unsafe_check:
        # The negative control: counted before this transaction takes any lock.
        _check_limits_without_lock(
            session,
            limits_parameters,
            quantities=quantities,
            ticket_types={},
            client=client,
            settings=settings,
        )

    event, ticket_types = _load_for_sale(session, event_id=event_id, quantities=quantities)
    total = _check_on_sale(event, ticket_types, quantities, now=now)
    check_limits = not unsafe_check and _limits_apply(settings, client, ticket_types)

    order = Order(
        id=order_id,
        code=_new_code(),
        organization_id=event.organization_id,
        event_id=event.id,
        user_id=user_id,
        buyer_name=buyer_name,
        buyer_email=buyer_email,
        access_token_hash=hash_order_token(order_token),
        status=OrderStatus.pending,
        currency=event.currency,
        total_minor=total,
        expires_at=now + settings.unpaid_hold,
        locale=locale,  # the buyer's language: the mails about this order use it
        client_ip=client_ip,
    )
    lines = [
        OrderLine(
            item=OrderItem(
                order_id=order_id,
                ticket_type_id=ticket_type_id,
                quantity=quantity,
                unit_price_minor=ticket_types[ticket_type_id].price_minor,
            ),
            ticket_type_name=ticket_types[ticket_type_id].name,
        )
        for ticket_type_id, quantity in sorted(quantities.items())
    ]
    insert_new(session, [order, *(line.item for line in lines)])
    # The seats last: their ticket-type rows are the hottest in a sale, and a row lock
    # lasts until COMMIT, so nothing else runs between taking it and committing. A
    # sold-out order rolls back with its rows.
    short = locking.take_seats(session, quantities)
    if short is not None:
        # Seats that only lapsed holds still count: release them (or wait for whoever is
        # releasing them), then try again. Only when short, so the orders of a sale that
        # still has seats never look for expired holds.
        locking.release_expired_holds(session, event_id=event.id, now=now)
        short = locking.take_seats(session, quantities)
    if short is not None:
        available = locking.live_availability(session, now=now, ticket_type_ids=quantities)
        raise SoldOut(
            ticket_type_id=str(short),
            available={str(tid): available.get(tid, 0) for tid in sorted(quantities)},
        )
    if check_limits:
        # Under the ticket-type locks just taken: the one statement this adds to an order.
        rows = execute_direct(session, _seats_statement(settings, client), limits_parameters).all()
        _enforce_hold_limits(
            rows, quantities=quantities, ticket_types=ticket_types, client=client, settings=settings
        )
    count_after_commit(session, metrics.ORDERS_CREATED)
    return CreatedOrder(
        details=OrderDetails(order=order, lines=lines), order_token=order_token, replayed=False
    )


# --- the buyer's orders ----------------------------------------------------------------


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
    return _details(session, [order])[0]


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
    return _details(session, orders), total


def _expire_if_due(session: Session, order: Order, *, now: datetime) -> None:
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
    _expire_if_due(session, order, now=now)
    if not move_orders(
        session, [order], source=OrderStatus.pending, target=OrderStatus.cancelled, now=now
    ):
        current = session.scalar(select(Order.status).where(Order.id == order.id))
        raise OrderNotPending(status=str(current))
    locking.release_held(session, _items_quantities(session, [order.id]))
    return _reload(session, order.id)


_EXTEND_HOLD = (
    update(_orders)
    .where(
        _orders.c.id == bindparam("order_id"),
        queries.status_guard(OrderStatus.pending),
        _orders.c.expires_at > bindparam("now"),
    )
    .values(expires_at=bindparam("new_expires_at"), updated_at=bindparam("now"))
)


def _extend_hold(session: Session, order: Order, *, now: datetime, settings: Settings) -> None:
    """The payment step's full hold; one statement, only when the hold is still short."""
    full_hold = order.created_at + timedelta(minutes=settings.hold_minutes)
    if order.expires_at >= full_hold:
        return  # extended already (a second checkout), or made with the full hold
    extended = execute_direct(
        session, _EXTEND_HOLD, {"order_id": order.id, "now": now, "new_expires_at": full_hold}
    )
    if extended.rowcount != 1:
        # Paid, cancelled or expired since it was read: let the buyer reload.
        raise OrderNotPending(status="changed")
    set_committed_value(order, "expires_at", full_hold)


# A new checkout needs, beside the order: its lines with their names, the organization's
# connected account, and an open checkout of the same amount if a double click already
# started one. The buyer's order is read with them in one round trip: each of the
# buyer's statements (queries.BUYER_ORDER) is extended once.
_OPEN_CHECKOUT = payments.open_checkout(
    purpose=ORDER_PURPOSE, purpose_id=Order.id, amount_minor=Order.total_minor
).correlate(Order)


def _with_checkout_facts(order: Select[tuple[Order]]) -> Select[Any]:
    """A statement reading one ``Order``, extended with its ``CheckoutFacts``: one row
    per line, the order first (read them with ``_checkout_facts``). Parameter:
    ``provider``, the configured provider's name."""
    return (
        order.add_columns(
            TicketType.name,
            OrderItem.quantity,
            OrderItem.unit_price_minor,
            Organization.stripe_account_id,
            _OPEN_CHECKOUT.label("open_checkout_id"),
        )
        .join(OrderItem, OrderItem.order_id == Order.id)
        .join(TicketType, TicketType.id == OrderItem.ticket_type_id)
        .join(Organization, Organization.id == Order.organization_id)
        .order_by(TicketType.position, TicketType.id)
    )


@dataclass(frozen=True)
class CheckoutFacts:
    lines: list[CheckoutLine]
    stripe_account_id: str | None
    open_checkout_id: uuid.UUID | None


def _checkout_facts(rows: Sequence[Any]) -> CheckoutFacts:
    """The facts in the rows of a ``_with_checkout_facts`` statement (at least one row)."""
    return CheckoutFacts(
        lines=[
            CheckoutLine(
                name=row.name, quantity=row.quantity, unit_price_minor=row.unit_price_minor
            )
            for row in rows
        ],
        stripe_account_id=rows[0].stripe_account_id,
        open_checkout_id=rows[0].open_checkout_id,
    )


_BUYER_ORDER_TO_PAY = {
    way: _with_checkout_facts(statement) for way, statement in queries.BUYER_ORDER.items()
}


def pay_order(
    session: Session,
    *,
    order_id: uuid.UUID,
    user_id: uuid.UUID | None,
    order_token: str | None,
    now: datetime,
    settings: Settings,
) -> tuple[Payment, bool]:
    """Start paying a pending order with the configured provider; (payment, created).

    No stock lock: the seats are already held; what a payment may change is decided when
    it succeeds (orders.fulfilment). The short hold of an order not yet at this step is
    extended to ``created_at + hold_minutes`` (never further, so that paying again and
    again cannot keep seats forever), by a conditional UPDATE of the order row that only
    a live pending hold matches. An open checkout of the same amount is answered again.
    """
    statement, parameters = queries.buyer_order(
        order_id=order_id,
        user_id=user_id,
        order_token_hash=hash_order_token(order_token) if order_token else None,
        statements=_BUYER_ORDER_TO_PAY,
    )
    provider = checkout_provider(settings)
    rows = load_direct(session, statement, {**parameters, "provider": provider.name})
    if not rows:
        raise OrderNotFound()
    order = rows[0][0]
    _expire_if_due(session, order, now=now)
    if order.status != OrderStatus.pending:
        raise OrderNotPending(status=str(order.status))
    _extend_hold(session, order, now=now, settings=settings)
    facts = _checkout_facts(rows)
    return payments.create_payment(
        session,
        purpose=ORDER_PURPOSE,
        purpose_id=order.id,
        amount_minor=order.total_minor,
        currency=order.currency,
        checkout=CheckoutRequest(
            lines=facts.lines,
            customer_email=order.buyer_email,
            expires_at=order.expires_at,  # the hold, extended above
            return_path=f"/orders/{order.id}",
            metadata={"order_id": str(order.id), "order_code": order.code},
        ),
        transfer_destination=facts.stripe_account_id,
        open_checkout_id=facts.open_checkout_id,
        settings=settings,
    )


# --- availability and expiry -----------------------------------------------------------


def get_availability(
    session: Session, *, event_id: uuid.UUID, now: datetime
) -> dict[uuid.UUID, int]:
    """Seats on sale per ticket type of an event: capacity - sold - live holds (read-only)."""
    return locking.live_availability(session, now=now, event_id=event_id)


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


def purge_idempotency_keys(session: Session, *, now: datetime) -> int:
    """Forget idempotency keys older than 24 hours (after that a key may be used again)."""
    result = session.execute(
        delete(IdempotencyRecord)
        .where(IdempotencyRecord.created_at <= now - IDEMPOTENCY_KEY_LIFETIME)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


# --- the organizer's side --------------------------------------------------------------


def _require_event(session: Session, *, access: OrgAccess, event_id: uuid.UUID) -> Event:
    event = session.scalar(queries.event_of_organization(access.organization.id, event_id))
    if event is None:
        raise EventNotFound()
    return event


def get_organization_event(session: Session, *, access: OrgAccess, event_id: uuid.UUID) -> Event:
    """An event of the caller's organization; 404 for anyone else's."""
    return _require_event(session, access=access, event_id=event_id)


def list_event_orders(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    now: datetime,
    text: str | None = None,
    status: OrderStatus | None = None,
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[OrderDetails], int]:
    """One page of an event's orders (newest first) and their total, for its organizer.

    ``text`` matches the buyer's name, e-mail or the order code; ``status`` is the status
    a reader sees (a pending order past its hold counts as expired).
    """
    _require_event(session, access=access, event_id=event_id)
    statement = queries.orders_of_event(access.organization.id, event_id)
    if text:
        statement = queries.matching(statement, text)
    if status is not None:
        statement = queries.with_status(statement, status, now=now)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    orders = session.scalars(
        statement.order_by(Order.created_at.desc(), Order.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return _details(session, orders), total


@dataclass(frozen=True)
class TicketTypeSales:
    tickets: int
    revenue_minor: int


@dataclass(frozen=True)
class SalesSummary:
    """An event's paid sales for its organizer's figures, aggregated in the database."""

    by_ticket_type: dict[uuid.UUID, TicketTypeSales]
    # (paid at, seats) of each paid order: for a chart by day in the event's time zone.
    paid_seats: list[tuple[datetime, int]]

    @property
    def paid_orders(self) -> int:
        return len(self.paid_seats)


def sales_summary(session: Session, *, access: OrgAccess, event_id: uuid.UUID) -> SalesSummary:
    """Tickets and revenue per ticket type, and seats per paid order, of paid orders.

    Grouped by SQL rather than loading the orders: a festival's page stays one query
    away from its figures whatever the number of orders. Read-only, no lock.
    """
    _require_event(session, access=access, event_id=event_id)
    paid = (
        Order.organization_id == access.organization.id,
        Order.event_id == event_id,
        Order.status == OrderStatus.paid,
    )
    by_type = {
        ticket_type_id: TicketTypeSales(tickets=int(tickets), revenue_minor=int(revenue))
        for ticket_type_id, tickets, revenue in session.execute(
            select(
                OrderItem.ticket_type_id,
                func.sum(OrderItem.quantity),
                func.sum(OrderItem.quantity * OrderItem.unit_price_minor),
            )
            .join(Order, Order.id == OrderItem.order_id)
            .where(*paid)
            .group_by(OrderItem.ticket_type_id)
        )
    }
    paid_seats = [
        (moment, int(seats))
        for moment, seats in session.execute(
            select(func.coalesce(Order.paid_at, Order.created_at), func.sum(OrderItem.quantity))
            .join(OrderItem, OrderItem.order_id == Order.id)
            .where(*paid)
            .group_by(Order.id, Order.paid_at, Order.created_at)
        )
    ]
    return SalesSummary(by_ticket_type=by_type, paid_seats=paid_seats)


def get_event_order(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, order_id: uuid.UUID
) -> OrderDetails:
    """One order of the organization's event; 404 for anyone else's."""
    order = session.scalar(
        queries.orders_of_event(access.organization.id, event_id).where(Order.id == order_id)
    )
    if order is None:
        raise OrderNotFound()
    return _details(session, [order])[0]


def _refund_paid_orders(
    session: Session,
    *,
    order_ids: Sequence[uuid.UUID],
    reason: str,
    now: datetime,
    settings: Settings,
) -> list[uuid.UUID]:
    """paid -> refunded for these orders (their rows already locked or locked here, in id
    order); payments refunded through their provider, tickets revoked, seats back on sale.
    Returns the ids that this call refunded."""
    if not order_ids:
        return []
    refunded = move_orders(
        session, order_ids, source=OrderStatus.paid, target=OrderStatus.refunded, now=now
    )
    if not refunded:
        return []
    refunds = payments.refund_payments_of(
        session,
        purpose=ORDER_PURPOSE,
        purpose_ids=refunded,
        reason=reason,
        now=now,
        settings=settings,
    )
    # Seats still sold are those of the still valid tickets: a partial refund before this
    # one already put its seats back on sale.
    seats = valid_ticket_seats(session, refunded)
    for order_id in refunded:
        revoke_tickets(session, order_id=order_id)
    for refund in refunds:  # a notice per refund (none for a cancelled event's: see job)
        enqueue_after_commit(session, "notifications.send_refund_notice", refund_id=str(refund.id))
    locking.release_sold(session, seats)
    return refunded


def _refund_tickets(
    session: Session,
    *,
    order: Order,
    ticket_ids: Sequence[uuid.UUID],
    reason: str,
    now: datetime,
    settings: Settings,
) -> None:
    """Partial refund: these valid tickets of a paid order are revoked and refunded at
    their price, their seats back on sale; the order stays paid with ``refunded_minor``
    grown (or becomes refunded when no valid ticket is left).

    Invariant: a ticket is refunded once (two concurrent refunds of it: the order row
    lock serializes them and the second finds it revoked) and the order's refunds never
    exceed its total. Lock: the order row, the payment row, the tickets, ticket types.
    """
    status = session.scalar(
        select(Order.status)
        .where(Order.id == order.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if status != OrderStatus.paid:
        raise OrderNotPaid(status=str(status))
    wanted = sorted(set(ticket_ids))
    revoked = session.execute(
        update(Ticket)
        .where(
            Ticket.order_id == order.id,
            Ticket.id.in_(wanted),
            Ticket.status == TicketStatus.valid,
        )
        .values(status=TicketStatus.revoked, revoked_at=now)
        .returning(Ticket.ticket_type_id, Ticket.order_item_id)
        .execution_options(synchronize_session=False)
    ).all()
    if len(revoked) != len(wanted):
        # Rolled back with the whole unit of work: nothing is revoked.
        raise TicketsNotRefundable(requested=len(wanted), refundable=len(revoked))
    prices = dict(
        session.execute(
            select(OrderItem.id, OrderItem.unit_price_minor).where(OrderItem.order_id == order.id)
        ).all()
    )
    amount = sum(prices[item_id] for _type, item_id in revoked)
    still_valid = session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.order_id == order.id, Ticket.status == TicketStatus.valid)
    )
    if still_valid == 0:
        # The last tickets: everything left is refunded, whatever was refunded before
        # (also an amount refunded in the Stripe dashboard).
        moved = move_orders(
            session, [order], source=OrderStatus.paid, target=OrderStatus.refunded, now=now
        )
    else:
        grown = session.execute(
            update(Order)
            .where(
                Order.id == order.id,
                Order.status == OrderStatus.paid,
                Order.refunded_minor + amount <= Order.total_minor,
            )
            .values(refunded_minor=Order.refunded_minor + amount, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        moved = [order.id] if grown.rowcount == 1 else []
    if not moved:
        raise RefundTooLarge(requested_minor=amount)
    payment = payments.paying_payment(session, purpose=ORDER_PURPOSE, purpose_id=order.id)
    refund = None
    if still_valid == 0 and payment is not None:
        refund = payments.refund_payment(
            session, payment=payment, reason=reason, now=now, settings=settings
        )
    elif amount > 0 and payment is not None:
        refund = payments.refund_payment_amount(
            session,
            payment_id=payment.id,
            amount_minor=amount,
            reason=reason,
            now=now,
            settings=settings,
        )
    locking.release_sold(
        session, locking.sum_quantities((type_id, 1) for type_id, _item in revoked)
    )
    if refund is not None:  # its own notice, naming the tickets it revoked
        enqueue_after_commit(
            session,
            "notifications.send_refund_notice",
            refund_id=str(refund.id),
            ticket_ids=[str(ticket_id) for ticket_id in wanted],
        )


def refund_order(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    order_id: uuid.UUID,
    reason: str,
    now: datetime,
    settings: Settings,
    ticket_ids: Sequence[uuid.UUID] | None = None,
) -> OrderDetails:
    """Refund a paid order: in full, or only ``ticket_ids`` (a partial refund).

    Provider refund, tickets revoked, seats back on sale. Invariant: refunded once
    (conditional paid -> refunded), never more than paid. Lock: the order row, its
    payments, then its ticket types in id order.
    """
    order = session.scalar(
        queries.orders_of_event(access.organization.id, event_id).where(Order.id == order_id)
    )
    if order is None:
        raise OrderNotFound()
    if ticket_ids:
        _refund_tickets(
            session,
            order=order,
            ticket_ids=ticket_ids,
            reason=reason or "organizer_refund",
            now=now,
            settings=settings,
        )
        return _reload(session, order.id)
    if not _refund_paid_orders(
        session,
        order_ids=[order.id],
        reason=reason or "organizer_refund",
        now=now,
        settings=settings,
    ):
        current = session.scalar(select(Order.status).where(Order.id == order.id))
        raise OrderNotPaid(status=str(current))
    return _reload(session, order.id)


def cancel_event_orders(session: Session, *, event_id: uuid.UUID, now: datetime) -> None:
    """A cancelled event: every pending order is cancelled now (its hold released), and
    every paid one is refunded by the job ``orders.refund_cancelled_event``, each in a
    unit of work of its own.

    The refunds are a job because each is a call to the payment provider: a large event
    would keep the organizer's request waiting for minutes, and one refused refund would
    undo the whole cancellation. Lock: the event's pending order rows in id order, then
    its ticket types in id order.
    """
    enqueue_after_commit(session, "orders.refund_cancelled_event", event_id=str(event_id))
    pending = session.scalars(
        select(Order.id)
        .where(Order.event_id == event_id, Order.status == OrderStatus.pending)
        .order_by(Order.id)
        .with_for_update(of=Order)
    ).all()
    if not pending:
        return
    locking.lock_event_ticket_types(session, event_id)
    cancelled = move_orders(
        session, pending, source=OrderStatus.pending, target=OrderStatus.cancelled, now=now
    )
    locking.release_held(session, _items_quantities(session, cancelled))


def paid_orders_of_cancelled_event(session: Session, event_id: uuid.UUID) -> list[uuid.UUID]:
    """The paid orders still to refund of a cancelled event (none if it is not cancelled)."""
    return list(
        session.scalars(
            select(Order.id)
            .join(Event, Event.id == Order.event_id)
            .where(
                Order.event_id == event_id,
                Order.status == OrderStatus.paid,
                Event.status == EventStatus.cancelled,
            )
            .order_by(Order.id)
        )
    )


def cancelled_events_with_paid_orders(
    session: Session, *, cancelled_after: datetime, cancelled_before: datetime
) -> list[uuid.UUID]:
    """Events cancelled in this window that still have paid orders to refund."""
    return list(
        session.scalars(
            select(Event.id)
            .where(
                Event.status == EventStatus.cancelled,
                Event.cancelled_at > cancelled_after,
                Event.cancelled_at <= cancelled_before,
                select(Order.id)
                .where(Order.event_id == Event.id, Order.status == OrderStatus.paid)
                .exists(),
            )
            .order_by(Event.cancelled_at)
        )
    )


def refund_cancelled_event_order(
    session: Session, *, order_id: uuid.UUID, now: datetime, settings: Settings
) -> bool:
    """Refund one paid order of a cancelled event in full; False if it is not paid any
    more (refunded meanwhile: the paid -> refunded update finds nothing to move)."""
    refunded = _refund_paid_orders(
        session, order_ids=[order_id], reason="event_cancelled", now=now, settings=settings
    )
    return bool(refunded)
