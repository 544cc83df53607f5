"""Refunds with the built-in test provider: partial (some tickets) and full, never more
than paid, concurrent refunds of one ticket, cancellation after a partial refund; payouts."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from admitone.payments.models import Payment, PaymentStatus, Refund
from admitone.tickets.models import Ticket
from tests.concurrency.conftest import live_server, run_at_once  # noqa: F401 (fixture)
from tests.factories import add_ticket_type, counters, make_shop
from tests.orders.helpers import buy
from tests.payments.stripe_helpers import money_snapshot


def ticket_ids(database, order_id: str) -> list[str]:
    with database.session(write=False) as session:
        return [
            str(ticket_id)
            for ticket_id in session.scalars(
                select(Ticket.id)
                .where(Ticket.order_id == uuid.UUID(order_id))
                .order_by(Ticket.ticket_type_id, Ticket.id)
            )
        ]


def statuses(database, order_id: str) -> list[str]:
    with database.session(write=False) as session:
        return sorted(
            str(status)
            for status in session.scalars(
                select(Ticket.status).where(Ticket.order_id == uuid.UUID(order_id))
            )
        )


def payment_of(database, order_id: str) -> Payment:
    with database.session(write=False) as session:
        return session.scalars(
            select(Payment).where(Payment.purpose_id == uuid.UUID(order_id))
        ).one()


def refunded_total(database, order_id: str) -> int:
    with database.session(write=False) as session:
        return session.scalar(
            select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
                Refund.purpose_id == uuid.UUID(order_id)
            )
        )


def refund(client, shop, order_id, headers, *, expect=200, **body):
    url = f"/api/v1/organizations/{shop.org_slug}/events/{shop.event_id}/orders/{order_id}/refund"
    response = client.post(url, json=body or None, headers=headers)
    assert response.status_code == expect, response.text
    return response.json()


class TestPartialRefund:
    def test_some_tickets_then_the_rest(self, client, shop, owner, clean_database):
        order = buy(client, shop, quantity=3)
        ids = ticket_ids(clean_database, order["id"])
        data = refund(client, shop, order["id"], owner["headers"], ticket_ids=[ids[0]])["data"]
        assert (data["status"], data["refunded_minor"]) == ("paid", 2500)
        assert statuses(clean_database, order["id"]) == ["revoked", "valid", "valid"]
        assert counters(clean_database, shop.ticket_type_id).sold == 2
        payment = payment_of(clean_database, order["id"])
        assert (payment.status, payment.refunded_minor) == (PaymentStatus.succeeded, 2500)

        data = refund(client, shop, order["id"], owner["headers"], ticket_ids=ids[1:])["data"]
        assert (data["status"], data["refunded_minor"]) == ("refunded", 7500)
        assert statuses(clean_database, order["id"]) == ["revoked"] * 3
        assert counters(clean_database, shop.ticket_type_id).sold == 0
        payment = payment_of(clean_database, order["id"])
        assert (payment.status, payment.refunded_minor) == (PaymentStatus.refunded, 7500)
        assert refunded_total(clean_database, order["id"]) == 7500

    def test_prices_per_ticket_type(self, client, owner, clean_database):
        shop = make_shop(clean_database, owner_id=owner["user"]["id"], price_minor=2500)
        vip = add_ticket_type(clean_database, shop, name="VIP", price_minor=9000)
        items = [
            {"ticket_type_id": str(shop.ticket_type_id), "quantity": 1},
            {"ticket_type_id": str(vip), "quantity": 1},
        ]
        order = buy(client, shop, items=items)
        with clean_database.session(write=False) as session:
            vip_ticket = session.scalar(
                select(Ticket.id).where(
                    Ticket.order_id == uuid.UUID(order["id"]), Ticket.ticket_type_id == vip
                )
            )
        data = refund(client, shop, order["id"], owner["headers"], ticket_ids=[str(vip_ticket)])
        assert data["data"]["refunded_minor"] == 9000
        assert counters(clean_database, vip).sold == 0
        assert counters(clean_database, shop.ticket_type_id).sold == 1

    def test_full_refund_after_a_partial_one_refunds_only_the_rest(
        self, client, shop, owner, clean_database
    ):
        order = buy(client, shop, quantity=2)
        first = ticket_ids(clean_database, order["id"])[0]
        refund(client, shop, order["id"], owner["headers"], ticket_ids=[first])
        data = refund(client, shop, order["id"], owner["headers"])["data"]
        assert (data["status"], data["refunded_minor"]) == ("refunded", 5000)
        payment = payment_of(clean_database, order["id"])
        assert payment.refunded_minor == payment.amount_minor == 5000
        assert refunded_total(clean_database, order["id"]) == 5000
        assert counters(clean_database, shop.ticket_type_id).sold == 0

    def test_event_cancelled_after_a_partial_refund(self, client, shop, owner, clean_database):
        order = buy(client, shop, quantity=2)
        first = ticket_ids(clean_database, order["id"])[0]
        refund(client, shop, order["id"], owner["headers"], ticket_ids=[first])
        response = client.post(
            f"/api/v1/organizations/{shop.org_slug}/events/{shop.event_id}/cancel",
            headers=owner["headers"],
        )
        assert response.status_code == 200, response.text
        assert refunded_total(clean_database, order["id"]) == 5000
        assert payment_of(clean_database, order["id"]).refunded_minor == 5000
        assert counters(clean_database, shop.ticket_type_id).sold == 0


class TestRefusedRefunds:
    def test_the_same_ticket_twice(self, client, shop, owner, clean_database):
        order = buy(client, shop, quantity=2)
        first = ticket_ids(clean_database, order["id"])[0]
        refund(client, shop, order["id"], owner["headers"], ticket_ids=[first])
        before = money_snapshot(clean_database)
        body = refund(client, shop, order["id"], owner["headers"], expect=409, ticket_ids=[first])
        assert body["error"]["code"] == "TICKETS_NOT_REFUNDABLE"
        assert money_snapshot(clean_database) == before

    def test_a_ticket_of_another_order(self, client, shop, owner, clean_database):
        mine, other = buy(client, shop), buy(client, shop)
        foreign = ticket_ids(clean_database, other["id"])[0]
        before = money_snapshot(clean_database)
        refund(client, shop, mine["id"], owner["headers"], expect=409, ticket_ids=[foreign])
        assert money_snapshot(clean_database) == before

    def test_one_bad_ticket_refunds_none(self, client, shop, owner, clean_database):
        order = buy(client, shop, quantity=2)
        ids = ticket_ids(clean_database, order["id"])
        before = money_snapshot(clean_database)
        refund(
            client, shop, order["id"], owner["headers"], expect=409,
            ticket_ids=[ids[0], str(uuid.uuid4())],
        )  # fmt: skip
        assert money_snapshot(clean_database) == before

    def test_after_a_full_refund(self, client, shop, owner, clean_database):
        order = buy(client, shop, quantity=2)
        ids = ticket_ids(clean_database, order["id"])
        refund(client, shop, order["id"], owner["headers"])
        before = money_snapshot(clean_database)
        body = refund(client, shop, order["id"], owner["headers"], expect=409, ticket_ids=ids[:1])
        assert body["error"]["code"] == "ORDER_NOT_PAID"
        assert money_snapshot(clean_database) == before

    @pytest.mark.parametrize(
        "body",
        [{"ticket_ids": []}, {"ticket_ids": ["nope"]}, {"ticket_ids": "x"}, {"ticket_ids": [1]}],
    )
    def test_bad_input(self, client, shop, owner, clean_database, body):
        order = buy(client, shop)
        before = money_snapshot(clean_database)
        refund(client, shop, order["id"], owner["headers"], expect=422, **body)
        assert money_snapshot(clean_database) == before


class TestServiceAmounts:
    def test_never_more_than_paid(self, client, shop, clean_database, settings):
        from admitone.db import utcnow
        from admitone.payments import refunds
        from admitone.payments.errors import RefundTooLarge

        order = buy(client, shop, quantity=2)
        payment_id = payment_of(clean_database, order["id"]).id
        with clean_database.session() as session:
            refunds.refund_payment_amount(
                session, payment_id=payment_id, amount_minor=3000, reason="a",
                now=utcnow(), settings=settings,
            )  # fmt: skip
        for amount in (2001, 0, -5):
            with pytest.raises(RefundTooLarge), clean_database.session() as session:
                refunds.refund_payment_amount(
                    session, payment_id=payment_id, amount_minor=amount, reason="b",
                    now=utcnow(), settings=settings,
                )  # fmt: skip
        with clean_database.session() as session:
            refunds.refund_payment_amount(
                session, payment_id=payment_id, amount_minor=2000, reason="c",
                now=utcnow(), settings=settings,
            )  # fmt: skip
        payment = payment_of(clean_database, order["id"])
        assert (payment.status, payment.refunded_minor) == (PaymentStatus.refunded, 5000)
        assert refunded_total(clean_database, order["id"]) == 5000

    def test_platform_fee_rounding(self):
        from decimal import Decimal

        from admitone.payments.checkout import platform_fee

        assert platform_fee(2500, Decimal(5)) == 125
        assert platform_fee(1010, Decimal(5)) == 51  # 50.5 rounds half up
        assert platform_fee(999, Decimal("2.5")) == 25  # 24.975
        assert platform_fee(1000, Decimal(0)) == 0
        assert platform_fee(1000, Decimal(100)) == 1000


def test_two_concurrent_refunds_of_one_ticket_one_wins(live_server, clean_database, owner):  # noqa: F811
    import httpx

    shop = make_shop(clean_database, owner_id=owner["user"]["id"], capacity=10)
    with httpx.Client(base_url=live_server, timeout=30) as http:
        from tests.orders.helpers import order_body

        order = http.post("/api/v1/orders", json=order_body(shop, quantity=2)).json()["data"]
        token = {"X-Order-Token": order["access_token"]}
        payment = http.post(f"/api/v1/orders/{order['id']}/pay", headers=token).json()["data"]
        approved = http.post(f"/api/v1/payments/test/{payment['id']}/approve", headers=token)
        assert approved.status_code == 200
    target = ticket_ids(clean_database, order["id"])[0]
    url = (
        f"/api/v1/organizations/{shop.org_slug}/events/{shop.event_id}/orders/{order['id']}/refund"
    )

    def attempt(http, _index):
        return http.post(url, json={"ticket_ids": [target]}, headers=owner["headers"]).status_code

    codes = run_at_once(live_server, 6, attempt)
    assert sorted(codes) == [200] + [409] * 5
    assert refunded_total(clean_database, order["id"]) == 2500
    assert payment_of(clean_database, order["id"]).refunded_minor == 2500
    assert statuses(clean_database, order["id"]) == ["revoked", "valid"]
    assert counters(clean_database, shop.ticket_type_id).sold == 1


class TestPayout:
    def payout(self, client, shop, headers, expect=200):
        response = client.get(
            f"/api/v1/organizations/{shop.org_slug}/events/{shop.event_id}/payout", headers=headers
        )
        assert response.status_code == expect, response.text
        return response.json()

    def test_numbers(self, client, shop, owner, clean_database):
        assert self.payout(client, shop, owner["headers"])["data"] == {
            "event_id": str(shop.event_id), "currency": "EUR", "payments": 0,
            "gross_minor": 0, "refunds_minor": 0, "platform_fees_minor": 0, "net_minor": 0,
        }  # fmt: skip
        kept = buy(client, shop, quantity=3)  # 7500, fee 375
        partly = buy(client, shop, quantity=2)  # 5000, fee 250
        fully = buy(client, shop, quantity=1)  # 2500, fee 125
        buy(client, shop, quantity=1)  # 2500, fee 125
        refund(client, shop, fully["id"], owner["headers"])
        one = ticket_ids(clean_database, partly["id"])[0]
        refund(client, shop, partly["id"], owner["headers"], ticket_ids=[one])
        assert kept["status"] == "paid"
        # gross 17500; refunds 2500 + 2500 = 5000; fees: 375 + (250 - 125) + 0 + 125 = 625
        assert self.payout(client, shop, owner["headers"])["data"] == {
            "event_id": str(shop.event_id), "currency": "EUR", "payments": 4,
            "gross_minor": 17500, "refunds_minor": 5000, "platform_fees_minor": 625,
            "net_minor": 11875,
        }  # fmt: skip

    def test_fee_setting_applies(self, make_app, clean_database, owner):
        from fastapi.testclient import TestClient

        shop = make_shop(clean_database, owner_id=owner["user"]["id"], price_minor=1999)
        with TestClient(make_app(platform_fee_percent="2.5")) as client:
            buy(client, shop, quantity=1)
            data = self.payout(client, shop, owner["headers"])["data"]
        assert data["platform_fees_minor"] == 50  # 49.975 rounded half up
        assert data["net_minor"] == 1999 - 50

    def test_other_events_and_organizations_not_counted(self, client, shop, owner, clean_database):
        other = make_shop(clean_database, owner_id=owner["user"]["id"])
        buy(client, other, quantity=2)
        assert self.payout(client, shop, owner["headers"])["data"]["gross_minor"] == 0

    def test_unknown_event_is_404(self, client, shop, owner):
        response = client.get(
            f"/api/v1/organizations/{shop.org_slug}/events/{uuid.uuid4()}/payout",
            headers=owner["headers"],
        )
        assert response.status_code == 404


class TestStripeAccount:
    def url(self, shop):
        return f"/api/v1/organizations/{shop.org_slug}/stripe-account"

    def test_owner_sets_and_clears(self, client, shop, owner):
        response = client.put(
            self.url(shop), json={"stripe_account_id": "acct_9z"}, headers=owner["headers"]
        )
        assert response.json()["data"]["stripe_account_id"] == "acct_9z"
        response = client.put(
            self.url(shop), json={"stripe_account_id": None}, headers=owner["headers"]
        )
        assert response.status_code == 200
        assert response.json()["data"]["stripe_account_id"] is None

    @pytest.mark.parametrize("value", ["acct_", "pk_live_x", "acct_a b", "acct_x\u0000", 7])
    def test_bad_ids(self, client, shop, owner, clean_database, value):
        before = money_snapshot(clean_database)
        response = client.put(
            self.url(shop), json={"stripe_account_id": value}, headers=owner["headers"]
        )
        assert response.status_code == 422
        assert money_snapshot(clean_database) == before

    def test_admin_may_not(self, client, shop, owner, clean_database):
        from tests.helpers import add_member, register

        admin = register(client)
        add_member(client, owner["headers"], shop.org_slug, admin["email"], "admin")
        response = client.put(
            self.url(shop), json={"stripe_account_id": "acct_1"}, headers=admin["headers"]
        )
        assert response.status_code == 403
