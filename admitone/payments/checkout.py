"""Checkout: a payment is opened with the configured provider for something to pay.

The owner of the thing (an order: ``orders.paying``) checks that it may be paid now, by
this payer, and builds what the provider's page shows (``providers.CheckoutRequest``);
payments opens the checkout, with the platform's fee and the organization's connected
account, and answers an open one again rather than doubling it.
"""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import ColumnExpressionArgument, ScalarSelect, bindparam, select
from sqlalchemy.orm import Session

from admitone.config import Settings
from admitone.db import utcnow
from admitone.db_direct import insert_untracked
from admitone.payments.errors import PaymentNotFound
from admitone.payments.models import Payment, PaymentStatus
from admitone.payments.providers import CheckoutRequest, checkout_provider


def open_checkout(
    *,
    purpose: str,
    purpose_id: ColumnExpressionArgument[uuid.UUID],
    amount_minor: ColumnExpressionArgument[int],
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
    request: CheckoutRequest,
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
    session_at_provider = provider.create_checkout(payment=payment, request=request, now=utcnow())
    payment.provider_ref = session_at_provider.provider_ref
    payment.checkout_url = session_at_provider.url
    insert_untracked(session, [payment])
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
