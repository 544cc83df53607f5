"""What a payment pays for: the purposes, and the handlers their domains register.

A payment, and each refund of it, names its purpose ("order") and the id of the thing
it pays for (``Payment.purpose``, ``Payment.purpose_id``). The payments domain knows
nothing else of that thing: when a provider says that a payment succeeded or failed, or
that it refunded one itself, payments calls the handler the purpose registered, in the
same unit of work. The orders domain registers "order" (``orders.fulfilment``: fulfil a
paid order); the cashless wallet registers its top-ups the same way
(``cashless.topups``: "wallet_topup").

A handler keeps the guarantees payments cannot know how to keep: that only the payer
may press a test checkout's buttons (``PaymentNotFound`` for anyone else), and that a
payment it cannot honour is refunded (``payments.refunds.refund_payment``), never kept.
Lock order: the payment row first (payments moved it), then whatever the handler locks.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Select
from sqlalchemy.orm import Session

from admitone.authorization import BuyerProof
from admitone.config import Settings

if TYPE_CHECKING:
    from admitone.payments.models import Payment, Refund


@dataclass(frozen=True, slots=True)
class PaidFor:
    """The thing a payment pays for, as its handler reports it to the payer."""

    title: str  # how the payer knows it: "Order 7KX2M9QA"
    status: str  # its state now: an order's status


@dataclass(frozen=True, slots=True)
class Fulfilment:
    """What a handler made of a succeeded payment."""

    kept: bool  # False: it could not be honoured and the handler refunded it
    paid_for: PaidFor


class PaymentPurpose(Protocol):
    """The handler of one purpose. Every method runs in the caller's unit of work."""

    def paid_for(self, session: Session, *, payment: Payment, payer: BuyerProof | None) -> PaidFor:
        """The thing ``payment`` pays for; PaymentNotFound unless ``payer`` may act on it
        (a ``payer`` of None is a provider's verified notification: no check)."""
        ...

    def payment_succeeded(
        self,
        session: Session,
        *,
        payment: Payment,
        payer: BuyerProof | None,
        now: datetime,
        settings: Settings,
    ) -> Fulfilment:
        """``payment`` has just moved to succeeded (once: a duplicate never gets here).
        Deliver what was paid for, or refund the payment; PaymentNotFound (the unit of
        work rolls back) unless ``payer`` may act."""
        ...

    def payment_failed(
        self, session: Session, *, payment: Payment, payer: BuyerProof | None, now: datetime
    ) -> PaidFor:
        """``payment`` has just moved to failed; PaymentNotFound unless ``payer`` may act."""
        ...

    def lock(self, session: Session, purpose_id: uuid.UUID) -> None:
        """Lock the thing paid for before its payment row is locked for a refund made at
        the provider (the lock order of the owner's own refunds)."""
        ...

    def refunded_at_provider(
        self, session: Session, *, payment: Payment, refund: Refund, full: bool, now: datetime
    ) -> None:
        """A refund made at the provider itself (the Stripe dashboard), already recorded
        on ``payment`` (``full``: nothing of it is left)."""
        ...

    def sold_for_event(
        self, *, event_id: uuid.UUID, organization_id: uuid.UUID
    ) -> Select[uuid.UUID]:
        """The ids of the things of this purpose sold for an event (the payout summary)."""
        ...


class UnknownPurpose(LookupError):
    """No handler is registered for a payment's purpose (its domain was not imported)."""


_PURPOSES: dict[str, PaymentPurpose] = {}


def register_purpose(name: str, handler: PaymentPurpose) -> None:
    """Register the handler of ``name``; once per purpose (a second registration of a
    name with another handler is a bug)."""
    registered = _PURPOSES.setdefault(name, handler)
    if registered is not handler:
        raise ValueError(f"payment purpose {name!r} is registered already")


def purpose_handler(name: str) -> PaymentPurpose:
    try:
        return _PURPOSES[name]
    except KeyError:
        raise UnknownPurpose(name) from None


def registered_purposes() -> Mapping[str, PaymentPurpose]:
    return dict(_PURPOSES)
