"""Payment providers: the interface Stripe plugs into, and the built-in test provider.

A provider opens a checkout session for a payment (the buyer pays on the provider's
page) and refunds a payment. It reports the outcome later, asynchronously: a webhook,
or for the test provider the Approve / Decline buttons of its own page. Both end in
``payments.service.payment_succeeded`` / ``payment_failed``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from admitone.config import Settings
from admitone.orders.models import Order
from admitone.payments.models import Payment


@dataclass(frozen=True)
class CheckoutSession:
    url: str  # where the buyer goes to pay
    provider_ref: str  # the provider's id for this checkout (unique per provider)
    expires_at: datetime


class PaymentProvider(Protocol):
    name: str

    def create_checkout(self, *, order: Order, payment: Payment) -> CheckoutSession:
        """Open a checkout for ``payment`` (its id is set, its amount is the order total)."""
        ...

    def refund(self, *, payment: Payment, amount_minor: int, reason: str) -> str:
        """Refund ``amount_minor`` of a succeeded payment; returns the provider's refund id."""
        ...


class BuiltInTestProvider:
    """Completes payments locally: its checkout page is served by the app (``/pay/test``).

    No money moves; a refund is recorded under a ``test_re_`` reference. Works offline.
    """

    name = "test"

    def __init__(self, *, public_url: str) -> None:
        self.public_url = public_url.rstrip("/")

    def create_checkout(self, *, order: Order, payment: Payment) -> CheckoutSession:
        return CheckoutSession(
            url=f"{self.public_url}/pay/test/{payment.id}",
            provider_ref=f"test_{payment.id.hex}",
            expires_at=order.expires_at,
        )

    def refund(self, *, payment: Payment, amount_minor: int, reason: str) -> str:
        return f"test_re_{uuid.uuid4().hex}"

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
    raise UnknownProvider(name)


def checkout_provider(settings: Settings) -> PaymentProvider:
    """The provider new payments use (``ADMITONE_PAYMENT_PROVIDER``)."""
    return get_provider(settings.payment_provider, settings=settings)
