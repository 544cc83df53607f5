"""Provider notifications: into the inbox once, then the one idempotent path each.

``payment_succeeded`` is what the test provider's Approve button calls and what a
provider webhook calls; ``payment_failed`` likewise. Each step is a guarded transition,
so a notification delivered twice, late, or twice at the same instant has one effect:

1. the notification enters the inbox (``payment_notifications``) under its unique
   (provider, external id); a duplicate is acknowledged and changes nothing;
2. the payment moves pending|failed -> succeeded (or pending -> failed) by a
   conditional UPDATE; another notification for a payment already there changes
   nothing;
3. the payment's purpose handler (``payments.purposes``) delivers what was paid for
   (orders: pending -> paid, seats sold, tickets issued), or refunds it when it cannot.

Lock order, as everywhere (docs/locking.md): the inbox key, the payment row, then what
the handler locks (the order row, ticket types by id).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from admitone import metrics
from admitone.authorization import BuyerProof
from admitone.config import Settings
from admitone.db import insert_once
from admitone.db_direct import DirectStatement, as_loaded, execute_direct
from admitone.metrics import count_after_commit
from admitone.payments.errors import PaymentNotFound, PaymentNotPending
from admitone.payments.models import Payment, PaymentNotification, PaymentStatus
from admitone.payments.purposes import PaidFor, purpose_handler


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


def outcome_of(payment: Payment) -> PaymentOutcome:
    """What a payment's state says of it, for a page that shows it again."""
    return {
        PaymentStatus.succeeded: PaymentOutcome.paid,
        PaymentStatus.refunded: PaymentOutcome.refunded,
        PaymentStatus.failed: PaymentOutcome.failed,
    }.get(payment.status, PaymentOutcome.already_processed)


def record_notification(
    session: Session, *, provider: str, external_id: str, kind: str, now: datetime
) -> bool:
    """Enter a notification in the inbox; False if it was there already (a duplicate).

    Handled in this same transaction, hence handled_at at once; a rollback drops both.
    """
    return insert_once(
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


# The payment path's statements are built once (docs/hot-path.md).
# A notification moves its payment and reads it back in one statement (RETURNING), then
# the purpose's handler reads what was paid for. By id, the provider is checked on the
# row, not in the WHERE: with "provider = :p AND id = :id", a table without statistics
# yet was planned on the (provider, provider_ref) index and read every payment of the
# provider.
_payments = cast(Table, Payment.__table__)  # a declarative model's table is a Table
_BY_ID = _payments.c.id == bindparam("payment_id")
_BY_REF = and_(
    _payments.c.provider == bindparam("provider"),
    _payments.c.provider_ref == bindparam("provider_ref"),
)


def _moving(*, source: tuple[PaymentStatus, ...], **values: Any) -> dict[bool, DirectStatement]:
    """``UPDATE payments SET ... WHERE <by id or by reference> AND status IN source
    RETURNING *``, keyed by "found by id"."""
    # Comparisons rather than IN: an IN list is re-expanded on every execution.
    guard = or_(*(_payments.c.status == status for status in source))
    return {
        by_id: DirectStatement(
            update(_payments)
            .where(_BY_ID if by_id else _BY_REF, guard)
            .values(**values)
            .returning(*_payments.c)
        )
        for by_id in (True, False)
    }


_NOW = bindparam("now", type_=_payments.c.updated_at.type)
_SUCCEED = _moving(
    source=(PaymentStatus.pending, PaymentStatus.failed),
    status=PaymentStatus.succeeded,
    succeeded_at=_NOW,
    updated_at=_NOW,
)
_FAIL = _moving(source=(PaymentStatus.pending,), status=PaymentStatus.failed, updated_at=_NOW)


@dataclass(frozen=True, slots=True)
class _PaymentKey:
    """How a notification names its payment: by id (the test provider), or by the
    provider's own reference (a webhook)."""

    provider: str
    payment_id: uuid.UUID | None
    provider_ref: str | None

    def parameters(self) -> tuple[bool, dict[str, Any]]:
        """(found by id, the statement's parameters)."""
        if self.payment_id is not None:
            return True, {"payment_id": self.payment_id}
        if self.provider_ref is not None:
            return False, {"provider": self.provider, "provider_ref": self.provider_ref}
        raise ValueError("give payment_id or provider_ref")


def _move_payment(
    session: Session, statements: dict[bool, DirectStatement], key: _PaymentKey, *, now: datetime
) -> Payment | None:
    """The payment moved by one of ``statements``, loaded; None if none moved (unknown,
    or not in a state it may leave)."""
    by_id, parameters = key.parameters()
    row = execute_direct(session, statements[by_id], {**parameters, "now": now}).first()
    if row is None:
        return None
    if row.provider != key.provider:
        raise PaymentNotFound()  # another provider's: the unit of work rolls the move back
    return as_loaded(session, Payment, row._asdict())


def _load_payment(session: Session, key: _PaymentKey) -> Payment:
    by_id, parameters = key.parameters()
    payment = session.scalar(
        select(Payment)
        .where(_BY_ID if by_id else _BY_REF)
        .execution_options(populate_existing=True),
        parameters,
    )
    if payment is None or payment.provider != key.provider:
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
    key = _PaymentKey(provider, payment_id, provider_ref)
    payment = _move_payment(session, _SUCCEED, key, now=now) if fresh else None
    if payment is None:
        payment = _load_payment(session, key)
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
    key = _PaymentKey(provider, payment_id, provider_ref)
    payment = _move_payment(session, _FAIL, key, now=now) if fresh else None
    if payment is None:
        payment = _load_payment(session, key)
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
