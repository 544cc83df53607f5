"""Issue 13: nobody can hold the whole stock.

Bounds on the seats one client (account, e-mail, network address) holds at once for an
event, the organizer's limit per buyer across orders, the short hold before payment, and
the client address taken from X-Forwarded-For only behind trusted proxies.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request

from admitone.db import utcnow
from admitone.deps import client_ip
from tests.factories import counters, make_shop
from tests.helpers import db_snapshot, register
from tests.orders.helpers import approve, create_order, order_body, start_payment, token_headers


def buyer(number: int) -> dict[str, str]:
    return {"name": f"Buyer {number}", "email": f"buyer{number}@example.com"}


def hold(client: TestClient, shop, *, quantity: int, headers: dict[str, str] | None = None, **body):
    return client.post(
        "/api/v1/orders", json=order_body(shop, quantity=quantity, **body), headers=headers or {}
    )


def assert_refused(response, code: str) -> dict[str, Any]:
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == code
    return error["details"]


class TestHeldSeatsPerClient:
    def test_one_email_holds_at_most_the_bound(self, make_app, clean_database, owner):
        shop = make_shop(clean_database, owner_id=owner["user"]["id"], capacity=200)
        with TestClient(make_app(max_held_seats_per_client=10)) as client:
            create_order(client, shop, quantity=6)
            create_order(client, shop, quantity=4)
            before = db_snapshot(clean_database)
            details = assert_refused(hold(client, shop, quantity=1), "HOLD_LIMIT_REACHED")
            assert details == {"scope": "buyer", "limit": 10, "held": 10, "requested": 1}
            # Refused: nothing changed, the seats are still on sale.
            assert db_snapshot(clean_database) == before
            assert counters(clean_database, shop.ticket_type_id).held == 10
            # Another buyer (another e-mail) is not held back by it.
            create_order(client, shop, quantity=2, buyer=buyer(2))

    def test_the_email_is_compared_normalised(self, make_app, clean_database, owner):
        shop = make_shop(clean_database, owner_id=owner["user"]["id"], capacity=200)
        with TestClient(make_app(max_held_seats_per_client=4)) as client:
            create_order(client, shop, quantity=4, buyer={"name": "A", "email": "a@example.com"})
            response = hold(
                client, shop, quantity=1, buyer={"name": "A", "email": " A@Example.COM"}
            )
            assert_refused(response, "HOLD_LIMIT_REACHED")

    def test_one_account_holds_at_most_the_bound_whatever_the_email(
        self, make_app, clean_database, owner
    ):
        shop = make_shop(clean_database, owner_id=owner["user"]["id"], capacity=200)
        with TestClient(make_app(max_held_seats_per_client=5)) as client:
            account = register(client)
            headers = account["headers"]
            assert (
                hold(client, shop, quantity=5, headers=headers, buyer=buyer(1)).status_code == 201
            )
            response = hold(client, shop, quantity=1, headers=headers, buyer=buyer(2))
            assert_refused(response, "HOLD_LIMIT_REACHED")

    def test_paid_cancelled_and_expired_orders_no_longer_count(
        self, make_app, clean_database, owner
    ):
        shop = make_shop(clean_database, owner_id=owner["user"]["id"], capacity=200)
        with TestClient(make_app(max_held_seats_per_client=4)) as client:
            paid = create_order(client, shop, quantity=4)
            assert approve(client, start_payment(client, paid))["outcome"] == "paid"
            cancelled = create_order(client, shop, quantity=4)
            response = client.post(
                f"/api/v1/orders/{cancelled['id']}/cancel",
                headers=token_headers(cancelled["access_token"]),
            )
            assert response.status_code == 200
            lapsed = create_order(client, shop, quantity=4)
            from tests.factories import expire_hold

            expire_hold(clean_database, lapsed["id"])
            create_order(client, shop, quantity=4)

    def test_one_address_holds_at_most_its_own_larger_bound(self, make_app, clean_database, owner):
        # The attack: a script posting orders of 10 seats with a new e-mail each.
        shop = make_shop(clean_database, owner_id=owner["user"]["id"], capacity=200)
        app = make_app(max_held_seats_per_client=10, max_held_seats_per_address=30)
        with TestClient(app) as client:
            statuses = [
                hold(client, shop, quantity=10, buyer=buyer(n)).status_code for n in range(30)
            ]
            assert statuses == [201] * 3 + [409] * 27
            assert counters(clean_database, shop.ticket_type_id).held == 30
            # A real buyer elsewhere still buys.
        with TestClient(app, client=("203.0.113.7", 50000)) as elsewhere:
            order = create_order(elsewhere, shop, quantity=2, buyer=buyer(99))
            assert approve(elsewhere, start_payment(elsewhere, order))["outcome"] == "paid"

    def test_bounds_set_to_zero_are_off(self, make_app, clean_database, owner):
        shop = make_shop(clean_database, owner_id=owner["user"]["id"], capacity=200)
        app = make_app(max_held_seats_per_client=0, max_held_seats_per_address=0)
        with TestClient(app) as client:
            for _ in range(5):
                create_order(client, shop, quantity=10)
        assert counters(clean_database, shop.ticket_type_id).held == 50


class TestTrustedProxy:
    def _request(self, app: FastAPI, peer: str, forwarded: list[str]) -> Request:
        headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
        return Request({"type": "http", "app": app, "client": (peer, 1234), "headers": headers})

    def test_the_header_is_ignored_without_trusted_proxies(self, make_app: Callable[..., FastAPI]):
        app = make_app()
        assert client_ip(self._request(app, "198.51.100.1", ["203.0.113.9"])) == "198.51.100.1"

    def test_behind_trusted_proxies_the_nth_from_the_right(self, make_app):
        one = make_app(trusted_proxy_count=1)
        # The client may write anything on the left; the proxy appends what it saw.
        spoofed = ["1.2.3.4, 203.0.113.9"]
        assert client_ip(self._request(one, "10.0.0.2", spoofed)) == "203.0.113.9"
        two = make_app(trusted_proxy_count=2)
        assert client_ip(self._request(two, "10.0.0.2", ["203.0.113.9", "10.0.0.1"])) == (
            "203.0.113.9"
        )
        # Too few entries, or garbage: the TCP peer.
        assert client_ip(self._request(two, "10.0.0.2", ["10.0.0.1"])) == "10.0.0.2"
        assert client_ip(self._request(one, "10.0.0.2", ["not-an-address"])) == "10.0.0.2"

    def test_a_forged_header_does_not_escape_the_address_bound(
        self, make_app, clean_database, owner
    ):
        shop = make_shop(clean_database, owner_id=owner["user"]["id"], capacity=200)
        app = make_app(max_held_seats_per_client=10, max_held_seats_per_address=10)
        with TestClient(app) as client:
            create_order(client, shop, quantity=10, buyer=buyer(1))
            forged = {"X-Forwarded-For": "203.0.113.50"}
            response = hold(client, shop, quantity=1, headers=forged, buyer=buyer(2))
            assert assert_refused(response, "HOLD_LIMIT_REACHED")["scope"] == "address"

    def test_behind_a_trusted_proxy_each_client_has_its_own_bound(
        self, make_app, clean_database, owner
    ):
        shop = make_shop(clean_database, owner_id=owner["user"]["id"], capacity=200)
        app = make_app(max_held_seats_per_address=10, trusted_proxy_count=1)
        with TestClient(app) as client:
            first = {"X-Forwarded-For": "203.0.113.1"}
            second = {"X-Forwarded-For": "203.0.113.2"}
            assert hold(client, shop, quantity=10, headers=first, buyer=buyer(1)).status_code == 201
            refused = hold(client, shop, quantity=1, headers=first, buyer=buyer(2))
            assert_refused(refused, "HOLD_LIMIT_REACHED")
            assert hold(client, shop, quantity=1, headers=second, buyer=buyer(3)).status_code == 201


class TestLimitPerBuyer:
    def test_paid_and_held_count_across_orders(self, client, clean_database, owner):
        shop = make_shop(clean_database, owner_id=owner["user"]["id"], capacity=100)
        # The organizer sets it through the API.
        response = client.patch(
            f"/api/v1/organizations/{shop.org_slug}/events/{shop.event_id}"
            f"/ticket-types/{shop.ticket_type_id}",
            json={"max_per_buyer": 4},
            headers=owner["headers"],
        )
        assert response.status_code == 200, response.text
        assert response.json()["data"]["max_per_buyer"] == 4
        paid = create_order(client, shop, quantity=3)
        assert approve(client, start_payment(client, paid))["outcome"] == "paid"
        before = db_snapshot(clean_database)
        details = assert_refused(hold(client, shop, quantity=2), "BUYER_LIMIT_REACHED")
        assert details["max_per_buyer"] == 4 and details["already"] == 3
        assert db_snapshot(clean_database) == before
        create_order(client, shop, quantity=1)
        assert_refused(hold(client, shop, quantity=1), "BUYER_LIMIT_REACHED")
        # Someone else buys their own four.
        create_order(client, shop, quantity=4, buyer=buyer(5))
        # The organizer lifts the limit.
        response = client.patch(
            f"/api/v1/organizations/{shop.org_slug}/events/{shop.event_id}"
            f"/ticket-types/{shop.ticket_type_id}",
            json={"max_per_buyer": None},
            headers=owner["headers"],
        )
        assert response.json()["data"]["max_per_buyer"] is None
        create_order(client, shop, quantity=1)

    def test_it_is_validated(self, client, clean_database, owner):
        shop = make_shop(clean_database, owner_id=owner["user"]["id"])
        url = (
            f"/api/v1/organizations/{shop.org_slug}/events/{shop.event_id}"
            f"/ticket-types/{shop.ticket_type_id}"
        )
        for bad in (0, -1, "4", 1.5):
            response = client.patch(url, json={"max_per_buyer": bad}, headers=owner["headers"])
            assert response.status_code == 422, bad


class TestShortHoldUntilPayment:
    def test_paying_extends_the_hold_to_its_full_length_once(self, make_app, clean_database, owner):
        shop = make_shop(clean_database, owner_id=owner["user"]["id"])
        with TestClient(make_app(unpaid_hold_minutes=5, hold_minutes=15)) as client:
            order = create_order(client, shop)
            created = datetime.fromisoformat(order["created_at"])
            assert datetime.fromisoformat(order["expires_at"]) - created < timedelta(
                minutes=5, seconds=1
            )
            start_payment(client, order)
            seen = client.get(
                f"/api/v1/orders/{order['id']}", headers=token_headers(order["access_token"])
            ).json()["data"]
            full = datetime.fromisoformat(seen["expires_at"])
            assert full - created == timedelta(minutes=15)
            # A second checkout does not push it further.
            start_payment(client, order, expect=200)
            again = client.get(
                f"/api/v1/orders/{order['id']}", headers=token_headers(order["access_token"])
            ).json()["data"]
            assert datetime.fromisoformat(again["expires_at"]) == full
            assert full > utcnow()
