"""Payments: checkout, the one idempotent "payment succeeded" path, failures, refunds.

``payment_succeeded`` is what the test provider's Approve button calls, and what a
provider webhook will call. Each step is a guarded transition, so a notification
delivered twice, late, or twice at the same instant has one effect:

1. the notification enters the inbox under its unique (provider, external id); a
   duplicate is acknowledged and changes nothing;
2. the payment moves pending|failed -> succeeded (conditional UPDATE); another
   notification for an already succeeded payment changes nothing;
3. the order moves pending -> paid (conditional UPDATE), its held seats become sold and
   its tickets are issued. If the hold had expired, the seats are taken again through
   ``locking.take_seats`` when they are free; when they are not (or the order was
   cancelled, or another payment paid it already) the payment is refunded at once.

Lock order, as everywhere (docs/locking.md): payment row, order row, ticket types by id.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import Row, Select, bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from admitone import locking, metrics
from admitone.authorization import BuyerProof, proves_buyer
from admitone.config import Settings
from admitone.db import execute_direct, insert_new, load_direct, utcnow
from admitone.events.models import Event, EventStatus, TicketType
from admitone.jobs import enqueue_after_commit
from admitone.metrics import count_after_commit
from admitone.orders.models import Order, OrderItem, OrderStatus
from admitone.orders.transitions import move_orders
from admitone.organizations.models import Organization
from admitone.payments.errors import PaymentNotFound, PaymentNotPending, RefundTooLarge
from admitone.payments.models import Payment, PaymentNotification, PaymentStatus, Refund
from admitone.payments.providers import (
    BuiltInTestProvider,
    CheckoutLine,
    checkout_provider,
    get_provider,
)
from admitone.tickets.service import issue_tickets


class PaymentOutcome(StrEnum):
    paid = "paid"  # this payment paid the order; tickets issued
    duplicate = "duplicate"  # the same notification again: nothing changed
    already_processed = "already_processed"  # the payment had already reached this state
    refunded = "refunded"  # succeeded but could not be honoured: refunded automatically
    failed = "failed"  # declined; the order stays pending and may be paid again


class LineSeats(NamedTuple):
    """An order line's seats, as paying it needs them (``tickets.service.OrderLineSeats``)."""

    id: uuid.UUID
    ticket_type_id: uuid.UUID
    quantity: int


def require_buyer(order: Order, buyer: BuyerProof | None) -> None:
    """PaymentNotFound unless ``buyer`` reaches ``order`` (no check when None: a provider's
    verified notification)."""
    # Checked on the order row the notification loads anyway: no extra round trip. A
    # stranger gets the 404 of a payment that does not exist (ids do not leak); the unit
    # of work rolls back the inbox row already inserted, so nothing changes.
    if buyer is not None and not proves_buyer(
        buyer, buyer_user_id=order.user_id, order_token_hash=order.access_token_hash
    ):
        raise PaymentNotFound()


@dataclass(frozen=True)
class PaymentResult:
    outcome: PaymentOutcome
    payment: Payment
    order: Order


# --- checkout --------------------------------------------------------------------------


# A new checkout needs, beside the order: its lines with their names, the organization's
# connected account, and an open checkout of the same amount if a double click already
# started one. The buyer's order is read with them in one round trip: the caller extends
# its own statement for the order with ``with_checkout_facts`` (built once per statement).
_open_checkout_of_order = (
    select(Payment.id)
    .where(
        Payment.order_id == Order.id,
        Payment.status == PaymentStatus.pending,
        Payment.provider == bindparam("provider"),
        Payment.amount_minor == Order.total_minor,
    )
    .order_by(Payment.created_at.desc())
    .limit(1)
    .correlate(Order)
    .scalar_subquery()
)


def with_checkout_facts(order: Select[tuple[Order]]) -> Select[Any]:
    """A statement reading one ``Order``, extended with its ``CheckoutFacts``: one row
    per line, the order first (read them with ``checkout_facts``). Parameter: ``provider``,
    the configured provider's name."""
    return (
        order.add_columns(
            TicketType.name,
            OrderItem.quantity,
            OrderItem.unit_price_minor,
            Organization.stripe_account_id,
            _open_checkout_of_order.label("open_checkout_id"),
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


def checkout_facts(rows: Sequence[Row[Any]]) -> CheckoutFacts:
    """The facts in the rows of a ``with_checkout_facts`` statement (at least one row)."""
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


def create_payment(
    session: Session, *, order: Order, facts: CheckoutFacts, settings: Settings
) -> tuple[Payment, bool]:
    """A checkout with the configured provider for a pending order; (payment, created).

    The caller has checked that the order is the buyer's and pending, and read its
    ``facts`` (``with_checkout_facts``). An open checkout of the same amount is reused, so
    a double click does not invite a double payment. No lock: starting a payment changes
    no stock; its success decides (see module doc).
    """
    provider = checkout_provider(settings)
    if facts.open_checkout_id is not None:
        existing = session.get(Payment, facts.open_checkout_id)
        assert existing is not None  # payments are never deleted
        return existing, False
    payment = Payment(
        id=uuid.uuid4(),
        order_id=order.id,
        provider=provider.name,
        status=PaymentStatus.pending,
        amount_minor=order.total_minor,
        currency=order.currency,
        refunded_minor=0,
        application_fee_minor=platform_fee(order.total_minor, settings.platform_fee_percent),
        transfer_destination=facts.stripe_account_id,
    )
    checkout = provider.create_checkout(
        order=order, payment=payment, lines=facts.lines, now=utcnow()
    )
    payment.provider_ref = checkout.provider_ref
    payment.checkout_url = checkout.url
    insert_new(session, [payment])
    return payment, True


def platform_fee(total_minor: int, percent: Decimal) -> int:
    """The platform's commission: ``total x percent / 100`` rounded half up to a minor unit."""
    fee = (Decimal(total_minor) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return min(int(fee), total_minor)


def get_payment(session: Session, *, payment_id: uuid.UUID, provider: str) -> PaymentResult:
    """A payment of ``provider`` and its order (for the provider's own checkout page)."""
    row = session.execute(
        select(Payment, Order)
        .join(Order, Order.id == Payment.order_id)
        .where(Payment.id == payment_id, Payment.provider == provider)
    ).first()
    if row is None:
        raise PaymentNotFound()
    payment, order = row
    return PaymentResult(outcome=_outcome_of(payment), payment=payment, order=order)


def _outcome_of(payment: Payment) -> PaymentOutcome:
    return {
        PaymentStatus.succeeded: PaymentOutcome.paid,
        PaymentStatus.refunded: PaymentOutcome.refunded,
        PaymentStatus.failed: PaymentOutcome.failed,
    }.get(payment.status, PaymentOutcome.already_processed)


# --- notifications ---------------------------------------------------------------------


def record_notification(
    session: Session, *, provider: str, external_id: str, kind: str, now: datetime
) -> bool:
    """Enter a notification in the inbox; False if it was there already (a duplicate).

    Handled in this same transaction, hence handled_at at once; a rollback drops both.
    """
    return locking.insert_once(
        session,
        PaymentNotification,
        {
            "id": uuid.uuid4(),
            "provider": provider,
            "external_id": external_id,
            "kind": kind,
            "received_at": now,
            "handled_at": now,
        },
    )


# The payment path's statements are built once (docs/ARCHITECTURE.md, "Performance").
# The lines come as plain columns: building ORM objects for them cost more than the query.
_PAYMENT_WITH_ORDER_AND_ITEMS = (
    select(
        Payment,
        Order,
        Event.status,
        OrderItem.id,
        OrderItem.ticket_type_id,
        OrderItem.quantity,
    )
    .join(Order, Order.id == Payment.order_id)
    .join(Event, Event.id == Order.event_id)
    .join(OrderItem, OrderItem.order_id == Order.id)
    .order_by(OrderItem.ticket_type_id)
)
# By id, the provider is checked on the row, not in the WHERE: with "provider = :p AND
# id = :id", a table without statistics yet was planned on the (provider, provider_ref)
# index and read every payment of the provider.
_PAYMENT_BY_ID = _PAYMENT_WITH_ORDER_AND_ITEMS.where(Payment.id == bindparam("payment_id"))
_PAYMENT_BY_REF = _PAYMENT_WITH_ORDER_AND_ITEMS.where(
    Payment.provider == bindparam("provider"), Payment.provider_ref == bindparam("provider_ref")
)
_payments = Payment.__table__
_PAYMENT_SUCCEEDED = (
    update(_payments)
    .where(
        _payments.c.id == bindparam("payment_id"),
        # Two comparisons rather than IN: an IN list is re-expanded on every execution.
        or_(
            _payments.c.status == PaymentStatus.pending,
            _payments.c.status == PaymentStatus.failed,
        ),
    )
    .values(
        status=PaymentStatus.succeeded, succeeded_at=bindparam("now"), updated_at=bindparam("now")
    )
)


class PaymentToHandle(NamedTuple):
    """What a payment notification works on, read in one query."""

    payment: Payment
    order: Order
    event_on_sale: bool
    lines: list[LineSeats]


def _load_payment(
    session: Session,
    *,
    provider: str,
    payment_id: uuid.UUID | None,
    provider_ref: str | None,
) -> PaymentToHandle:
    if payment_id is not None:
        statement, parameters = _PAYMENT_BY_ID, {"payment_id": payment_id}
    elif provider_ref is not None:
        statement, parameters = (
            _PAYMENT_BY_REF,
            {"provider": provider, "provider_ref": provider_ref},
        )
    else:
        raise ValueError("give payment_id or provider_ref")
    rows = load_direct(session, statement, parameters)
    if not rows or rows[0][0].provider != provider:
        raise PaymentNotFound()
    payment, order, event_status = rows[0][:3]
    return PaymentToHandle(
        payment=payment,
        order=order,
        event_on_sale=event_status == EventStatus.published,
        lines=[LineSeats(*row[3:]) for row in rows],
    )


def _set_loaded(instance: object, **values: Any) -> None:
    # The row was changed by a conditional UPDATE; mirror it without dirtying the object.
    for name, value in values.items():
        set_committed_value(instance, name, value)


def _reload_status(session: Session, order: Order) -> OrderStatus:
    # FOR UPDATE (PostgreSQL): the order row is ours before any ticket type (lock order).
    status = session.scalar(select(Order.status).where(Order.id == order.id).with_for_update())
    assert status is not None  # orders are never deleted
    _set_loaded(order, status=status)
    return status


def payment_succeeded(
    session: Session,
    *,
    provider: str,
    external_id: str,
    now: datetime,
    settings: Settings,
    payment_id: uuid.UUID | None = None,
    provider_ref: str | None = None,
    buyer: BuyerProof | None = None,
) -> PaymentResult:
    """Handle a "payment succeeded" notification: pay the order and issue its tickets once.

    Invariants: tickets are issued once per order, whatever the number of deliveries;
    nothing is ever oversold (a late payment takes seats only through
    ``locking.take_seats``, otherwise it is refunded); an event no longer on sale sells
    nothing (the payment is refunded). Lock: the inbox key, the payment row, the order
    row, then the ticket types in id order. With ``buyer`` (the test provider's buttons),
    only the order's own buyer may send it; anyone else gets PaymentNotFound.
    """
    fresh = record_notification(
        session, provider=provider, external_id=external_id, kind="payment.succeeded", now=now
    )
    payment, order, event_on_sale, items = _load_payment(
        session, provider=provider, payment_id=payment_id, provider_ref=provider_ref
    )
    require_buyer(order, buyer)
    if not fresh:
        return PaymentResult(outcome=PaymentOutcome.duplicate, payment=payment, order=order)
    succeeded = execute_direct(session, _PAYMENT_SUCCEEDED, {"payment_id": payment.id, "now": now})
    if succeeded.rowcount != 1:
        session.refresh(payment)
        return PaymentResult(outcome=PaymentOutcome.already_processed, payment=payment, order=order)
    _set_loaded(payment, status=PaymentStatus.succeeded, succeeded_at=now, updated_at=now)
    count_after_commit(session, metrics.PAYMENTS_SUCCEEDED)
    quantities = locking.sum_quantities((item.ticket_type_id, item.quantity) for item in items)

    if event_on_sale and move_orders(
        session, [order], source=OrderStatus.pending, target=OrderStatus.paid, now=now
    ):
        issue_tickets(session, order=order, items=items)
        enqueue_after_commit(
            session, "notifications.send_order_confirmation", order_id=str(order.id)
        )
        count_after_commit(session, metrics.ORDERS_PAID)
        # The hot stock rows last: locked only from here to the commit.
        locking.convert_held_to_sold(session, quantities)
        return PaymentResult(outcome=PaymentOutcome.paid, payment=payment, order=order)

    status = _reload_status(session, order)
    reason = "order_cancelled" if status == OrderStatus.cancelled else "duplicate_payment"
    # The event was cancelled while this order waited for its payment (created as the
    # cancellation committed, the order escaped it): refunded, its hold released.
    held_off_sale = status == OrderStatus.pending and not event_on_sale
    if held_off_sale:
        reason = "event_not_on_sale"
    elif status == OrderStatus.expired:
        reason = "hold_expired_sold_out"
        if not event_on_sale:
            reason = "event_not_on_sale"
        else:
            # The hold ran out and its seats went back on sale: take them again if free.
            locking.release_expired_holds(session, event_id=order.event_id, now=now)
            if locking.take_seats(session, quantities, as_sold=True) is None:
                if move_orders(
                    session, [order], source=OrderStatus.expired, target=OrderStatus.paid, now=now
                ):
                    issue_tickets(session, order=order, items=items)
                    enqueue_after_commit(
                        session, "notifications.send_order_confirmation", order_id=str(order.id)
                    )
                    count_after_commit(session, metrics.ORDERS_PAID)
                    return PaymentResult(outcome=PaymentOutcome.paid, payment=payment, order=order)
                # Another payment of this order won the same seats first: give ours back.
                locking.release_sold(session, quantities)
                status = _reload_status(session, order)
                reason = "duplicate_payment"

    refund = refund_payment(session, payment=payment, reason=reason, now=now, settings=settings)
    if refund is not None:
        # The buyer paid and gets nothing: say so, and why (once per refund).
        enqueue_after_commit(
            session, "notifications.send_payment_returned", refund_id=str(refund.id)
        )
    if status in (OrderStatus.expired, OrderStatus.cancelled) or held_off_sale:
        refunded = move_orders(
            session, [order], source=status, target=OrderStatus.refunded, now=now
        )
        if refunded and held_off_sale:
            locking.release_held(session, quantities)
    return PaymentResult(outcome=PaymentOutcome.refunded, payment=payment, order=order)


def payment_failed(
    session: Session,
    *,
    provider: str,
    external_id: str,
    now: datetime,
    payment_id: uuid.UUID | None = None,
    provider_ref: str | None = None,
    buyer: BuyerProof | None = None,
) -> PaymentResult:
    """Handle a "payment failed" notification: the payment fails, the order stays pending.

    The buyer may pay again until the hold expires. A succeeded payment never goes back
    to failed (PaymentNotPending). Lock: the inbox key, then the payment row. With
    ``buyer``, only the order's own buyer may send it (PaymentNotFound otherwise).
    """
    fresh = record_notification(
        session, provider=provider, external_id=external_id, kind="payment.failed", now=now
    )
    payment, order, _on_sale, _items = _load_payment(
        session, provider=provider, payment_id=payment_id, provider_ref=provider_ref
    )
    require_buyer(order, buyer)
    if not fresh:
        return PaymentResult(outcome=PaymentOutcome.duplicate, payment=payment, order=order)
    failed = session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status == PaymentStatus.pending)
        .values(status=PaymentStatus.failed, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if failed.rowcount != 1:
        session.refresh(payment)
        if payment.status == PaymentStatus.failed:
            return PaymentResult(
                outcome=PaymentOutcome.already_processed, payment=payment, order=order
            )
        raise PaymentNotPending(status=str(payment.status))
    _set_loaded(payment, status=PaymentStatus.failed, updated_at=now)
    count_after_commit(session, metrics.PAYMENTS_FAILED)
    return PaymentResult(outcome=PaymentOutcome.failed, payment=payment, order=order)


# --- refunds ---------------------------------------------------------------------------


def lock_payment(session: Session, payment_id: uuid.UUID) -> Payment:
    # FOR UPDATE (PostgreSQL; SQLite writers are serial): the amounts read here stay true
    # until the commit, so two refunds of one payment add up instead of overwriting.
    payment = session.scalar(
        select(Payment)
        .where(Payment.id == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if payment is None:
        raise PaymentNotFound()
    return payment


def refund_payment_amount(
    session: Session,
    *,
    payment_id: uuid.UUID,
    amount_minor: int,
    reason: str,
    now: datetime,
    settings: Settings,
) -> Refund:
    """Refund ``amount_minor`` of a succeeded payment through the provider that took it.

    Invariant: the refunds of a payment never add up to more than it (RefundTooLarge);
    the payment becomes ``refunded`` when they reach it. Lock: the payment row.

    The provider call's idempotency key is derived from the payment's refunded amount
    before this refund, not from a fresh id: when the unit of work is rolled back after
    the call (a lock not taken in time, a lost connection, a failed commit), its retry
    sends the same key and the provider answers the refund it already made,
    instead of refunding twice or refusing a refund beyond the charge.
    """
    payment = lock_payment(session, payment_id)
    remaining = payment.amount_minor - payment.refunded_minor
    if payment.status != PaymentStatus.succeeded or not 0 < amount_minor <= remaining:
        raise RefundTooLarge(
            requested_minor=amount_minor,
            refundable_minor=remaining if payment.status == PaymentStatus.succeeded else 0,
        )
    idempotency_key = f"admitone-refund-{payment.id}-{payment.refunded_minor}-{amount_minor}"
    refunded = payment.refunded_minor + amount_minor
    status = PaymentStatus.refunded if refunded == payment.amount_minor else payment.status
    session.execute(
        update(Payment)
        .where(Payment.id == payment.id)
        .values(refunded_minor=refunded, status=status, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    _set_loaded(payment, refunded_minor=refunded, status=status, updated_at=now)
    provider_ref = get_provider(payment.provider, settings=settings).refund(
        payment=payment,
        amount_minor=amount_minor,
        reason=reason,
        idempotency_key=idempotency_key,
    )
    refund = Refund(
        id=uuid.uuid4(),
        order_id=payment.order_id,
        payment_id=payment.id,
        amount_minor=amount_minor,
        currency=payment.currency,
        reason=reason[:100],
        provider_ref=provider_ref,
        created_at=now,
    )
    session.add(refund)
    session.flush()
    return refund


def refund_payment(
    session: Session, *, payment: Payment, reason: str, now: datetime, settings: Settings
) -> Refund | None:
    """Refund what is left of a succeeded payment through the provider that took it.

    Invariant: a payment is refunded once and never beyond its amount (the payment row
    is locked before the provider call). Returns None if it was not succeeded.
    """
    locked = lock_payment(session, payment.id)
    if locked.status != PaymentStatus.succeeded:
        return None
    remaining = locked.amount_minor - locked.refunded_minor
    if remaining <= 0:
        session.execute(
            update(Payment)
            .where(Payment.id == locked.id)
            .values(status=PaymentStatus.refunded, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        _set_loaded(locked, status=PaymentStatus.refunded, updated_at=now)
        return None
    return refund_payment_amount(
        session,
        payment_id=locked.id,
        amount_minor=remaining,
        reason=reason,
        now=now,
        settings=settings,
    )


def refund_order_payments(
    session: Session,
    *,
    order_ids: list[uuid.UUID],
    reason: str,
    now: datetime,
    settings: Settings,
) -> list[Refund]:
    """Refund what is left of every succeeded payment of these orders (the caller moved
    them to refunded). Lock: the payment rows, in id order, through ``refund_payment``.
    """
    if not order_ids:
        return []
    payments = session.scalars(
        select(Payment)
        .where(Payment.order_id.in_(order_ids), Payment.status == PaymentStatus.succeeded)
        .order_by(Payment.id)
    ).all()
    refunds = []
    for payment in payments:
        refund = refund_payment(session, payment=payment, reason=reason, now=now, settings=settings)
        if refund is not None:
            refunds.append(refund)
    return refunds


def paying_payment(session: Session, *, order_id: uuid.UUID) -> Payment | None:
    """The succeeded payment that paid a paid order (a duplicate was refunded at once)."""
    return session.scalar(
        select(Payment)
        .where(Payment.order_id == order_id, Payment.status == PaymentStatus.succeeded)
        .order_by(Payment.succeeded_at, Payment.id)
        .limit(1)
    )


# --- the organizer: connected account and payouts ------------------------------------


def set_stripe_account(
    session: Session, *, organization: Organization, stripe_account_id: str | None
) -> Organization:
    """Set (or clear) the Stripe connected account new payments of this organization go to.

    Payments already opened keep the destination they were created with.
    """
    organization.stripe_account_id = stripe_account_id
    session.flush()
    return organization


@dataclass(frozen=True)
class PayoutSummary:
    event_id: uuid.UUID
    currency: str
    payments: int
    gross_minor: int
    refunds_minor: int
    platform_fees_minor: int
    net_minor: int


def payout_summary(session: Session, *, event: Event) -> PayoutSummary:
    """What the organizer receives for one event, summed in SQL over its payments.

    Gross: every payment that succeeded (also those refunded since). Refunds: all of
    their refunds. Platform fees: the fee of each payment less the share of it that
    was refunded, ``fee - fee x refunded / amount`` rounded down in the integer
    division (so a full refund returns the whole fee, as Stripe's
    ``refund_application_fee`` does). Net = gross - refunds - fees. Read-only.
    """
    kept_fee = Payment.application_fee_minor - case(
        (
            Payment.amount_minor > 0,
            (Payment.application_fee_minor * Payment.refunded_minor) / Payment.amount_minor,
        ),
        else_=0,
    )
    row = session.execute(
        select(
            func.count(Payment.id),
            func.coalesce(func.sum(Payment.amount_minor), 0),
            func.coalesce(func.sum(Payment.refunded_minor), 0),
            func.coalesce(func.sum(kept_fee), 0),
        )
        .join(Order, Order.id == Payment.order_id)
        .where(
            Order.event_id == event.id,
            Order.organization_id == event.organization_id,
            Payment.status.in_([PaymentStatus.succeeded, PaymentStatus.refunded]),
        )
    ).one()
    count, gross, refunds, fees = (int(value) for value in row)
    return PayoutSummary(
        event_id=event.id,
        currency=event.currency,
        payments=count,
        gross_minor=gross,
        refunds_minor=refunds,
        platform_fees_minor=fees,
        net_minor=gross - refunds - fees,
    )


# --- the built-in test provider's buttons ---------------------------------------------------


def approve_test_payment(
    session: Session,
    *,
    payment_id: uuid.UUID,
    buyer: BuyerProof,
    now: datetime,
    settings: Settings,
) -> PaymentResult:
    """What the test provider's "approve" does (its API, its page, the site's checkout):
    the same "payment succeeded" notification a provider webhook delivers, sent only by
    the order's own buyer (its account or its secret token; PaymentNotFound otherwise)."""
    return payment_succeeded(
        session,
        provider=BuiltInTestProvider.name,
        external_id=BuiltInTestProvider.notification_id(payment_id, "succeeded"),
        payment_id=payment_id,
        now=now,
        settings=settings,
        buyer=buyer,
    )


def decline_test_payment(
    session: Session, *, payment_id: uuid.UUID, buyer: BuyerProof, now: datetime
) -> PaymentResult:
    """What the test provider's "decline" does: a "payment failed" notification, sent
    only by the order's own buyer (PaymentNotFound otherwise)."""
    return payment_failed(
        session,
        provider=BuiltInTestProvider.name,
        external_id=BuiltInTestProvider.notification_id(payment_id, "failed"),
        payment_id=payment_id,
        now=now,
        buyer=buyer,
    )


def get_buyer_payment(
    session: Session, *, payment_id: uuid.UUID, provider: str, buyer: BuyerProof
) -> PaymentResult:
    """A payment of ``provider`` and its order, for the order's own buyer only (the
    provider's checkout page); PaymentNotFound for anyone else."""
    result = get_payment(session, payment_id=payment_id, provider=provider)
    require_buyer(result.order, buyer)
    return result
