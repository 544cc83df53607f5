"""Buying: a new order holds its seats until ``expires_at`` (``create_order``).

An order is created ``pending``, its seats held by ``events.stock.take_seats`` (a
conditional UPDATE per ticket type, docs/locking.md); payment then moves it to ``paid``
(``orders.paying``, ``orders.fulfilment``), its buyer may cancel it
(``orders.buyer_orders``), and an unpaid hold expires (``orders.expiry``).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from admitone import metrics
from admitone.accounts.service import normalize_email
from admitone.authorization import hash_order_token, order_access_token
from admitone.config import Settings
from admitone.db_direct import insert_untracked
from admitone.events import stock
from admitone.metrics import count_after_commit
from admitone.orders import hold_limits
from admitone.orders.details import OrderDetails, OrderLine, reload_details
from admitone.orders.errors import DuplicateTicketType, IdempotencyKeyReused, LimitExceeded, SoldOut
from admitone.orders.expiry import release_expired_holds
from admitone.orders.idempotency import claim_idempotency_key, fingerprint
from admitone.orders.models import Order, OrderItem, OrderStatus
from admitone.orders.sale_terms import check_on_sale, load_for_sale

# Unambiguous on paper and on the phone: no 0/O, 1/I.
ORDER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
ORDER_CODE_LENGTH = 8


@dataclass(frozen=True)
class ItemRequest:
    ticket_type_id: uuid.UUID
    quantity: int


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
    ``stock.take_seats`` (a conditional UPDATE per ticket type, in id order, inside this
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
        request_hash = fingerprint(
            event_id=event_id, quantities=quantities, buyer_name=buyer_name, buyer_email=buyer_email
        )
        record_id = uuid.uuid4()
        record = claim_idempotency_key(
            session,
            scope=idempotency_scope,
            key=idempotency_key,
            fingerprint=request_hash,
            record_id=record_id,
            order_id=order_id,
            now=now,
        )
        if record is not None:
            if record.request_hash != request_hash:
                raise IdempotencyKeyReused()
            return CreatedOrder(
                details=reload_details(session, record.resource_id),
                order_token=order_access_token(
                    settings.secret_key.get_secret_value(), record.resource_id
                ),
                replayed=True,
            )

    order_token = order_access_token(settings.secret_key.get_secret_value(), order_id)
    limits = hold_limits.for_order(
        event_id=event_id,
        order_id=order_id,
        quantities=quantities,
        client=hold_limits.Client(user_id=user_id, buyer_email=buyer_email, client_ip=client_ip),
        now=now,
        settings=settings,
    )
    event, ticket_types = load_for_sale(session, event_id=event_id, quantities=quantities)
    total = check_on_sale(event, ticket_types, quantities, now=now)

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
    insert_untracked(session, [order, *(line.item for line in lines)])
    # The seats last: their ticket-type rows are the hottest in a sale, and a row lock
    # lasts until COMMIT, so nothing else runs between taking it and committing. A
    # sold-out order rolls back with its rows.
    short = stock.take_seats(session, quantities)
    if short is not None:
        # Seats that only lapsed holds still count: release them (or wait for whoever is
        # releasing them), then try again. Only when short, so the orders of a sale that
        # still has seats never look for expired holds.
        release_expired_holds(session, event_id=event.id, now=now)
        short = stock.take_seats(session, quantities)
    if short is not None:
        available = stock.live_availability(session, now=now, ticket_type_ids=quantities)
        raise SoldOut(
            ticket_type_id=str(short),
            available={str(tid): available.get(tid, 0) for tid in sorted(quantities)},
        )
    if limits.apply_to(ticket_types):
        # Under the ticket-type locks just taken: the one statement this adds to an order.
        limits.enforce(session, ticket_types=ticket_types)
    count_after_commit(session, metrics.ORDERS_CREATED)
    return CreatedOrder(
        details=OrderDetails(order=order, lines=lines), order_token=order_token, replayed=False
    )
