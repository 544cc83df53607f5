"""Payments: checkout, the one idempotent "payment succeeded" path, failures, refunds.

A payment pays for something a domain registered a purpose for (``payments.purposes``:
an order); this module knows nothing else of it. ``payment_succeeded`` is what the test
provider's Approve button calls, and what a provider webhook calls. Each step is a
guarded transition, so a notification delivered twice, late, or twice at the same
instant has one effect:

1. the notification enters the inbox under its unique (provider, external id); a
   duplicate is acknowledged and changes nothing;
2. the payment moves pending|failed -> succeeded (conditional UPDATE); another
   notification for an already succeeded payment changes nothing;
3. the purpose's handler delivers what was paid for (orders: pending -> paid, seats
   sold, tickets issued), or refunds the payment when it cannot.

Lock order, as everywhere (docs/locking.md): the payment row, then what the handler
locks (the order row, ticket types by id).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Update,
    and_,
    bindparam,
    case,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from admitone import locking, metrics
from admitone.authorization import BuyerProof
from admitone.config import Settings
from admitone.db import as_loaded, execute_direct, insert_new, utcnow
from admitone.events.models import Event
from admitone.metrics import count_after_commit
from admitone.organizations.models import Organization
from admitone.payments.errors import PaymentNotFound, PaymentNotPending, RefundTooLarge
from admitone.payments.models import Payment, PaymentNotification, PaymentStatus, Refund
from admitone.payments.providers import (
    BuiltInTestProvider,
    CheckoutRequest,
    checkout_provider,
    get_provider,
)
from admitone.payments.purposes import (
    PaidFor,
    purpose_handler,
    registered_purposes,
)


class PaymentOutcome(StrEnum):
    paid = "paid"  # this payment paid for its thing (an order: tickets issued)
    duplicate = "duplicate"  # the same notification again: nothing changed
    already_processed = "already_processed"  # the payment had already reached this state
    refunded = "refunded"  # succeeded but could not be honoured: refunded automatically
    failed = "failed"  # declined; the thing stays unpaid and may be paid again


@dataclass(frozen=True)
class PaymentResult:
    outcome: PaymentOutcome
    payment: Payment
    paid_for: PaidFor


def _set_loaded(instance: object, **values: Any) -> None:
    # The row was changed by a conditional UPDATE; mirror it without dirtying the object.
    for name, value in values.items():
        set_committed_value(instance, name, value)


# --- checkout --------------------------------------------------------------------------


def open_checkout(
    *, purpose: str, purpose_id: ColumnElement[uuid.UUID], amount_minor: ColumnElement[int]
) -> ScalarSelect[uuid.UUID]:
    """The id of the newest open checkout (a pending payment of the provider given as the
    parameter ``provider``) of a thing for this amount, as a scalar subquery: the owner
    reads it with the thing itself, in one round trip, to reuse it (a double click does
    not invite a double payment)."""
    return (
        select(Payment.id)
        .where(
            Payment.purpose == purpose,
            Payment.purpose_id == purpose_id,
            Payment.status == PaymentStatus.pending,
            Payment.provider == bindparam("provider"),
            Payment.amount_minor == amount_minor,
        )
        .order_by(Payment.created_at.desc())
        .limit(1)
        .scalar_subquery()
    )


def create_payment(
    session: Session,
    *,
    purpose: str,
    purpose_id: uuid.UUID,
    amount_minor: int,
    currency: str,
    checkout: CheckoutRequest,
    transfer_destination: str | None,
    open_checkout_id: uuid.UUID | None,
    settings: Settings,
) -> tuple[Payment, bool]:
    """A checkout with the configured provider for a thing to pay; (payment, created).

    The owner has checked that the thing may be paid now, by this payer, and read its
    open checkout (``open_checkout``): that one is answered again instead. No lock:
    starting a payment changes nothing; its success decides (see module doc).
    """
    provider = checkout_provider(settings)
    if open_checkout_id is not None:
        existing = session.get(Payment, open_checkout_id)
        assert existing is not None  # payments are never deleted
        return existing, False
    payment = Payment(
        id=uuid.uuid4(),
        purpose=purpose,
        purpose_id=purpose_id,
        provider=provider.name,
        status=PaymentStatus.pending,
        amount_minor=amount_minor,
        currency=currency,
        refunded_minor=0,
        application_fee_minor=platform_fee(amount_minor, settings.platform_fee_percent),
        transfer_destination=transfer_destination,
    )
    session_at_provider = provider.create_checkout(payment=payment, request=checkout, now=utcnow())
    payment.provider_ref = session_at_provider.provider_ref
    payment.checkout_url = session_at_provider.url
    insert_new(session, [payment])
    return payment, True


def platform_fee(total_minor: int, percent: Decimal) -> int:
    """The platform's commission: ``total x percent / 100`` rounded half up to a minor unit."""
    fee = (Decimal(total_minor) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return min(int(fee), total_minor)


def get_payment(session: Session, *, payment_id: uuid.UUID, provider: str) -> Payment:
    """A payment of ``provider`` (for the provider's own checkout page)."""
    payment = session.scalar(
        select(Payment).where(Payment.id == payment_id).execution_options(populate_existing=True)
    )
    if payment is None or payment.provider != provider:
        raise PaymentNotFound()
    return payment


def outcome_of(payment: Payment) -> PaymentOutcome:
    """What a payment's state says of it, for a page that shows it again."""
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
# A notification moves its payment and reads it back in one statement (RETURNING), then
# the purpose's handler reads what was paid for. By id, the provider is checked on the
# row, not in the WHERE: with "provider = :p AND id = :id", a table without statistics
# yet was planned on the (provider, provider_ref) index and read every payment of the
# provider.
_payments = Payment.__table__
_BY_ID = _payments.c.id == bindparam("payment_id")
_BY_REF = and_(
    _payments.c.provider == bindparam("provider"),
    _payments.c.provider_ref == bindparam("provider_ref"),
)


def _moving(*, source: tuple[PaymentStatus, ...], **values: Any) -> dict[bool, Update]:
    """``UPDATE payments SET ... WHERE <by id or by reference> AND status IN source
    RETURNING *``, keyed by "found by id"."""
    # Comparisons rather than IN: an IN list is re-expanded on every execution.
    guard = or_(*(_payments.c.status == status for status in source))
    return {
        by_id: update(_payments)
        .where(_BY_ID if by_id else _BY_REF, guard)
        .values(**values)
        .returning(*_payments.c)
        for by_id in (True, False)
    }


_NOW = bindparam("now")
_SUCCEED = _moving(
    source=(PaymentStatus.pending, PaymentStatus.failed),
    status=PaymentStatus.succeeded,
    succeeded_at=_NOW,
    updated_at=_NOW,
)
_FAIL = _moving(source=(PaymentStatus.pending,), status=PaymentStatus.failed, updated_at=_NOW)


def _lookup(
    *, provider: str, payment_id: uuid.UUID | None, provider_ref: str | None
) -> tuple[bool, dict[str, Any]]:
    if payment_id is not None:
        return True, {"payment_id": payment_id}
    if provider_ref is not None:
        return False, {"provider": provider, "provider_ref": provider_ref}
    raise ValueError("give payment_id or provider_ref")


def _move_payment(
    session: Session,
    statements: dict[bool, Update],
    *,
    provider: str,
    payment_id: uuid.UUID | None,
    provider_ref: str | None,
    now: datetime,
) -> Payment | None:
    """The payment moved by one of ``statements``, loaded; None if none moved (unknown,
    or not in a state it may leave)."""
    by_id, parameters = _lookup(provider=provider, payment_id=payment_id, provider_ref=provider_ref)
    row = execute_direct(session, statements[by_id], {**parameters, "now": now}).first()
    if row is None:
        return None
    if row.provider != provider:
        raise PaymentNotFound()  # another provider's: the unit of work rolls the move back
    return as_loaded(session, Payment, row._asdict())


def _load_payment(
    session: Session, *, provider: str, payment_id: uuid.UUID | None, provider_ref: str | None
) -> Payment:
    by_id, parameters = _lookup(provider=provider, payment_id=payment_id, provider_ref=provider_ref)
    payment = session.scalar(
        select(Payment)
        .where(_BY_ID if by_id else _BY_REF)
        .execution_options(populate_existing=True),
        parameters,
    )
    if payment is None or payment.provider != provider:
        raise PaymentNotFound()
    return payment


def payment_succeeded(
    session: Session,
    *,
    provider: str,
    external_id: str,
    now: datetime,
    settings: Settings,
    payment_id: uuid.UUID | None = None,
    provider_ref: str | None = None,
    payer: BuyerProof | None = None,
) -> PaymentResult:
    """Handle a "payment succeeded" notification: the payment succeeds once, and its
    purpose's handler delivers what it paid for once (or refunds it).

    Invariant: whatever the number of deliveries, one of them moves the payment and
    calls the handler. Lock: the inbox key, the payment row, then what the handler locks.
    With ``payer`` (the test provider's buttons), only the payer of the thing (its
    handler decides) may send it; anyone else gets PaymentNotFound.
    """
    fresh = record_notification(
        session, provider=provider, external_id=external_id, kind="payment.succeeded", now=now
    )
    lookup = {"provider": provider, "payment_id": payment_id, "provider_ref": provider_ref}
    payment = _move_payment(session, _SUCCEED, **lookup, now=now) if fresh else None
    if payment is None:
        payment = _load_payment(session, **lookup)
        paid_for = purpose_handler(payment.purpose).paid_for(session, payment=payment, payer=payer)
        outcome = PaymentOutcome.already_processed if fresh else PaymentOutcome.duplicate
        return PaymentResult(outcome=outcome, payment=payment, paid_for=paid_for)
    count_after_commit(session, metrics.PAYMENTS_SUCCEEDED)
    fulfilment = purpose_handler(payment.purpose).payment_succeeded(
        session, payment=payment, payer=payer, now=now, settings=settings
    )
    return PaymentResult(
        outcome=PaymentOutcome.paid if fulfilment.kept else PaymentOutcome.refunded,
        payment=payment,
        paid_for=fulfilment.paid_for,
    )


def payment_failed(
    session: Session,
    *,
    provider: str,
    external_id: str,
    now: datetime,
    payment_id: uuid.UUID | None = None,
    provider_ref: str | None = None,
    payer: BuyerProof | None = None,
) -> PaymentResult:
    """Handle a "payment failed" notification: the payment fails; what it paid for stays
    unpaid (an order stays pending and may be paid again until its hold expires).

    A succeeded payment never goes back to failed (PaymentNotPending). Lock: the inbox
    key, then the payment row. With ``payer``, only the payer of the thing may send it
    (PaymentNotFound otherwise).
    """
    fresh = record_notification(
        session, provider=provider, external_id=external_id, kind="payment.failed", now=now
    )
    lookup = {"provider": provider, "payment_id": payment_id, "provider_ref": provider_ref}
    payment = _move_payment(session, _FAIL, **lookup, now=now) if fresh else None
    if payment is None:
        payment = _load_payment(session, **lookup)
        paid_for = purpose_handler(payment.purpose).paid_for(session, payment=payment, payer=payer)
        if not fresh:
            return PaymentResult(
                outcome=PaymentOutcome.duplicate, payment=payment, paid_for=paid_for
            )
        if payment.status == PaymentStatus.failed:
            return PaymentResult(
                outcome=PaymentOutcome.already_processed, payment=payment, paid_for=paid_for
            )
        raise PaymentNotPending(status=str(payment.status))
    paid_for = purpose_handler(payment.purpose).payment_failed(
        session, payment=payment, payer=payer, now=now
    )
    count_after_commit(session, metrics.PAYMENTS_FAILED)
    return PaymentResult(outcome=PaymentOutcome.failed, payment=payment, paid_for=paid_for)


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
    """What the organizer receives for one event, summed in SQL over its payments: those
    of every purpose for the things sold for the event (``PaymentPurpose.sold_for_event``).

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
        ).where(
            or_(
                false(),
                *(
                    and_(
                        Payment.purpose == name,
                        Payment.purpose_id.in_(
                            handler.sold_for_event(
                                event_id=event.id, organization_id=event.organization_id
                            )
                        ),
                    )
                    for name, handler in registered_purposes().items()
                ),
            ),
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
    payer: BuyerProof,
    now: datetime,
    settings: Settings,
) -> PaymentResult:
    """What the test provider's "approve" does (its API, its page, the site's checkout):
    the same "payment succeeded" notification a provider webhook delivers, sent only by
    the payer of the thing (for an order: its account or its secret token;
    PaymentNotFound otherwise)."""
    return payment_succeeded(
        session,
        provider=BuiltInTestProvider.name,
        external_id=BuiltInTestProvider.notification_id(payment_id, "succeeded"),
        payment_id=payment_id,
        now=now,
        settings=settings,
        payer=payer,
    )


def decline_test_payment(
    session: Session, *, payment_id: uuid.UUID, payer: BuyerProof, now: datetime
) -> PaymentResult:
    """What the test provider's "decline" does: a "payment failed" notification, sent
    only by the payer of the thing (PaymentNotFound otherwise)."""
    return payment_failed(
        session,
        provider=BuiltInTestProvider.name,
        external_id=BuiltInTestProvider.notification_id(payment_id, "failed"),
        payment_id=payment_id,
        now=now,
        payer=payer,
    )


def get_payer_payment(
    session: Session, *, payment_id: uuid.UUID, provider: str, payer: BuyerProof
) -> PaymentResult:
    """A payment of ``provider`` and what it pays for, for its payer only (the provider's
    checkout page); PaymentNotFound for anyone else."""
    payment = get_payment(session, payment_id=payment_id, provider=provider)
    paid_for = purpose_handler(payment.purpose).paid_for(session, payment=payment, payer=payer)
    return PaymentResult(outcome=outcome_of(payment), payment=payment, paid_for=paid_for)
