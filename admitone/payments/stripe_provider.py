"""Stripe as a payment provider: a Checkout Session per payment, refunds, webhook parsing.

One ``stripe.StripeClient`` per provider (never the module-level globals), pointed at
``settings.stripe_api_base`` when it is set, so that tests drive the official package
against a local fake. Every call that creates something carries an idempotency key
derived from our own row id, so a retried call creates nothing twice at Stripe.

Checkout expiry: Stripe accepts ``expires_at`` only between 30 minutes and 24 hours
after the session's creation, while our hold lasts ``settings.hold_minutes`` (15 by
default). The session's expiry is therefore the hold's, clamped into that window. A
buyer who pays after the hold ran out is handled by ``payment_succeeded`` like any late
payment: the seats are taken again if still free, otherwise the payment is refunded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import stripe

from admitone.config import Settings
from admitone.payments.errors import PaymentProviderError
from admitone.payments.models import Payment
from admitone.payments.providers import CheckoutRequest, CheckoutSession

NAME = "stripe"
# Stripe's window for a Checkout Session's expires_at, with a margin for clock skew.
MIN_SESSION_LIFETIME = timedelta(minutes=30, seconds=60)
MAX_SESSION_LIFETIME = timedelta(hours=24) - timedelta(seconds=60)
NETWORK_RETRIES = 2


def session_expiry(hold_expires_at: datetime, *, now: datetime) -> datetime:
    """The hold's expiry clamped into what Stripe accepts (see the module docstring)."""
    return min(max(hold_expires_at, now + MIN_SESSION_LIFETIME), now + MAX_SESSION_LIFETIME)


def make_client(settings: Settings) -> stripe.StripeClient:
    if settings.stripe_secret_key is None:
        raise PaymentProviderError("Stripe is not configured (ADMITONE_STRIPE_SECRET_KEY).")
    base_addresses: Any = (
        {"api": settings.stripe_api_base.rstrip("/")} if settings.stripe_api_base else None
    )
    return stripe.StripeClient(
        settings.stripe_secret_key.get_secret_value(),
        base_addresses=base_addresses,
        max_network_retries=NETWORK_RETRIES,
    )


class StripeProvider:
    """Stripe Checkout; with a connected account, a destination charge with our fee."""

    name = NAME

    def __init__(self, *, settings: Settings) -> None:
        self.client = make_client(settings)
        self.public_url = settings.public_url.rstrip("/")

    def create_checkout(
        self, *, payment: Payment, request: CheckoutRequest, now: datetime
    ) -> CheckoutSession:
        metadata = {**request.metadata, "payment_id": str(payment.id)}
        payment_intent_data: dict[str, Any] = {"metadata": metadata}
        if payment.transfer_destination:
            payment_intent_data["transfer_data"] = {"destination": payment.transfer_destination}
            if payment.application_fee_minor > 0:
                payment_intent_data["application_fee_amount"] = payment.application_fee_minor
        expires_at = session_expiry(request.expires_at, now=now)
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": line.quantity,
                    "price_data": {
                        "currency": payment.currency.lower(),
                        "unit_amount": line.unit_price_minor,
                        "product_data": {"name": line.name},
                    },
                }
                for line in request.lines
            ],
            "metadata": metadata,
            "client_reference_id": str(payment.id),
            "payment_intent_data": payment_intent_data,
            "expires_at": int(expires_at.timestamp()),
            "success_url": f"{self.public_url}{request.return_path}?payment=done",
            "cancel_url": f"{self.public_url}{request.return_path}?payment=cancelled",
        }
        if request.customer_email:
            params["customer_email"] = request.customer_email
        try:
            created = self.client.v1.checkout.sessions.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": f"admitone-checkout-{payment.id}"},
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(provider=NAME, stripe_code=exc.code) from exc
        if not created.url:
            raise PaymentProviderError(provider=NAME, reason="no checkout url")
        return CheckoutSession(url=created.url, provider_ref=created.id, expires_at=expires_at)

    def refund(
        self, *, payment: Payment, amount_minor: int, reason: str, idempotency_key: str
    ) -> str:
        try:
            payment_intent = payment.provider_payment_ref
            if payment_intent is None and payment.provider_ref:
                # Paid, but its completion event was not seen yet: ask Stripe.
                checkout = self.client.v1.checkout.sessions.retrieve(payment.provider_ref)
                payment_intent = _id_of(checkout.payment_intent)
            if payment_intent is None:
                raise PaymentProviderError(provider=NAME, reason="payment has no payment intent")
            params: dict[str, Any] = {
                "payment_intent": payment_intent,
                "amount": amount_minor,
                "metadata": {"payment_id": str(payment.id), "reason": reason[:100]},
            }
            if payment.transfer_destination:
                # Destination charge: take the money back from the connected account and
                # give back our fee in proportion (docs/payments.md, "Fees").
                params["reverse_transfer"] = True
                params["refund_application_fee"] = True
            refund = self.client.v1.refunds.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(provider=NAME, stripe_code=exc.code) from exc
        return refund.id


def _id_of(value: Any) -> str | None:
    """An expandable Stripe field: an id string, an object with an id, or None."""
    if value is None or isinstance(value, str):
        return value
    return getattr(value, "id", None)


def verify_event(payload: bytes, signature: str | None, *, settings: Settings) -> stripe.Event:
    """The event if ``Stripe-Signature`` is valid for the body (300 s tolerance).

    Raises ``stripe.SignatureVerificationError`` (missing or bad header, wrong secret,
    stale timestamp, tampered body) or ``ValueError`` (not JSON).
    """
    if settings.stripe_webhook_secret is None:
        raise stripe.SignatureVerificationError("no webhook secret configured", signature)
    try:
        return stripe.Webhook.construct_event(
            payload, signature, settings.stripe_webhook_secret.get_secret_value()
        )
    except (AttributeError, TypeError, KeyError) as exc:
        # Signed, but JSON that is not an object: the package fails while wrapping it.
        raise ValueError("not a Stripe event") from exc
