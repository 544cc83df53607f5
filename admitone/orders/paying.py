"""Paying: the buyer starts a checkout for a pending order (``pay_order``).

The order's hold is extended to its full length and a payment of purpose "order" is
opened with the configured provider (``payments``); what the payment does once it
succeeds is ``orders.fulfilment``'s.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from admitone.authorization import hash_order_token
from admitone.config import Settings
from admitone.db_direct import DirectLoad, DirectStatement, execute_direct, load_direct
from admitone.events.models import TicketType
from admitone.orders import queries
from admitone.orders.errors import OrderNotFound, OrderNotPending
from admitone.orders.expiry import expire_if_due
from admitone.orders.fulfilment import ORDER_PURPOSE
from admitone.orders.models import Order, OrderItem, OrderStatus
from admitone.organizations.models import Organization
from admitone.payments import checkout
from admitone.payments.models import Payment
from admitone.payments.providers import CheckoutLine, CheckoutRequest, checkout_provider

_orders = cast(Table, Order.__table__)  # a declarative model's table is a Table

_EXTEND_HOLD = DirectStatement(
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
_OPEN_CHECKOUT = checkout.open_checkout(
    purpose=ORDER_PURPOSE, purpose_id=Order.id, amount_minor=Order.total_minor
).correlate(Order)


def _with_checkout_facts(order: Select[Order]) -> Select[*tuple[Any, ...]]:
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
    way: DirectLoad(_with_checkout_facts(statement))
    for way, statement in queries.BUYER_ORDER.items()
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
    expire_if_due(session, order, now=now)
    if order.status != OrderStatus.pending:
        raise OrderNotPending(status=str(order.status))
    _extend_hold(session, order, now=now, settings=settings)
    facts = _checkout_facts(rows)
    return checkout.create_payment(
        session,
        purpose=ORDER_PURPOSE,
        purpose_id=order.id,
        amount_minor=order.total_minor,
        currency=order.currency,
        request=CheckoutRequest(
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
