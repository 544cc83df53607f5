"""Refunds: money given back through the provider that took it.

Invariant: the refunds of a payment never add up to more than it (the payment row is
locked before the provider call); the payment becomes ``refunded`` when they reach its
amount. The owner of the thing paid for decides what is refunded and when (orders: the
organizer's refunds, a cancelled event, a payment it cannot honour).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from admitone.config import Settings
from admitone.payments.errors import PaymentNotFound, RefundTooLarge
from admitone.payments.models import Payment, PaymentStatus, Refund
from admitone.payments.providers import get_provider


def _set_loaded(instance: object, **values: Any) -> None:
    # The row was changed by a conditional UPDATE; mirror it without dirtying the object.
    for name, value in values.items():
        set_committed_value(instance, name, value)


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
        purpose=payment.purpose,
        purpose_id=payment.purpose_id,
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


def refund_payments_of(
    session: Session,
    *,
    purpose: str,
    purpose_ids: list[uuid.UUID],
    reason: str,
    now: datetime,
    settings: Settings,
) -> list[Refund]:
    """Refund what is left of every succeeded payment for these things (the caller took
    them back: orders moved to refunded). Lock: the payment rows, in id order, through
    ``refund_payment``.
    """
    if not purpose_ids:
        return []
    payments = session.scalars(
        select(Payment)
        .where(
            Payment.purpose == purpose,
            Payment.purpose_id.in_(purpose_ids),
            Payment.status == PaymentStatus.succeeded,
        )
        .order_by(Payment.id)
    ).all()
    refunds = []
    for payment in payments:
        refund = refund_payment(session, payment=payment, reason=reason, now=now, settings=settings)
        if refund is not None:
            refunds.append(refund)
    return refunds


def paying_payment(session: Session, *, purpose: str, purpose_id: uuid.UUID) -> Payment | None:
    """The succeeded payment that paid for a thing (a second one was refunded at once)."""
    return session.scalar(
        select(Payment)
        .where(
            Payment.purpose == purpose,
            Payment.purpose_id == purpose_id,
            Payment.status == PaymentStatus.succeeded,
        )
        .order_by(Payment.succeeded_at, Payment.id)
        .limit(1)
    )
