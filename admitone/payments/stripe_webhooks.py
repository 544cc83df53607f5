"""Stripe webhook events: each processed once, in the request, by guarded transitions.

The route verifies the ``Stripe-Signature`` first (``stripe_provider.verify_event``).
Then every event id enters the ``payment_notifications`` inbox under its unique
(provider, external id) in the same transaction as its effects, so a redelivery finds
it and changes nothing. Order of delivery does not matter: each handler moves a payment
or an order only from the states it may leave (a "session expired" after a "session
completed" finds the payment succeeded and is ignored). Unknown event types and objects
that are not ours are acknowledged (2xx) so that Stripe stops retrying.

Handled: ``checkout.session.completed`` and ``.async_payment_succeeded`` (the payment
succeeds: its purpose's handler delivers, e.g. pays the order),
``checkout.session.expired`` and ``.async_payment_failed`` and
``payment_intent.payment_failed`` (the payment fails; an order's hold follows its own
expiry), ``charge.refunded`` (a refund made in the Stripe dashboard, reconciled by the
charge's cumulative ``amount_refunded``, so our own refunds are not counted twice, then
handed to the purpose's handler).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from admitone.config import Settings
from admitone.payments import inbox
from admitone.payments.errors import PaymentNotFound, PaymentNotPending
from admitone.payments.models import Payment, PaymentStatus, Refund
from admitone.payments.purposes import purpose_handler
from admitone.payments.refunds import lock_payment
from admitone.payments.stripe_provider import NAME

logger = logging.getLogger(__name__)

PAID_EVENTS = frozenset({"checkout.session.completed", "checkout.session.async_payment_succeeded"})
FAILED_SESSION_EVENTS = frozenset(
    {"checkout.session.expired", "checkout.session.async_payment_failed"}
)


class WebhookOutcome(StrEnum):
    processed = "processed"  # this delivery changed something (or recorded the event)
    duplicate = "duplicate"  # this event id was processed before: nothing changed
    ignored = "ignored"  # an unknown type, or an object that is not ours / not applicable


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _metadata_payment_id(obj: dict[str, Any]) -> uuid.UUID | None:
    metadata = obj.get("metadata") or {}
    return _uuid(metadata.get("payment_id")) if isinstance(metadata, dict) else None


def _ref(value: Any) -> str | None:
    # An expandable field: an id, or the expanded object with its id.
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def handle_event(
    session: Session, *, event: dict[str, Any], now: datetime, settings: Settings
) -> WebhookOutcome:
    """Process one verified Stripe event once (see the module docstring).

    Lock: the inbox key, then as the payment services do (the payment, then what its
    purpose's handler locks: an order, its ticket types).
    """
    event_id, kind, data = event.get("id"), event.get("type"), event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(event_id, str) or not isinstance(kind, str) or not isinstance(obj, dict):
        return WebhookOutcome.ignored
    try:
        if kind in PAID_EVENTS:
            return _session_paid(session, event_id=event_id, obj=obj, now=now, settings=settings)
        if kind in FAILED_SESSION_EVENTS:
            return _failed(session, event_id=event_id, provider_ref=_ref(obj.get("id")), now=now)
        if kind == "payment_intent.payment_failed":
            payment_id = _metadata_payment_id(obj)
            if payment_id is None:
                return WebhookOutcome.ignored
            return _failed(session, event_id=event_id, payment_id=payment_id, now=now)
        if kind == "charge.refunded":
            return _charge_refunded(session, event_id=event_id, obj=obj, now=now)
    except PaymentNotFound:
        # Not a payment of this installation (another environment on the same account).
        return WebhookOutcome.ignored
    return WebhookOutcome.ignored


def _session_paid(
    session: Session, *, event_id: str, obj: dict[str, Any], now: datetime, settings: Settings
) -> WebhookOutcome:
    payment_id = _metadata_payment_id(obj)
    if payment_id is None or obj.get("payment_status") not in ("paid", "no_payment_required"):
        # Not ours, or an asynchronous method still pending: its own event comes later.
        return WebhookOutcome.ignored
    payment = session.scalar(
        select(Payment).where(Payment.id == payment_id, Payment.provider == NAME)
    )
    if payment is None:
        return WebhookOutcome.ignored
    if (
        obj.get("amount_total") != payment.amount_minor
        or str(obj.get("currency", "")).upper() != payment.currency
    ):
        logger.warning("stripe session amount mismatch", extra={"payment_id": str(payment_id)})
        return WebhookOutcome.ignored
    payment_intent = _ref(obj.get("payment_intent"))
    if payment_intent is not None:
        # Needed to refund; set once (a replay writes the same value).
        session.execute(
            update(Payment)
            .where(Payment.id == payment.id, Payment.provider_payment_ref.is_(None))
            .values(provider_payment_ref=payment_intent)
            .execution_options(synchronize_session=False)
        )
    result = inbox.payment_succeeded(
        session,
        provider=NAME,
        external_id=event_id,
        payment_id=payment_id,
        now=now,
        settings=settings,
    )
    if result.outcome == inbox.PaymentOutcome.duplicate:
        return WebhookOutcome.duplicate
    return WebhookOutcome.processed


def _failed(
    session: Session,
    *,
    event_id: str,
    now: datetime,
    payment_id: uuid.UUID | None = None,
    provider_ref: str | None = None,
) -> WebhookOutcome:
    if payment_id is None and provider_ref is None:
        return WebhookOutcome.ignored
    try:
        result = inbox.payment_failed(
            session,
            provider=NAME,
            external_id=event_id,
            payment_id=payment_id,
            provider_ref=provider_ref,
            now=now,
        )
    except PaymentNotPending:
        # Out of order: the payment succeeded (or was refunded) already. The inbox row
        # flushed before stays, so a redelivery is a duplicate.
        return WebhookOutcome.ignored
    if result.outcome == inbox.PaymentOutcome.duplicate:
        return WebhookOutcome.duplicate
    return WebhookOutcome.processed


def _charge_refunded(
    session: Session, *, event_id: str, obj: dict[str, Any], now: datetime
) -> WebhookOutcome:
    """A refund seen at Stripe: bring our payment up to the charge's ``amount_refunded``.

    Our own refunds raised ``payments.refunded_minor`` before Stripe sent this event,
    so only what was refunded elsewhere (the dashboard) is recorded, then handed to the
    payment's purpose (an order: a full refund revokes its tickets and puts their seats
    back on sale; a partial one only records the amount, Stripe does not say which
    tickets). Lock: the thing paid for (the purpose's lock), then the payment row.
    """
    if not inbox.record_notification(
        session, provider=NAME, external_id=event_id, kind="charge.refunded", now=now
    ):
        return WebhookOutcome.duplicate
    payment_intent = _ref(obj.get("payment_intent"))
    amount_refunded = obj.get("amount_refunded")
    if payment_intent is None or not isinstance(amount_refunded, int):
        return WebhookOutcome.ignored
    found = session.execute(
        select(Payment.id, Payment.purpose, Payment.purpose_id).where(
            Payment.provider == NAME, Payment.provider_payment_ref == payment_intent
        )
    ).first()
    if found is None:
        return WebhookOutcome.ignored
    payment_id, purpose, purpose_id = found
    handler = purpose_handler(purpose)
    # Lock order: the thing paid for before the payment row, as the owner's refunds do.
    handler.lock(session, purpose_id)
    payment = lock_payment(session, payment_id)
    delta = min(amount_refunded, payment.amount_minor) - payment.refunded_minor
    if delta <= 0 or payment.status not in (PaymentStatus.succeeded, PaymentStatus.refunded):
        return WebhookOutcome.ignored
    refunded = payment.refunded_minor + delta
    full = refunded >= payment.amount_minor
    session.execute(
        update(Payment)
        .where(Payment.id == payment.id)
        .values(
            refunded_minor=refunded,
            status=PaymentStatus.refunded if full else payment.status,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    refunds = obj.get("refunds")
    listed = refunds.get("data") if isinstance(refunds, dict) else None
    latest = _ref(listed[0]) if isinstance(listed, list) and listed else None
    refund = Refund(
        purpose=payment.purpose,
        purpose_id=payment.purpose_id,
        payment_id=payment.id,
        amount_minor=delta,
        currency=payment.currency,
        reason="stripe_dashboard",
        provider_ref=latest or _ref(obj.get("id")),
        created_at=now,
    )
    session.add(refund)
    session.flush()
    handler.refunded_at_provider(session, payment=payment, refund=refund, full=full, now=now)
    return WebhookOutcome.processed
