"""Buyers' orders through the API: create (holds), idempotency, read, cancel, my orders."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from admitone.db import utcnow
from admitone.orders.models import IdempotencyRecord, Order, OrderStatus
from tests.factories import add_ticket_type, counters, expire_hold, make_shop
from tests.helpers import register
from tests.orders.helpers import (
    buy,
    count,
    create_order,
    order_body,
    read_order,
    token_headers,
)


def load_order(database, order_id) -> Order:
    with database.session(write=False) as session:
        return session.scalars(select(Order).where(Order.id == uuid.UUID(order_id))).one()


class TestCreate:
    def test_guest_order_holds_seats_until_expiry(self, client, shop, clean_database):
        before = utcnow()
        order = create_order(client, shop, quantity=3)
        assert order["status"] == "pending"
        assert order["currency"] == "EUR"
        assert order["total_minor"] == 3 * 2500
        assert order["items"] == [
            {
                "ticket_type_id": str(shop.ticket_type_id),
                "ticket_type_name": "Standing",
                "quantity": 3,
                "unit_price_minor": 2500,
                "total_minor": 7500,
            }
        ]
        # Not at the payment step yet: the short hold (ADMITONE_UNPAID_HOLD_MINUTES).
        expires_at = datetime.fromisoformat(order["expires_at"])
        assert before + timedelta(minutes=5) <= expires_at <= utcnow() + timedelta(minutes=5)
        assert counters(clean_database, shop.ticket_type_id).held == 3
        row = load_order(clean_database, order["id"])
        assert row.user_id is None
        assert row.organization_id == shop.organization_id
        # Only the token's SHA-256 is stored; the token itself never is.
        assert row.access_token_hash == hashlib.sha256(order["access_token"].encode()).hexdigest()
        assert order["access_token"] not in row.access_token_hash

    def test_order_creation_is_rate_limited_per_client(self, make_app, shop, clean_database):
        from fastapi.testclient import TestClient

        with TestClient(make_app(rate_limit_order="2/minute")) as limited:
            create_order(limited, shop)
            create_order(limited, shop)
            refused = limited.post("/api/v1/orders", json=order_body(shop))
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "RATE_LIMITED"
        assert int(refused.headers["Retry-After"]) >= 1
        # The refused request held nothing.
        assert counters(clean_database, shop.ticket_type_id).held == 2
        assert count(clean_database, Order) == 2

    def test_logged_in_buyer_owns_the_order(self, client, shop, clean_database):
        buyer = register(client)
        order = create_order(client, shop, headers=buyer["headers"])
        assert str(load_order(clean_database, order["id"]).user_id) == buyer["user"]["id"]
        mine = client.get("/api/v1/me/orders", headers=buyer["headers"]).json()
        assert [o["id"] for o in mine["data"]] == [order["id"]]

    def test_several_ticket_types_total_from_the_server(self, client, shop, clean_database):
        vip = add_ticket_type(clean_database, shop, name="VIP", price_minor=9900, capacity=5)
        order = create_order(
            client,
            shop,
            items=[
                {"ticket_type_id": str(vip), "quantity": 2},
                {"ticket_type_id": str(shop.ticket_type_id), "quantity": 1},
            ],
        )
        assert order["total_minor"] == 2 * 9900 + 2500
        assert {item["ticket_type_name"]: item["quantity"] for item in order["items"]} == {
            "VIP": 2,
            "Standing": 1,
        }
        assert counters(clean_database, vip).held == 2
        assert counters(clean_database, shop.ticket_type_id).held == 1

    def test_hold_minutes_setting(self, make_app, clean_database, owner):
        from fastapi.testclient import TestClient

        shop = make_shop(clean_database, owner_id=owner["user"]["id"])
        with TestClient(make_app(hold_minutes=3)) as client:
            order = create_order(client, shop)
        created = datetime.fromisoformat(order["created_at"])
        expires = datetime.fromisoformat(order["expires_at"])
        assert (
            timedelta(minutes=2, seconds=59) < expires - created < timedelta(minutes=3, seconds=1)
        )

    def test_email_normalised_and_codes_unique(self, client, shop):
        first = create_order(client, shop, buyer={"name": "Ada", "email": " Ada@Example.COM "})
        second = create_order(client, shop)
        assert first["buyer"]["email"] == "ada@example.com"
        assert first["code"] != second["code"]
        assert len(first["code"]) == 8 and first["code"].isalnum()

    def test_sold_out_says_what_is_left(self, client, shop, clean_database):
        create_order(client, shop, quantity=8)
        response = client.post("/api/v1/orders", json=order_body(shop, quantity=3))
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "SOLD_OUT"
        assert error["details"]["available"] == {str(shop.ticket_type_id): 2}
        assert count(clean_database, Order) == 1
        assert counters(clean_database, shop.ticket_type_id).held == 8
        # What is left can still be bought.
        create_order(client, shop, quantity=2)
        assert counters(clean_database, shop.ticket_type_id).available == 0

    def test_sold_out_on_one_type_takes_nothing_from_the_others(self, client, shop, clean_database):
        vip = add_ticket_type(clean_database, shop, name="VIP", capacity=1)
        create_order(client, shop, ticket_type_id=vip)
        response = client.post(
            "/api/v1/orders",
            json=order_body(
                shop,
                items=[
                    {"ticket_type_id": str(shop.ticket_type_id), "quantity": 2},
                    {"ticket_type_id": str(vip), "quantity": 1},
                ],
            ),
        )
        assert response.status_code == 409
        assert response.json()["error"]["details"]["available"] == {
            str(shop.ticket_type_id): 10,
            str(vip): 0,
        }
        assert counters(clean_database, shop.ticket_type_id).held == 0
        assert counters(clean_database, vip).held == 1


class TestIdempotencyKey:
    def test_same_key_same_body_answers_the_same_order(self, client, shop, clean_database):
        headers = {"Idempotency-Key": "key-1"}
        first = client.post("/api/v1/orders", json=order_body(shop, quantity=2), headers=headers)
        again = client.post("/api/v1/orders", json=order_body(shop, quantity=2), headers=headers)
        assert first.status_code == 201
        assert again.status_code == 200
        assert again.json()["data"]["id"] == first.json()["data"]["id"]
        # The guest who lost the first answer gets the same working secret back.
        token = again.json()["data"]["access_token"]
        assert token == first.json()["data"]["access_token"]
        assert (
            client.get(
                f"/api/v1/orders/{first.json()['data']['id']}", headers=token_headers(token)
            ).status_code
            == 200
        )
        assert count(clean_database, Order) == 1
        assert counters(clean_database, shop.ticket_type_id).held == 2

    def test_same_key_other_body_is_refused(self, client, shop, clean_database):
        headers = {"Idempotency-Key": "key-1"}
        client.post("/api/v1/orders", json=order_body(shop, quantity=2), headers=headers)
        response = client.post("/api/v1/orders", json=order_body(shop, quantity=3), headers=headers)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
        assert count(clean_database, Order) == 1
        assert counters(clean_database, shop.ticket_type_id).held == 2

    def test_keys_are_scoped_per_account(self, client, shop, clean_database):
        headers = {"Idempotency-Key": "same-key"}
        ada, bob = register(client), register(client)
        first = client.post(
            "/api/v1/orders", json=order_body(shop), headers={**headers, **ada["headers"]}
        )
        second = client.post(
            "/api/v1/orders", json=order_body(shop), headers={**headers, **bob["headers"]}
        )
        anonymous = client.post("/api/v1/orders", json=order_body(shop), headers=headers)
        assert first.status_code == second.status_code == anonymous.status_code == 201
        ids = {r.json()["data"]["id"] for r in (first, second, anonymous)}
        assert len(ids) == 3
        assert counters(clean_database, shop.ticket_type_id).held == 3

    def test_a_failed_request_does_not_keep_its_key(self, client, shop, clean_database):
        headers = {"Idempotency-Key": "retry-me"}
        refused = client.post("/api/v1/orders", json=order_body(shop, quantity=11), headers=headers)
        assert refused.status_code == 422  # over max_per_order (10)
        assert count(clean_database, IdempotencyRecord) == 0
        ok = client.post("/api/v1/orders", json=order_body(shop, quantity=1), headers=headers)
        assert ok.status_code == 201

    def test_keys_expire_after_a_day(self, client, shop, clean_database):
        headers = {"Idempotency-Key": "old-key"}
        first = client.post("/api/v1/orders", json=order_body(shop), headers=headers)
        with clean_database.session() as session:
            session.execute(
                update(IdempotencyRecord).values(created_at=utcnow() - timedelta(hours=25))
            )
        again = client.post("/api/v1/orders", json=order_body(shop, quantity=2), headers=headers)
        assert again.status_code == 201
        assert again.json()["data"]["id"] != first.json()["data"]["id"]
        assert count(clean_database, IdempotencyRecord) == 1

    @pytest.mark.parametrize("key", ["", "x" * 201, "has space", "tab\tkey"])
    def test_malformed_key_refused(self, client, shop, clean_database, key):
        response = client.post(
            "/api/v1/orders", json=order_body(shop), headers={"Idempotency-Key": key}
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert count(clean_database, Order) == 0


class TestRead:
    def test_owner_and_token_holder_read_others_do_not(self, client, shop):
        ada, eve = register(client), register(client)
        order = create_order(client, shop, headers=ada["headers"])
        url = f"/api/v1/orders/{order['id']}"
        assert client.get(url, headers=ada["headers"]).json()["data"]["id"] == order["id"]
        assert client.get(url, headers=token_headers(order["access_token"])).status_code == 200
        assert client.get(url, params={"token": order["access_token"]}).status_code == 200
        assert "access_token" not in client.get(url, headers=ada["headers"]).json()["data"]
        for headers, params in [
            (eve["headers"], {}),
            (token_headers("not-the-token"), {}),
            ({}, {"token": "x" * 40}),
            (eve["headers"], {"token": "nope"}),
        ]:
            response = client.get(url, headers=headers, params=params)
            assert response.status_code == 404, response.text
            assert response.json()["error"]["code"] == "NOT_FOUND"

    def test_token_of_one_order_does_not_open_another(self, client, shop):
        first = create_order(client, shop)
        second = create_order(client, shop)
        response = client.get(
            f"/api/v1/orders/{second['id']}", headers=token_headers(first["access_token"])
        )
        assert response.status_code == 404

    def test_no_credentials_is_401(self, client, shop):
        order = create_order(client, shop)
        response = client.get(f"/api/v1/orders/{order['id']}")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "NOT_AUTHENTICATED"

    def test_unknown_and_malformed_ids(self, client, shop):
        order = create_order(client, shop)
        headers = token_headers(order["access_token"])
        assert client.get(f"/api/v1/orders/{uuid.uuid4()}", headers=headers).status_code == 404
        response = client.get("/api/v1/orders/not-a-uuid", headers=headers)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"


class TestCancel:
    def test_cancel_releases_the_hold(self, client, shop, clean_database):
        order = create_order(client, shop, quantity=4)
        response = client.post(
            f"/api/v1/orders/{order['id']}/cancel", headers=token_headers(order["access_token"])
        )
        assert response.status_code == 200
        assert response.json()["data"]["status"] == "cancelled"
        assert response.json()["data"]["cancelled_at"] is not None
        assert counters(clean_database, shop.ticket_type_id).held == 0

    def test_cancel_twice_or_after_payment_is_refused(self, client, shop, clean_database):
        order = create_order(client, shop)
        headers = token_headers(order["access_token"])
        client.post(f"/api/v1/orders/{order['id']}/cancel", headers=headers)
        again = client.post(f"/api/v1/orders/{order['id']}/cancel", headers=headers)
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "ORDER_NOT_PENDING"
        paid = buy(client, shop, quantity=2)
        response = client.post(
            f"/api/v1/orders/{paid['id']}/cancel", headers=token_headers(paid["access_token"])
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "ORDER_NOT_PENDING"
        assert read_order(client, paid)["status"] == "paid"
        assert counters(clean_database, shop.ticket_type_id).sold == 2

    def test_cancel_by_someone_else_is_404(self, client, shop, clean_database):
        order = create_order(client, shop)
        eve = register(client)
        response = client.post(f"/api/v1/orders/{order['id']}/cancel", headers=eve["headers"])
        assert response.status_code == 404
        assert counters(clean_database, shop.ticket_type_id).held == 1
        assert load_order(clean_database, order["id"]).status == OrderStatus.pending

    def test_cancel_after_the_hold_ran_out(self, client, shop, clean_database):
        order = create_order(client, shop, quantity=2)
        expire_hold(clean_database, order["id"])
        response = client.post(
            f"/api/v1/orders/{order['id']}/cancel", headers=token_headers(order["access_token"])
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "HOLD_EXPIRED"
        # The expiry itself is kept: the seats are back on sale.
        assert load_order(clean_database, order["id"]).status == OrderStatus.expired
        assert counters(clean_database, shop.ticket_type_id).held == 0


class TestMyOrders:
    def test_lists_only_mine_newest_first_with_pages(self, client, shop):
        ada, bob = register(client), register(client)
        made = [create_order(client, shop, headers=ada["headers"])["id"] for _ in range(3)]
        create_order(client, shop, headers=bob["headers"])
        create_order(client, shop)
        page1 = client.get("/api/v1/me/orders", params={"per_page": 2}, headers=ada["headers"])
        page2 = client.get(
            "/api/v1/me/orders", params={"per_page": 2, "page": 2}, headers=ada["headers"]
        )
        assert page1.json()["meta"] == {"page": 1, "per_page": 2, "total": 3}
        listed = [o["id"] for o in page1.json()["data"] + page2.json()["data"]]
        assert listed == list(reversed(made))

    def test_needs_login(self, client):
        response = client.get("/api/v1/me/orders")
        assert response.status_code == 401

    def test_bad_paging(self, client):
        ada = register(client)
        for params in ({"page": 0}, {"per_page": 101}, {"page": "x"}):
            response = client.get("/api/v1/me/orders", params=params, headers=ada["headers"])
            assert response.status_code == 422
