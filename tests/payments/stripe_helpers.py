"""Signing and posting Stripe webhook events exactly as Stripe does, and Stripe checkouts."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import Shop
from tests.orders.helpers import create_order, start_payment
from tests.payments.fake_stripe import FakeStripe

SECRET_KEY = "sk_test_admitone_fake"
WEBHOOK_SECRET = "whsec_admitone_test_secret"
WEBHOOK_URL = "/api/v1/payments/stripe/webhook"


def stripe_settings(fake: FakeStripe, **overrides: Any) -> dict[str, Any]:
    return {
        "payment_provider": "stripe",
        "stripe_secret_key": SECRET_KEY,
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "stripe_api_base": fake.url,
        **overrides,
    }


def signature(payload: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """``t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">``: Stripe's scheme, computed here."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def event_payload(kind: str, obj: dict[str, Any], *, event_id: str | None = None) -> str:
    return json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "api_version": "2025-01-27.acacia",
            "created": int(time.time()),
            "livemode": False,
            "type": kind,
            "data": {"object": obj},
        }
    )


def post_event(
    client: TestClient,
    kind: str,
    obj: dict[str, Any],
    *,
    event_id: str | None = None,
    expect: int | None = 200,
    **sign: Any,
) -> Any:
    payload = event_payload(kind, obj, event_id=event_id)
    response = client.post(
        WEBHOOK_URL,
        content=payload.encode(),
        headers={
            "Stripe-Signature": signature(payload, **sign),
            "Content-Type": "application/json",
        },
    )
    if expect is not None:
        assert response.status_code == expect, response.text
    return response


def post_raw(client: TestClient, payload: str, headers: dict[str, str]) -> Any:
    return client.post(
        WEBHOOK_URL,
        content=payload.encode(),
        headers={"Content-Type": "application/json", **headers},
    )


def stripe_checkout(
    client: TestClient, shop: Shop, fake: FakeStripe, *, quantity: int = 1
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """An order paid through a Stripe checkout: (order, our payment, the fake's session)."""
    order = create_order(client, shop, quantity=quantity)
    payment = start_payment(client, order)
    session_id = payment["checkout_url"].rsplit("/", 1)[1]
    return order, payment, fake.sessions[session_id]


def pay(client: TestClient, fake: FakeStripe, checkout: dict[str, Any], **kw: Any) -> Any:
    """Stripe completes the checkout and tells us: ``checkout.session.completed``."""
    return post_event(
        client, "checkout.session.completed", dict(fake.complete(checkout["id"])), **kw
    )


def charge(checkout: dict[str, Any], *, amount_refunded: int, refund_id: str) -> dict[str, Any]:
    """The charge of a paid checkout, as ``charge.refunded`` carries it."""
    return {
        "id": f"ch_{checkout['id'][3:]}",
        "object": "charge",
        "amount": checkout["amount_total"],
        "amount_refunded": amount_refunded,
        "currency": checkout["currency"],
        "payment_intent": checkout["payment_intent"],
        "refunded": amount_refunded >= checkout["amount_total"],
        "refunds": {"object": "list", "data": [{"id": refund_id, "object": "refund"}]},
    }


# What payments and refunds may change. Not the whole database: tables written by
# background work after a payment (e-mail deliveries, signing keys) change on their own.
MONEY_TABLES = (
    "orders",
    "order_items",
    "payments",
    "refunds",
    "payment_notifications",
    "tickets",
    "ticket_types",
    "organizations",
)


def money_snapshot(database: Any) -> dict[str, list[tuple[str, ...]]]:
    """``db_snapshot`` of the tables payments and refunds touch."""
    from tests.helpers import db_snapshot

    snapshot = db_snapshot(database)
    return {table: snapshot[table] for table in MONEY_TABLES}
