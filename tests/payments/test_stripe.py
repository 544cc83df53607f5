"""Stripe through the official package against a local fake: checkout, signed webhooks,
refunds (ours and the dashboard's), the connected account's fee."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from admitone.config import Settings
from admitone.errors import Busy
from admitone.jobs import JobContext, run_job
from admitone.orders import refunds as order_refunds
from admitone.orders.models import Order
from admitone.payments.models import Payment, PaymentNotification, PaymentStatus, Refund
from admitone.payments.stripe_provider import session_expiry
from admitone.tickets.models import Ticket, TicketStatus
from tests.factories import counters, make_shop
from tests.helpers import register
from tests.orders.helpers import count, read_order
from tests.payments.fake_stripe import card_declined
from tests.payments.stripe_helpers import (
    WEBHOOK_SECRET,
    charge,
    event_payload,
    money_snapshot,
    pay,
    post_event,
    post_raw,
    signature,
    stripe_checkout,
)


def tickets(database, order_id: str) -> list[Ticket]:
    with database.session(write=False) as session:
        return list(
            session.scalars(
                select(Ticket).where(Ticket.order_id == uuid.UUID(order_id)).order_by(Ticket.id)
            )
        )


def payment_row(database, payment_id: str) -> Payment:
    with database.session(write=False) as session:
        payment = session.get(Payment, uuid.UUID(payment_id))
        assert payment is not None
        return payment


def refund_url(shop, order_id: str) -> str:
    return f"/api/v1/organizations/{shop.org_slug}/events/{shop.event_id}/orders/{order_id}/refund"


class TestSettings:
    def test_stripe_needs_its_secret_key(self):
        with pytest.raises(ValidationError, match="ADMITONE_STRIPE_SECRET_KEY"):
            Settings(_env_file=None, payment_provider="stripe", stripe_webhook_secret="whsec_x")

    def test_stripe_needs_its_webhook_secret(self):
        with pytest.raises(ValidationError, match="ADMITONE_STRIPE_WEBHOOK_SECRET"):
            Settings(_env_file=None, payment_provider="stripe", stripe_secret_key="sk_test_x")

    def test_api_base_must_be_a_url(self):
        with pytest.raises(ValidationError, match="ADMITONE_STRIPE_API_BASE"):
            Settings(_env_file=None, stripe_api_base="localhost:12111")

    def test_fee_percent_within_0_and_100(self):
        with pytest.raises(ValidationError, match="platform_fee_percent"):
            Settings(_env_file=None, platform_fee_percent="100.5")

    def test_unknown_provider_refused(self):
        with pytest.raises(ValidationError, match="payment_provider"):
            Settings(_env_file=None, payment_provider="paypal")


class TestCheckout:
    def test_session_with_line_items_metadata_and_urls(self, stripe_client, shop, fake_stripe):
        order, payment, _checkout = stripe_checkout(stripe_client, shop, fake_stripe, quantity=2)
        assert payment["provider"] == "stripe"
        assert payment["checkout_url"].startswith("https://checkout.stripe.test/c/pay/cs_test_")
        [call] = fake_stripe.calls("POST", "/v1/checkout/sessions")
        sent = call.params
        assert sent["mode"] == "payment"
        assert sent["line_items[0][quantity]"] == "2"
        assert sent["line_items[0][price_data][unit_amount]"] == "2500"
        assert sent["line_items[0][price_data][currency]"] == "eur"
        assert sent["line_items[0][price_data][product_data][name]"] == "Standing"
        assert sent["metadata[order_id]"] == order["id"]
        assert sent["metadata[payment_id]"] == payment["id"]
        assert sent["payment_intent_data[metadata][payment_id]"] == payment["id"]
        assert sent["success_url"].startswith("http://127.0.0.1:8000/orders/" + order["id"])
        assert sent["cancel_url"].startswith("http://127.0.0.1:8000/orders/" + order["id"])
        assert call.headers["authorization"] == "Bearer sk_test_admitone_fake"
        assert call.headers["idempotency-key"] == f"admitone-checkout-{payment['id']}"
        # No connected account: no fee or transfer at Stripe, the fee still recorded.
        assert "payment_intent_data[application_fee_amount]" not in sent
        assert "payment_intent_data[transfer_data][destination]" not in sent
        assert payment["application_fee_minor"] == 250

    def test_expiry_is_the_hold_clamped_to_30_minutes(self, stripe_client, shop, fake_stripe):
        before = int(time.time())
        stripe_checkout(stripe_client, shop, fake_stripe)
        [call] = fake_stripe.calls("POST", "/v1/checkout/sessions")
        # The hold is 15 minutes; Stripe wants at least 30.
        assert before + 30 * 60 < int(call.params["expires_at"]) <= int(time.time()) + 32 * 60

    def test_session_expiry_rule(self):
        now = datetime(2026, 1, 1, 12, tzinfo=UTC)
        assert session_expiry(now + timedelta(minutes=45), now=now) == now + timedelta(minutes=45)
        assert session_expiry(now + timedelta(minutes=5), now=now) > now + timedelta(minutes=30)
        assert session_expiry(now + timedelta(hours=30), now=now) < now + timedelta(hours=24)

    def test_connected_account_gets_fee_and_destination(
        self, stripe_client, shop, fake_stripe, owner
    ):
        response = stripe_client.put(
            f"/api/v1/organizations/{shop.org_slug}/stripe-account",
            json={"stripe_account_id": "acct_1Organizer"},
            headers=owner["headers"],
        )
        assert response.status_code == 200, response.text
        _order, payment, _checkout = stripe_checkout(stripe_client, shop, fake_stripe, quantity=3)
        sent = fake_stripe.calls("POST", "/v1/checkout/sessions")[0].params
        assert sent["payment_intent_data[application_fee_amount]"] == "375"  # 5 % of 75.00
        assert sent["payment_intent_data[transfer_data][destination]"] == "acct_1Organizer"
        assert payment["application_fee_minor"] == 375

    def test_provider_error_is_a_502_and_no_payment(
        self, stripe_client, shop, fake_stripe, clean_database
    ):
        fake_stripe.fail_next["/v1/checkout/sessions"] = card_declined()
        from tests.orders.helpers import create_order, token_headers

        order = create_order(stripe_client, shop)
        response = stripe_client.post(
            f"/api/v1/orders/{order['id']}/pay", headers=token_headers(order["access_token"])
        )
        assert response.status_code == 502
        assert response.json()["error"]["code"] == "PAYMENT_PROVIDER_ERROR"
        assert count(clean_database, Payment) == 0

    def test_test_provider_routes_are_gone(self, stripe_client, shop, fake_stripe):
        _order, payment, _checkout = stripe_checkout(stripe_client, shop, fake_stripe)
        response = stripe_client.post(f"/api/v1/payments/test/{payment['id']}/approve")
        assert response.status_code == 404


class TestWebhookEvents:
    def test_completed_pays_and_issues_tickets_once(
        self, stripe_client, shop, fake_stripe, clean_database
    ):
        order, payment, checkout = stripe_checkout(stripe_client, shop, fake_stripe, quantity=2)
        response = pay(stripe_client, fake_stripe, checkout, event_id="evt_paid_1")
        assert response.json()["data"]["outcome"] == "processed"
        assert read_order(stripe_client, order)["status"] == "paid"
        assert len(tickets(clean_database, order["id"])) == 2
        assert counters(clean_database, shop.ticket_type_id).sold == 2
        row = payment_row(clean_database, payment["id"])
        assert row.status == PaymentStatus.succeeded
        assert row.provider_payment_ref == checkout["payment_intent"]

        before = money_snapshot(clean_database)
        replay = pay(stripe_client, fake_stripe, checkout, event_id="evt_paid_1")
        assert replay.json()["data"]["outcome"] == "duplicate"
        assert money_snapshot(clean_database) == before

        # Another event about the same payment (say async_payment_succeeded): no new tickets.
        other = post_event(
            stripe_client, "checkout.session.async_payment_succeeded", checkout, event_id="evt_2"
        )
        assert other.json()["data"]["outcome"] == "processed"
        assert len(tickets(clean_database, order["id"])) == 2
        assert counters(clean_database, shop.ticket_type_id).sold == 2

    def test_expired_after_completed_is_harmless(
        self, stripe_client, shop, fake_stripe, clean_database
    ):
        order, payment, checkout = stripe_checkout(stripe_client, shop, fake_stripe)
        pay(stripe_client, fake_stripe, checkout)
        response = post_event(stripe_client, "checkout.session.expired", checkout)
        assert response.json()["data"]["outcome"] == "ignored"
        assert read_order(stripe_client, order)["status"] == "paid"
        assert payment_row(clean_database, payment["id"]).status == PaymentStatus.succeeded
        assert len(tickets(clean_database, order["id"])) == 1

    def test_expired_session_fails_the_payment_order_keeps_its_hold(
        self, stripe_client, shop, fake_stripe, clean_database
    ):
        order, payment, checkout = stripe_checkout(stripe_client, shop, fake_stripe)
        response = post_event(stripe_client, "checkout.session.expired", checkout)
        assert response.json()["data"]["outcome"] == "processed"
        assert payment_row(clean_database, payment["id"]).status == PaymentStatus.failed
        assert read_order(stripe_client, order)["status"] == "pending"
        assert counters(clean_database, shop.ticket_type_id).held == 1

    def test_payment_intent_failed(self, stripe_client, shop, fake_stripe, clean_database):
        _order, payment, _checkout = stripe_checkout(stripe_client, shop, fake_stripe)
        intent = {
            "id": "pi_failed",
            "object": "payment_intent",
            "metadata": {"payment_id": payment["id"]},
        }
        response = post_event(stripe_client, "payment_intent.payment_failed", intent)
        assert response.json()["data"]["outcome"] == "processed"
        assert payment_row(clean_database, payment["id"]).status == PaymentStatus.failed

    def test_failed_then_completed_still_pays(self, stripe_client, shop, fake_stripe):
        order, payment, checkout = stripe_checkout(stripe_client, shop, fake_stripe)
        intent = {
            "id": "pi_x",
            "object": "payment_intent",
            "metadata": {"payment_id": payment["id"]},
        }
        post_event(stripe_client, "payment_intent.payment_failed", intent)
        pay(stripe_client, fake_stripe, checkout)
        assert read_order(stripe_client, order)["status"] == "paid"

    def test_unknown_type_acknowledged_and_ignored(self, stripe_client, shop, clean_database):
        before = money_snapshot(clean_database)
        response = post_event(stripe_client, "customer.created", {"id": "cus_1"})
        assert response.json()["data"] == {
            "received": True,
            "outcome": "ignored",
            "event_type": "customer.created",
        }
        assert money_snapshot(clean_database) == before

    @pytest.mark.parametrize(
        "event",
        [
            {"id": "evt_1", "type": "charge.refunded", "data": []},
            {"id": "evt_2", "type": "charge.refunded", "data": {"object": "x"}},
            {"id": 3, "type": "checkout.session.completed", "data": {"object": {}}},
            {"id": "evt_4", "type": "charge.refunded",
             "data": {"object": {"payment_intent": "pi_x", "amount_refunded": "all",
                                 "refunds": {"data": "x"}}}},
            {"id": "evt_5", "type": "checkout.session.completed",
             "data": {"object": {"metadata": ["x"], "payment_status": "paid"}}},
            [1, 2],
        ],
    )  # fmt: skip
    def test_odd_but_signed_events_never_500(self, stripe_client, shop, clean_database, event):
        import json

        payload = json.dumps(event)
        response = post_raw(stripe_client, payload, {"Stripe-Signature": signature(payload)})
        assert response.status_code in (200, 400), response.text
        assert count(clean_database, Order, Order.status == "paid") == 0

    def test_someone_elses_session_is_ignored(self, stripe_client, shop, clean_database):
        foreign = {
            "id": "cs_other",
            "object": "checkout.session",
            "payment_status": "paid",
            "amount_total": 100,
            "currency": "eur",
            "metadata": {"payment_id": str(uuid.uuid4())},
        }
        response = post_event(stripe_client, "checkout.session.completed", foreign)
        assert response.json()["data"]["outcome"] == "ignored"
        assert count(clean_database, Order, Order.status == "paid") == 0

    def test_amount_mismatch_does_not_pay(self, stripe_client, shop, fake_stripe, clean_database):
        order, _payment, checkout = stripe_checkout(stripe_client, shop, fake_stripe)
        paid = dict(fake_stripe.complete(checkout["id"]), amount_total=1)
        response = post_event(stripe_client, "checkout.session.completed", paid)
        assert response.json()["data"]["outcome"] == "ignored"
        assert read_order(stripe_client, order)["status"] == "pending"


class TestSignature:
    @pytest.fixture
    def pending(self, stripe_client, shop, fake_stripe):
        _order, _payment, checkout = stripe_checkout(stripe_client, shop, fake_stripe)
        return event_payload(
            "checkout.session.completed", dict(fake_stripe.complete(checkout["id"]))
        )

    def refused(self, client, database, payload: str, headers: dict[str, str]) -> None:
        before = money_snapshot(database)
        response = post_raw(client, payload, headers)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "INVALID_SIGNATURE"
        assert money_snapshot(database) == before
        assert count(database, PaymentNotification) == 0

    def test_tampered_body(self, stripe_client, clean_database, pending):
        header = signature(pending)
        tampered = pending.replace('"amount_total": 2500', '"amount_total": 1')
        assert tampered != pending
        self.refused(stripe_client, clean_database, tampered, {"Stripe-Signature": header})

    def test_wrong_secret(self, stripe_client, clean_database, pending):
        header = signature(pending, secret="whsec_someone_else")
        self.refused(stripe_client, clean_database, pending, {"Stripe-Signature": header})

    def test_stale_timestamp(self, stripe_client, clean_database, pending):
        header = signature(pending, timestamp=int(time.time()) - 301)
        self.refused(stripe_client, clean_database, pending, {"Stripe-Signature": header})

    def test_missing_header(self, stripe_client, clean_database, pending):
        self.refused(stripe_client, clean_database, pending, {})

    @pytest.mark.parametrize("header", ["garbage", "t=abc,v1=00", "v1=deadbeef", "t=1"])
    def test_malformed_header(self, stripe_client, clean_database, pending, header):
        self.refused(stripe_client, clean_database, pending, {"Stripe-Signature": header})

    def test_signed_but_not_json(self, stripe_client, clean_database, pending):
        body = "not json at all"
        self.refused(stripe_client, clean_database, body, {"Stripe-Signature": signature(body)})

    def test_a_recent_signature_within_tolerance_is_accepted(
        self, stripe_client, clean_database, pending
    ):
        header = signature(pending, timestamp=int(time.time()) - 200)
        response = post_raw(stripe_client, pending, {"Stripe-Signature": header})
        assert response.status_code == 200
        assert count(clean_database, Order, Order.status == "paid") == 1

    def test_rotation_any_v1_matches(self, stripe_client, clean_database, pending):
        good = signature(pending)
        timestamp, mac = good.split(",")
        header = f"{timestamp},v1={'0' * 64},{mac}"
        response = post_raw(stripe_client, pending, {"Stripe-Signature": header})
        assert response.status_code == 200
        assert WEBHOOK_SECRET  # the configured secret signed the second v1


class TestRefunds:
    def test_partial_then_dashboard_rest(
        self, stripe_client, shop, fake_stripe, owner, clean_database
    ):
        order, payment, checkout = stripe_checkout(stripe_client, shop, fake_stripe, quantity=3)
        pay(stripe_client, fake_stripe, checkout)
        first = tickets(clean_database, order["id"])[0]
        response = stripe_client.post(
            refund_url(shop, order["id"]),
            json={"ticket_ids": [str(first.id)], "reason": "Cannot come"},
            headers=owner["headers"],
        )
        assert response.status_code == 200, response.text
        assert response.json()["data"]["status"] == "paid"
        assert response.json()["data"]["refunded_minor"] == 2500
        [call] = fake_stripe.calls("POST", "/v1/refunds")
        assert call.params["amount"] == "2500"
        assert call.params["payment_intent"] == checkout["payment_intent"]
        with clean_database.session(write=False) as session:
            refund = session.scalars(select(Refund)).one()
        # The key is the payment's state before the refund: nothing refunded, 2500 asked.
        assert call.headers["idempotency-key"] == f"admitone-refund-{payment['id']}-0-2500"
        assert refund.provider_ref.startswith("re_test_")
        assert counters(clean_database, shop.ticket_type_id).sold == 2

        # Stripe's event about our own refund: already counted, nothing changes.
        before = money_snapshot(clean_database)
        ours = charge(checkout, amount_refunded=2500, refund_id=refund.provider_ref)
        response = post_event(stripe_client, "charge.refunded", ours)
        assert response.json()["data"]["outcome"] == "ignored"
        after = money_snapshot(clean_database)
        assert {k: v for k, v in after.items() if k != "payment_notifications"} == {
            k: v for k, v in before.items() if k != "payment_notifications"
        }

        # The rest refunded in the Stripe dashboard: the order is refunded, tickets revoked.
        rest = charge(checkout, amount_refunded=7500, refund_id="re_dashboard")
        response = post_event(stripe_client, "charge.refunded", rest, event_id="evt_dash")
        assert response.json()["data"]["outcome"] == "processed"
        assert read_order(stripe_client, order)["status"] == "refunded"
        row = payment_row(clean_database, payment["id"])
        assert (row.status, row.refunded_minor) == (PaymentStatus.refunded, 7500)
        assert all(t.status == TicketStatus.revoked for t in tickets(clean_database, order["id"]))
        assert counters(clean_database, shop.ticket_type_id).sold == 0

        # Replayed: nothing more.
        before = money_snapshot(clean_database)
        again = post_event(stripe_client, "charge.refunded", rest, event_id="evt_dash")
        assert again.json()["data"]["outcome"] == "duplicate"
        assert money_snapshot(clean_database) == before

    def test_dashboard_partial_refund_records_the_amount(
        self, stripe_client, shop, fake_stripe, clean_database
    ):
        order, payment, checkout = stripe_checkout(stripe_client, shop, fake_stripe, quantity=2)
        pay(stripe_client, fake_stripe, checkout)
        post_event(
            stripe_client,
            "charge.refunded",
            charge(checkout, amount_refunded=1000, refund_id="re_d"),
        )
        data = read_order(stripe_client, order)
        assert (data["status"], data["refunded_minor"]) == ("paid", 1000)
        row = payment_row(clean_database, payment["id"])
        assert (row.status, row.refunded_minor) == (PaymentStatus.succeeded, 1000)
        assert all(t.status == TicketStatus.valid for t in tickets(clean_database, order["id"]))

    def test_dashboard_partial_then_tickets_never_beyond_paid(
        self, stripe_client, shop, fake_stripe, owner, clean_database
    ):
        order, payment, checkout = stripe_checkout(stripe_client, shop, fake_stripe, quantity=2)
        pay(stripe_client, fake_stripe, checkout)
        dashboard = charge(checkout, amount_refunded=4000, refund_id="re_dashboard")
        post_event(stripe_client, "charge.refunded", dashboard)
        ids = [str(t.id) for t in tickets(clean_database, order["id"])]
        before = money_snapshot(clean_database)
        # One ticket (25.00) on top of the dashboard's 40.00 would pass the 50.00 paid.
        response = stripe_client.post(
            refund_url(shop, order["id"]), json={"ticket_ids": ids[:1]}, headers=owner["headers"]
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "REFUND_TOO_LARGE"
        assert money_snapshot(clean_database) == before
        # Both tickets: only what is left (10.00) goes back.
        response = stripe_client.post(
            refund_url(shop, order["id"]), json={"ticket_ids": ids}, headers=owner["headers"]
        )
        assert response.status_code == 200, response.text
        assert response.json()["data"]["status"] == "refunded"
        [call] = fake_stripe.calls("POST", "/v1/refunds")
        assert call.params["amount"] == "1000"
        row = payment_row(clean_database, payment["id"])
        assert (row.status, row.refunded_minor) == (PaymentStatus.refunded, 5000)

    def test_full_refund_through_stripe(
        self, stripe_client, shop, fake_stripe, owner, clean_database
    ):
        order, payment, checkout = stripe_checkout(stripe_client, shop, fake_stripe, quantity=2)
        pay(stripe_client, fake_stripe, checkout)
        response = stripe_client.post(refund_url(shop, order["id"]), headers=owner["headers"])
        assert response.status_code == 200, response.text
        assert response.json()["data"]["status"] == "refunded"
        [call] = fake_stripe.calls("POST", "/v1/refunds")
        assert call.params["amount"] == "5000"
        assert payment_row(clean_database, payment["id"]).refunded_minor == 5000

    def test_connected_account_refund_reverses_transfer_and_fee(
        self, stripe_client, shop, fake_stripe, owner
    ):
        stripe_client.put(
            f"/api/v1/organizations/{shop.org_slug}/stripe-account",
            json={"stripe_account_id": "acct_1Organizer"},
            headers=owner["headers"],
        )
        order, _payment, checkout = stripe_checkout(stripe_client, shop, fake_stripe)
        pay(stripe_client, fake_stripe, checkout)
        stripe_client.post(refund_url(shop, order["id"]), headers=owner["headers"])
        [call] = fake_stripe.calls("POST", "/v1/refunds")
        assert call.params["reverse_transfer"] == "true"
        assert call.params["refund_application_fee"] == "true"

    def test_a_refund_rolled_back_after_stripe_made_it_is_made_once_on_retry(
        self, stripe_client, shop, fake_stripe, owner, clean_database, monkeypatch
    ):
        order, payment, checkout = stripe_checkout(stripe_client, shop, fake_stripe, quantity=2)
        pay(stripe_client, fake_stripe, checkout)
        # The unit of work fails after Stripe made the refund: a lock not taken in time.
        revoke_tickets = order_refunds.revoke_tickets

        def busy_once(*args, **kwargs):
            monkeypatch.setattr(order_refunds, "revoke_tickets", revoke_tickets)
            raise Busy()

        monkeypatch.setattr(order_refunds, "revoke_tickets", busy_once)
        before = money_snapshot(clean_database)
        failed = stripe_client.post(refund_url(shop, order["id"]), headers=owner["headers"])
        assert failed.status_code == 503, failed.text
        assert money_snapshot(clean_database) == before
        assert len(fake_stripe.refunds) == 1  # made at Stripe, rolled back here

        retried = stripe_client.post(refund_url(shop, order["id"]), headers=owner["headers"])
        assert retried.status_code == 200, retried.text
        # The retry asked with the same key and got Stripe's refund back: a new refund
        # would have been refused as beyond the charge.
        [made] = fake_stripe.refunds
        with clean_database.session(write=False) as session:
            assert session.scalars(select(Refund.provider_ref)).all() == [made]
        row = payment_row(clean_database, payment["id"])
        assert (row.status, row.refunded_minor) == (PaymentStatus.refunded, 5000)

    def test_a_cancelled_events_refund_refused_is_made_when_the_job_runs_again(
        self, stripe_client, fake_stripe, clean_database
    ):
        # The owner registers through the Stripe app: the job runs with its settings.
        owner = register(stripe_client, full_name="Olive Owner")
        shop = make_shop(clean_database, owner_id=owner["user"]["id"], capacity=10)
        paid = [stripe_checkout(stripe_client, shop, fake_stripe) for _ in range(2)]
        for _order, _payment, checkout in paid:
            pay(stripe_client, fake_stripe, checkout)
        # The refunds are a job, one order at a time: Stripe refunds the first order and
        # refuses the second, which stays paid.
        fake_stripe.fail_after["/v1/refunds"] = 1
        fake_stripe.fail_next["/v1/refunds"] = card_declined()
        cancel = f"/api/v1/organizations/{shop.org_slug}/events/{shop.event_id}/cancel"
        response = stripe_client.post(cancel, headers=owner["headers"])
        assert response.status_code == 200, response.text
        assert response.json()["data"]["status"] == "cancelled"
        with clean_database.session(write=False) as session:
            statuses = session.scalars(select(Order.status).order_by(Order.id)).all()
        assert sorted(status.value for status in statuses) == ["paid", "refunded"]
        assert len(fake_stripe.refunds) == 1

        # The runner's retry: only the order still paid is refunded.
        context = JobContext(settings=stripe_client.app.state.settings, database=clean_database)
        event_id = str(shop.event_id)
        assert run_job(context, "orders.refund_cancelled_event", {"event_id": event_id}) == 1
        intents = sorted(checkout["payment_intent"] for _o, _p, checkout in paid)
        assert sorted(r["payment_intent"] for r in fake_stripe.refunds.values()) == intents
        with clean_database.session(write=False) as session:
            assert sorted(session.scalars(select(Refund.provider_ref))) == sorted(
                fake_stripe.refunds
            )
            statuses = session.scalars(select(Order.status)).all()
        assert [status.value for status in statuses] == ["refunded", "refunded"]
        for _order, payment, _checkout in paid:
            row = payment_row(clean_database, payment["id"])
            assert (row.status, row.refunded_minor) == (PaymentStatus.refunded, 2500)
        # Nothing is left to refund: another run makes no call.
        assert run_job(context, "orders.refund_cancelled_event", {"event_id": event_id}) == 0
        assert len(fake_stripe.calls("POST", "/v1/refunds")) == 3

    def test_stripe_refusing_the_refund_changes_nothing(
        self, stripe_client, shop, fake_stripe, owner, clean_database
    ):
        order, _payment, checkout = stripe_checkout(stripe_client, shop, fake_stripe, quantity=2)
        pay(stripe_client, fake_stripe, checkout)
        fake_stripe.fail_next["/v1/refunds"] = card_declined()
        before = money_snapshot(clean_database)
        response = stripe_client.post(refund_url(shop, order["id"]), headers=owner["headers"])
        assert response.status_code == 502
        assert response.json()["error"]["code"] == "PAYMENT_PROVIDER_ERROR"
        assert money_snapshot(clean_database) == before
