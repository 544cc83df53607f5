"""Payments serve any purpose: a second, fake purpose (a wallet's top-up) is paid through
the test provider and through a signed Stripe webhook, with the same inbox, and its
handler is called once per event, never knowing of orders, nor orders of it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Select, false, select, true
from sqlalchemy.orm import Session

from admitone.config import Settings
from admitone.db import Database, utcnow
from admitone.payments import checkout, purposes, test_provider
from admitone.payments.errors import PaymentNotFound
from admitone.payments.inbox import PaymentOutcome
from admitone.payments.models import Payment, PaymentStatus, Refund
from admitone.payments.providers import CheckoutLine, CheckoutRequest
from admitone.payments.purposes import BuyerProof, Fulfilment, PaidFor
from tests.factories import Shop
from tests.helpers import register
from tests.payments.fake_stripe import FakeStripe
from tests.payments.stripe_helpers import charge, post_event, stripe_settings

TOP_UP = "test_top_up"
AMOUNT = 2000


class TopUps:
    """What a cashless wallet would register: a top-up credits its owner's wallet once."""

    def __init__(self, *, owner_id: uuid.UUID, event_id: uuid.UUID) -> None:
        self.owner_id = owner_id
        self.event_id = event_id
        self.calls: list[tuple[str, uuid.UUID]] = []  # (what happened, top-up id)

    def _check(self, payer: BuyerProof | None) -> None:
        if payer is not None and payer.user_id != self.owner_id:
            raise PaymentNotFound()

    def _status(self, top_up_id: uuid.UUID) -> str:
        return "credited" if ("credited", top_up_id) in self.calls else "open"

    def paid_for(self, session: Session, *, payment: Payment, payer: BuyerProof | None) -> PaidFor:
        self._check(payer)
        return PaidFor(
            title=f"Top-up {payment.purpose_id}", status=self._status(payment.purpose_id)
        )

    def payment_succeeded(
        self,
        session: Session,
        *,
        payment: Payment,
        payer: BuyerProof | None,
        now: datetime,
        settings: Settings,
    ) -> Fulfilment:
        self._check(payer)
        self.calls.append(("credited", payment.purpose_id))
        return Fulfilment(kept=True, paid_for=self.paid_for(session, payment=payment, payer=None))

    def payment_failed(
        self, session: Session, *, payment: Payment, payer: BuyerProof | None, now: datetime
    ) -> PaidFor:
        self._check(payer)
        self.calls.append(("failed", payment.purpose_id))
        return self.paid_for(session, payment=payment, payer=None)

    def lock(self, session: Session, purpose_id: uuid.UUID) -> None:
        self.calls.append(("locked", purpose_id))

    def refunded_at_provider(
        self, session: Session, *, payment: Payment, refund: Refund, full: bool, now: datetime
    ) -> None:
        self.calls.append(("refunded" if full else "partly refunded", payment.purpose_id))

    def sold_for_event(
        self, *, event_id: uuid.UUID, organization_id: uuid.UUID
    ) -> Select[tuple[uuid.UUID]]:
        # Every top-up paid here was sold for the shop's event.
        of_this_event = true() if event_id == self.event_id else false()
        return select(Payment.purpose_id).where(Payment.purpose == TOP_UP, of_this_event)


@pytest.fixture
def wallet_owner(client: TestClient) -> dict[str, Any]:
    return register(client, full_name="Wanda Wallet")


@pytest.fixture
def top_ups(monkeypatch, wallet_owner, shop: Shop) -> TopUps:
    handler = TopUps(owner_id=uuid.UUID(wallet_owner["user"]["id"]), event_id=shop.event_id)
    # Registered for this test only.
    monkeypatch.setitem(purposes._PURPOSES, TOP_UP, handler)
    return handler


def open_top_up(database: Database, settings: Settings) -> tuple[uuid.UUID, Payment]:
    """A top-up's checkout, as the wallet would open it: (top-up id, payment)."""
    top_up_id = uuid.uuid4()
    with database.session() as session:
        payment, created = checkout.create_payment(
            session,
            purpose=TOP_UP,
            purpose_id=top_up_id,
            amount_minor=AMOUNT,
            currency="EUR",
            request=CheckoutRequest(
                lines=[CheckoutLine(name="Wallet top-up", quantity=1, unit_price_minor=AMOUNT)],
                customer_email="wanda@example.com",
                expires_at=utcnow() + timedelta(minutes=30),
                return_path="/wallet",
                metadata={"top_up_id": str(top_up_id)},
            ),
            transfer_destination=None,
            open_checkout_id=None,
            settings=settings,
        )
    assert created
    return top_up_id, payment


def payment_row(database: Database, payment_id: uuid.UUID) -> Payment:
    with database.session(write=False) as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        return payment


def test_a_top_up_paid_through_the_test_provider(
    client, clean_database, settings, top_ups, wallet_owner, shop, owner
):
    top_up_id, payment = open_top_up(clean_database, settings)
    assert payment.checkout_url == f"{settings.public_url}/pay/test/{payment.id}"
    approve = f"/api/v1/payments/test/{payment.id}/approve"

    # Only the payer may press the button: a stranger changes nothing.
    stranger = register(client)
    refused = client.post(approve, headers=stranger["headers"])
    assert refused.status_code == 404
    assert payment_row(clean_database, payment.id).status == PaymentStatus.pending

    response = client.post(approve, headers=wallet_owner["headers"])
    assert response.status_code == 200, response.text
    result = response.json()["data"]
    assert result["outcome"] == "paid"
    assert result["payment"]["status"] == "succeeded"
    assert top_ups.calls == [("credited", top_up_id)]

    # The same button again: one notification, handled once.
    again = client.post(approve, headers=wallet_owner["headers"]).json()["data"]
    assert again["outcome"] == "duplicate"
    assert top_ups.calls == [("credited", top_up_id)]

    # The organizer's payout counts the payments of every purpose sold for the event.
    payout = client.get(
        f"/api/v1/organizations/{shop.org_slug}/events/{shop.event_id}/payout",
        headers=owner["headers"],
    )
    assert payout.status_code == 200, payout.text
    assert payout.json()["data"]["gross_minor"] == AMOUNT


def test_a_declined_top_up_calls_its_handler_once(client, clean_database, settings, top_ups):
    top_up_id, payment = open_top_up(clean_database, settings)
    with clean_database.session() as session:
        result = test_provider.decline_test_payment(
            session,
            payment_id=payment.id,
            payer=BuyerProof(user_id=top_ups.owner_id, order_token=None),
            now=utcnow(),
        )
    assert (result.outcome, result.paid_for.status) == (PaymentOutcome.failed, "open")
    assert top_ups.calls == [("failed", top_up_id)]


@pytest.fixture
def stripe_app(make_app: Callable[..., FastAPI], fake_stripe: FakeStripe) -> TestClient:
    with TestClient(make_app(**stripe_settings(fake_stripe))) as client:
        yield client


def test_a_top_up_paid_and_refunded_through_signed_stripe_webhooks(
    stripe_app, fake_stripe, clean_database, top_ups
):
    settings = stripe_app.app.state.settings
    top_up_id, payment = open_top_up(clean_database, settings)
    session_id = payment.checkout_url.rsplit("/", 1)[1]
    sent = fake_stripe.calls("POST", "/v1/checkout/sessions")[0].params
    assert sent["metadata[top_up_id]"] == str(top_up_id)
    assert sent["metadata[payment_id]"] == str(payment.id)
    assert sent["success_url"].endswith("/wallet?payment=done")

    completed = dict(fake_stripe.complete(session_id))
    event_id = f"evt_{uuid.uuid4().hex[:24]}"
    first = post_event(stripe_app, "checkout.session.completed", completed, event_id=event_id)
    assert first.json()["data"]["outcome"] == "processed"
    again = post_event(stripe_app, "checkout.session.completed", completed, event_id=event_id)
    assert again.json()["data"]["outcome"] == "duplicate"
    assert top_ups.calls == [("credited", top_up_id)]
    row = payment_row(clean_database, payment.id)
    assert (row.status, row.provider_payment_ref) == (
        PaymentStatus.succeeded,
        f"pi_{session_id[3:]}",
    )

    # Refunded in the Stripe dashboard: recorded on the payment, then handed to the purpose.
    refunded = charge(completed, amount_refunded=AMOUNT, refund_id="re_dashboard_1")
    post_event(stripe_app, "charge.refunded", refunded)
    assert top_ups.calls[1:] == [("locked", top_up_id), ("refunded", top_up_id)]
    with clean_database.session(write=False) as session:
        refund = session.scalars(select(Refund)).one()
        assert (refund.purpose, refund.purpose_id, refund.amount_minor) == (
            TOP_UP,
            top_up_id,
            AMOUNT,
        )
    assert payment_row(clean_database, payment.id).status == PaymentStatus.refunded


def test_a_payment_of_an_unregistered_purpose_is_refused(client, clean_database, settings):
    with clean_database.session() as session:
        session.add(
            Payment(
                id=(payment_id := uuid.uuid4()),
                purpose="nobody_registered_this",
                purpose_id=uuid.uuid4(),
                provider="test",
                status=PaymentStatus.pending,
                amount_minor=100,
                currency="EUR",
            )
        )
    with pytest.raises(purposes.UnknownPurpose), clean_database.session() as session:
        test_provider.approve_test_payment(
            session,
            payment_id=payment_id,
            payer=BuyerProof(user_id=None, order_token=None),
            now=utcnow(),
            settings=settings,
        )
    # Rolled back: the payment is still pending and the notification was not kept.
    assert payment_row(clean_database, payment_id).status == PaymentStatus.pending
