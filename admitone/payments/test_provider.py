"""The built-in test provider's buttons: Approve and Decline, and its checkout page.

They send the same notifications a provider webhook delivers (``payments.inbox``),
keyed so that pressing a button twice is one notification, and only the payer of the
thing paid for may press them (its purpose's handler decides; PaymentNotFound else).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from admitone.authorization import BuyerProof
from admitone.config import Settings
from admitone.payments.checkout import get_payment
from admitone.payments.inbox import PaymentResult, outcome_of, payment_failed, payment_succeeded
from admitone.payments.providers import BuiltInTestProvider
from admitone.payments.purposes import purpose_handler


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
