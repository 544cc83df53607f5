"""Paying through the built-in test provider, and the one idempotent "payment succeeded" path."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from admitone.db import utcnow
from admitone.events.models import EventStatus
from admitone.orders import expiry
from admitone.orders.models import Order, OrderStatus
from admitone.payments import inbox
from admitone.payments.errors import PaymentNotFound
from admitone.payments.models import Payment, PaymentNotification, PaymentStatus, Refund
from admitone.tickets.models import Ticket
from tests.factories import counters, expire_hold, make_shop, set_event_status
from tests.helpers import db_snapshot, register
from tests.orders.helpers import (
    approve,
    buy,
    count,
    create_order,
    decline,
    read_order,
    start_payment,
    token_headers,
)


def sweep_expired_holds(database) -> None:
    """What the periodic sweep does: the expired hold is released, its seats back on sale."""
    with database.session() as session:
        assert expiry.expire_holds(session, now=utcnow()) == 1


def notify_success(
    database, settings, *, provider: str = "test", external_id: str, **payment
) -> inbox.PaymentResult:
    """A "payment succeeded" notification, as a provider delivers it (by ``payment_id``
    or ``provider_ref``), handled in its own unit of work."""
    with database.session() as session:
        return inbox.payment_succeeded(
            session,
            provider=provider,
            external_id=external_id,
            now=utcnow(),
            settings=settings,
            **payment,
        )


def tickets_of(database, order_id) -> int:
    return count(database, Ticket, Ticket.order_id == uuid.UUID(order_id))


class TestStartPayment:
    def test_payment_with_a_checkout_url_served_by_the_app(self, client, shop, settings):
        order = create_order(client, shop, quantity=2)
        payment = start_payment(client, order)
        assert payment["status"] == "pending"
        assert payment["provider"] == "test"
        assert payment["amount_minor"] == 5000 and payment["currency"] == "EUR"
        assert payment["checkout_url"] == f"{settings.public_url}/pay/test/{payment['id']}"

    def test_an_open_checkout_is_answered_again(self, client, shop, clean_database):
        order = create_order(client, shop)
        first = start_payment(client, order)
        again = start_payment(client, order, expect=200)
        assert again["id"] == first["id"]
        assert count(clean_database, Payment) == 1

    def test_owner_by_account(self, client, shop):
        ada = register(client)
        order = create_order(client, shop, headers=ada["headers"])
        response = client.post(f"/api/v1/orders/{order['id']}/pay", headers=ada["headers"])
        assert response.status_code == 201
        eve = register(client)
        response = client.post(f"/api/v1/orders/{order['id']}/pay", headers=eve["headers"])
        assert response.status_code == 404

    def test_rate_limited(self, make_app, clean_database, owner):
        shop = make_shop(clean_database, owner_id=owner["user"]["id"])
        with TestClient(make_app(rate_limit_payment="2/minute")) as client:
            order = create_order(client, shop)
            start_payment(client, order)
            start_payment(client, order, expect=200)
            response = client.post(
                f"/api/v1/orders/{order['id']}/pay", headers=token_headers(order["access_token"])
            )
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "RATE_LIMITED"
        assert int(response.headers["Retry-After"]) >= 1


class TestApprove:
    def test_approval_pays_sells_and_issues_tickets(self, client, shop, clean_database):
        order = create_order(client, shop, quantity=3)
        payment = start_payment(client, order)
        result = approve(client, payment)
        assert result["outcome"] == "paid"
        assert result["order_status"] == "paid"
        assert result["payment"]["status"] == "succeeded"
        assert result["payment"]["succeeded_at"] is not None
        c = counters(clean_database, shop.ticket_type_id)
        assert (c.sold, c.held) == (3, 0)
        assert tickets_of(clean_database, order["id"]) == 3
        seen = read_order(client, order)
        assert seen["status"] == "paid" and seen["paid_at"] is not None

    def test_the_same_notification_twice_issues_tickets_once(self, client, shop, clean_database):
        order = create_order(client, shop, quantity=2)
        payment = start_payment(client, order)
        assert approve(client, payment)["outcome"] == "paid"
        before = db_snapshot(clean_database)
        replay = approve(client, payment)
        assert replay["outcome"] == "duplicate"
        assert replay["order_status"] == "paid"
        assert db_snapshot(clean_database) == before
        assert tickets_of(clean_database, order["id"]) == 2
        assert counters(clean_database, shop.ticket_type_id).sold == 2
        assert count(clean_database, PaymentNotification) == 1

    def test_another_notification_for_a_succeeded_payment_changes_nothing(
        self, client, shop, clean_database, settings
    ):
        # A provider may report one success twice under two event ids.
        order = create_order(client, shop, quantity=2)
        payment = start_payment(client, order)
        approve(client, payment)
        before = db_snapshot(clean_database)
        result = notify_success(
            clean_database,
            settings,
            external_id="evt_other_delivery",
            payment_id=uuid.UUID(payment["id"]),
        )
        assert result.outcome == inbox.PaymentOutcome.already_processed
        after = db_snapshot(clean_database)
        assert after.pop("payment_notifications") != before.pop("payment_notifications")
        assert after == before  # only the inbox row is new
        assert tickets_of(clean_database, order["id"]) == 2

    def test_unknown_payment(self, client, clean_database):
        before = db_snapshot(clean_database)
        for action in ("approve", "decline"):
            response = client.post(
                f"/api/v1/payments/test/{uuid.uuid4()}/{action}", headers=token_headers("x")
            )
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "NOT_FOUND"
            response = client.post(
                f"/api/v1/payments/test/nope/{action}", headers=token_headers("x")
            )
            assert response.status_code == 422
        assert db_snapshot(clean_database) == before


class TestOnlyTheBuyerPays:
    """Issue 13: the test provider's buttons answer the order's own buyer only."""

    @pytest.mark.parametrize("action", ["approve", "decline"])
    def test_a_stranger_changes_nothing(self, client, shop, clean_database, action):
        order = create_order(client, shop, quantity=2)
        payment = start_payment(client, order)
        stranger = register(client, email="mallory@example.com")
        before = db_snapshot(clean_database)
        url = f"/api/v1/payments/test/{payment['id']}/{action}"
        attempts = {
            "nobody": ({}, 401, "NOT_AUTHENTICATED"),
            "another account": (stranger["headers"], 404, "NOT_FOUND"),
            "a wrong secret": (token_headers("not-the-secret"), 404, "NOT_FOUND"),
            "a wrong secret in the query": ({}, 404, "NOT_FOUND"),
        }
        for name, (headers, status, code) in attempts.items():
            params = {"token": "not-the-secret"} if "query" in name else None
            response = client.post(url, headers=headers, params=params)
            assert (response.status_code, response.json()["error"]["code"]) == (status, code), name
        assert db_snapshot(clean_database) == before
        assert count(clean_database, PaymentNotification) == 0
        # The buyer still pays (or declines) with the order's secret.
        pressed = client.post(url, params={"token": order["access_token"]})
        assert pressed.status_code == 200
        assert pressed.json()["data"]["outcome"] == ("paid" if action == "approve" else "failed")

    def test_the_buyers_account_pays(self, client, shop, clean_database):
        buyer = register(client, email="bea@example.com")
        response = client.post(
            "/api/v1/orders",
            json={
                "event_id": str(shop.event_id),
                "items": [{"ticket_type_id": str(shop.ticket_type_id), "quantity": 1}],
                "buyer": {"name": "Bea", "email": "bea@example.com"},
            },
            headers=buyer["headers"],
        )
        order = response.json()["data"]
        payment = client.post(f"/api/v1/orders/{order['id']}/pay", headers=buyer["headers"])
        payment_id = payment.json()["data"]["id"]
        stranger = register(client, email="mallory@example.com")
        refused = client.post(
            f"/api/v1/payments/test/{payment_id}/approve", headers=stranger["headers"]
        )
        assert refused.status_code == 404
        assert counters(clean_database, shop.ticket_type_id).sold == 0
        approved = client.post(
            f"/api/v1/payments/test/{payment_id}/approve", headers=buyer["headers"]
        )
        assert approved.status_code == 200 and approved.json()["data"]["outcome"] == "paid"
        assert tickets_of(clean_database, order["id"]) == 1


class TestDecline:
    def test_decline_keeps_the_order_pending_and_payable(self, client, shop, clean_database):
        order = create_order(client, shop, quantity=2)
        payment = start_payment(client, order)
        result = decline(client, payment)
        assert result["outcome"] == "failed"
        assert result["payment"]["status"] == "failed"
        assert result["order_status"] == "pending"
        assert counters(clean_database, shop.ticket_type_id).held == 2
        assert decline(client, payment)["outcome"] == "duplicate"
        # The buyer tries again: a new checkout, approved this time.
        retry = start_payment(client, order)
        assert retry["id"] != payment["id"]
        assert approve(client, retry)["outcome"] == "paid"
        assert tickets_of(clean_database, order["id"]) == 2

    def test_a_declined_payment_may_still_succeed(self, client, shop, clean_database):
        order = create_order(client, shop)
        payment = start_payment(client, order)
        decline(client, payment)
        assert approve(client, payment)["outcome"] == "paid"
        assert tickets_of(clean_database, order["id"]) == 1

    def test_decline_after_success_is_refused(self, client, shop, clean_database):
        order = create_order(client, shop)
        payment = start_payment(client, order)
        approve(client, payment)
        before = db_snapshot(clean_database)
        response = client.post(
            f"/api/v1/payments/test/{payment['id']}/decline",
            headers=token_headers(order["access_token"]),
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "PAYMENT_NOT_PENDING"
        assert db_snapshot(clean_database) == before


class TestLatePayment:
    def test_after_expiry_with_seats_free_the_order_is_paid(self, client, shop, clean_database):
        order = create_order(client, shop, quantity=4)
        payment = start_payment(client, order)
        expire_hold(clean_database, order["id"])
        sweep_expired_holds(clean_database)
        create_order(client, shop, quantity=1)
        assert counters(clean_database, shop.ticket_type_id).held == 1
        result = approve(client, payment)
        assert result["outcome"] == "paid"
        assert result["order_status"] == "paid"
        c = counters(clean_database, shop.ticket_type_id)
        assert (c.sold, c.held) == (4, 1)
        assert tickets_of(clean_database, order["id"]) == 4

    def test_after_expiry_with_seats_resold_it_is_refunded(self, client, shop, clean_database):
        order = create_order(client, shop, quantity=4)
        payment = start_payment(client, order)
        expire_hold(clean_database, order["id"])
        resold = buy(client, shop, quantity=8)  # takes the released seats: 2 left
        result = approve(client, payment)
        assert result["outcome"] == "refunded"
        assert result["payment"]["status"] == "refunded"
        assert result["order_status"] == "refunded"
        c = counters(clean_database, shop.ticket_type_id)
        assert (c.sold, c.held) == (8, 0)  # never oversold
        assert tickets_of(clean_database, order["id"]) == 0
        assert tickets_of(clean_database, resold["id"]) == 8
        with clean_database.session(write=False) as session:
            refund = session.scalars(select(Refund)).one()
        assert str(refund.payment_id) == payment["id"]
        assert refund.reason == "hold_expired_sold_out"
        assert refund.provider_ref.startswith("test_re_")
        seen = read_order(client, order)
        assert seen["status"] == "refunded" and seen["refunded_minor"] == 10000
        # Delivered again later: still nothing more.
        assert approve(client, payment)["outcome"] == "duplicate"
        assert count(clean_database, Refund) == 1

    def test_expired_but_not_yet_released_hold_keeps_its_seats(self, client, shop, clean_database):
        # Nothing released the hold yet: its seats were never on sale to anyone else.
        order = create_order(client, shop, quantity=10)
        payment = start_payment(client, order)
        expire_hold(clean_database, order["id"])
        assert approve(client, payment)["outcome"] == "paid"
        assert counters(clean_database, shop.ticket_type_id).sold == 10

    def test_event_cancelled_after_expiry_refunds(self, client, shop, clean_database):
        order = create_order(client, shop, quantity=2)
        payment = start_payment(client, order)
        expire_hold(clean_database, order["id"])
        sweep_expired_holds(clean_database)
        set_event_status(clean_database, shop.event_id, EventStatus.cancelled)
        assert approve(client, payment)["outcome"] == "refunded"
        assert counters(clean_database, shop.ticket_type_id).sold == 0

    def test_a_hold_that_escaped_the_event_cancellation_is_refunded_when_paid(
        self, client, shop, clean_database
    ):
        # The order was created as the cancellation committed: it is still pending.
        order = create_order(client, shop, quantity=2)
        payment = start_payment(client, order)
        set_event_status(clean_database, shop.event_id, EventStatus.cancelled)
        result = approve(client, payment)
        assert result["outcome"] == "refunded"
        assert result["payment"]["status"] == "refunded"
        assert result["order_status"] == "refunded"
        c = counters(clean_database, shop.ticket_type_id)
        assert (c.sold, c.held) == (0, 0)  # the hold went back with it
        assert tickets_of(clean_database, order["id"]) == 0
        with clean_database.session(write=False) as session:
            assert session.scalars(select(Refund.reason)).one() == "event_not_on_sale"
        assert read_order(client, order)["refunded_minor"] == order["total_minor"]

    def test_a_cancelled_order_paid_anyway_is_refunded(self, client, shop, clean_database):
        order = create_order(client, shop, quantity=2)
        payment = start_payment(client, order)
        client.post(
            f"/api/v1/orders/{order['id']}/cancel", headers=token_headers(order["access_token"])
        )
        result = approve(client, payment)
        assert result["outcome"] == "refunded"
        assert result["order_status"] == "refunded"
        assert counters(clean_database, shop.ticket_type_id).sold == 0
        with clean_database.session(write=False) as session:
            assert session.scalars(select(Refund.reason)).one() == "order_cancelled"

    def test_an_order_paid_twice_refunds_the_second_payment(self, client, shop, clean_database):
        order = create_order(client, shop, quantity=2)
        first = start_payment(client, order)
        decline(client, first)
        second = start_payment(client, order)  # the first is no longer open
        assert approve(client, second)["outcome"] == "paid"
        # The first checkout succeeds after all (the buyer retried at the provider).
        result = approve(client, first)
        assert result["outcome"] == "refunded"
        assert result["order_status"] == "paid"
        assert tickets_of(clean_database, order["id"]) == 2
        assert counters(clean_database, shop.ticket_type_id).sold == 2
        with clean_database.session(write=False) as session:
            statuses = dict(session.execute(select(Payment.id, Payment.status)).all())
            order_row = session.scalars(select(Order)).one()
        assert statuses == {
            uuid.UUID(first["id"]): PaymentStatus.refunded,
            uuid.UUID(second["id"]): PaymentStatus.succeeded,
        }
        assert order_row.status == OrderStatus.paid and order_row.refunded_minor == 0


class TestCheckoutPage:
    def test_the_app_serves_the_same_flow(self, client, shop, clean_database):
        # The test provider's checkout page (web/pages/checkout.py) opens with the secret.
        order = create_order(client, shop)
        payment = start_payment(client, order)
        page = client.get(f"/pay/test/{payment['id']}", params={"token": order["access_token"]})
        assert page.status_code == 200


class TestNotificationsByProviderReference:
    """How a provider webhook will call in: by the provider's own reference."""

    def test_success_and_failure_by_provider_ref(self, client, shop, clean_database, settings):
        order = create_order(client, shop, quantity=2)
        payment = start_payment(client, order)
        with clean_database.session(write=False) as session:
            ref = session.scalar(select(Payment.provider_ref))
        assert ref == f"test_{uuid.UUID(payment['id']).hex}"
        with clean_database.session() as session:
            failed = inbox.payment_failed(
                session, provider="test", external_id="evt_1", provider_ref=ref, now=utcnow()
            )
            assert failed.outcome == inbox.PaymentOutcome.failed
        paid = notify_success(clean_database, settings, external_id="evt_2", provider_ref=ref)
        assert paid.outcome == inbox.PaymentOutcome.paid
        assert tickets_of(clean_database, order["id"]) == 2

    def test_unknown_reference_or_provider_changes_nothing(
        self, client, shop, clean_database, settings
    ):
        order = create_order(client, shop)
        payment = start_payment(client, order)
        before = db_snapshot(clean_database)
        for provider, ref in [("test", "test_nope"), ("stripe", f"test_{payment['id']}")]:
            with pytest.raises(PaymentNotFound):
                notify_success(
                    clean_database,
                    settings,
                    provider=provider,
                    external_id=f"evt_{provider}",
                    provider_ref=ref,
                )
        # By id too: the payment is found by its id alone, then its provider must match.
        with pytest.raises(PaymentNotFound):
            notify_success(
                clean_database,
                settings,
                provider="stripe",
                external_id="evt_by_id",
                payment_id=uuid.UUID(payment["id"]),
            )
        assert db_snapshot(clean_database) == before
