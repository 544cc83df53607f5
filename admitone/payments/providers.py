"""Payment providers: the interface, the built-in test provider, and the registry.

A provider opens a checkout session for a payment (the buyer pays on the provider's
page) and refunds (part of) a payment. It reports the outcome later, asynchronously: a
webhook (``payments.stripe``), or for the test provider the Approve / Decline buttons
of its own page. Both end in ``payments.inbox.payment_succeeded`` / ``payment_failed``.
A provider sees a payment and a ``CheckoutRequest``: what the purpose's owner wants its
page to show, never the owner's own rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from admitone.config import Settings
from admitone.payments.models import Payment


@dataclass(frozen=True)
class CheckoutSession:
    url: str  # where the buyer goes to pay
    provider_ref: str  # the provider's id for this checkout (unique per provider)
    expires_at: datetime


@dataclass(frozen=True)
class CheckoutLine:
    """One line of the order as the provider's page shows it (prices tax inclusive)."""

    name: str
    quantity: int
    unit_price_minor: int


@dataclass(frozen=True)
class CheckoutRequest:
    """What the provider's page shows and does, as the owner of the thing paid for asks."""

    lines: Sequence[CheckoutLine]
    customer_email: str | None  # the payer's address, filled in on the provider's page
    expires_at: datetime  # the thing is held until then (the provider's page may close then)
    return_path: str  # where the payer comes back to on this site: "/orders/<id>"
    # Shown with the payment at the provider (the Stripe dashboard): {"order_id": ...}.
    metadata: Mapping[str, str]


class PaymentProvider(Protocol):
    name: str

    def create_checkout(
        self, *, payment: Payment, request: CheckoutRequest, now: datetime
    ) -> CheckoutSession:
        """Open a checkout for ``payment`` (its id, amount, fee and destination are set)."""
        ...

    def refund(
        self, *, payment: Payment, amount_minor: int, reason: str, idempotency_key: str
    ) -> str:
        """Refund ``amount_minor`` of a succeeded payment; returns the provider's refund id.

        ``idempotency_key`` is derived from the payment's state before the refund: the
        same refund asked twice (a retry after a rollback) is one refund at the provider.
        """
        ...


class BuiltInTestProvider:
    """Completes payments locally: its checkout page is served by the app (``/pay/test``).

    No money moves; a refund is recorded under a ``test_re_`` reference derived from its
    idempotency key. Works offline.
    """

    name = "test"

    def __init__(self, *, public_url: str) -> None:
        self.public_url = public_url.rstrip("/")

    def create_checkout(
        self, *, payment: Payment, request: CheckoutRequest, now: datetime | None = None
    ) -> CheckoutSession:
        return CheckoutSession(
            url=f"{self.public_url}/pay/test/{payment.id}",
            provider_ref=f"test_{payment.id.hex}",
            expires_at=request.expires_at,
        )

    def refund(
        self, *, payment: Payment, amount_minor: int, reason: str, idempotency_key: str = ""
    ) -> str:
        key = idempotency_key or uuid.uuid4().hex
        return f"test_re_{uuid.uuid5(uuid.NAMESPACE_URL, key).hex}"

    @staticmethod
    def notification_id(payment_id: uuid.UUID, outcome: str) -> str:
        """The inbox key of a button press: pressing Approve twice is one notification."""
        return f"{payment_id}:{outcome}"


class UnknownProvider(LookupError):
    """A payment names a provider this installation does not have (configuration error)."""


def get_provider(name: str, *, settings: Settings) -> PaymentProvider:
    """The provider called ``name``: refunds go to the provider that took the payment."""
    if name == BuiltInTestProvider.name:
        return BuiltInTestProvider(public_url=settings.public_url)
    if name == "stripe":
        from admitone.payments.stripe_provider import StripeProvider

        return StripeProvider(settings=settings)
    raise UnknownProvider(name)


def checkout_provider(settings: Settings) -> PaymentProvider:
    """The provider new payments use (``ADMITONE_PAYMENT_PROVIDER``)."""
    return get_provider(settings.payment_provider, settings=settings)
