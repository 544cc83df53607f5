"""Guest orders join the account that verifies their address (issue 15, point 5): at
login (API, second step, pages) and when the address is verified; never for an
unverified address, never an order of another account."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from admitone.db import Database
from admitone.orders.models import Order
from tests.factories import make_shop
from tests.helpers import PASSWORD, register, verify_email
from tests.orders.helpers import buy, create_order
from tests.web.helpers import get_page, web_login


def _guest_buy(client: TestClient, shop: Any, email: str) -> dict[str, Any]:
    return buy(client, shop, quantity=1, buyer={"name": "Grace Hopper", "email": email})


def _my_order_ids(client: TestClient, headers: dict[str, str]) -> set[str]:
    response = client.get("/api/v1/me/orders", headers=headers)
    assert response.status_code == 200, response.text
    return {order["id"] for order in response.json()["data"]}


def _owner(database: Database, order_id: str) -> uuid.UUID | None:
    with database.session(write=False) as session:
        return session.scalar(select(Order.user_id).where(Order.id == uuid.UUID(order_id)))


def test_guest_orders_join_the_account_once_its_address_is_verified(
    client: TestClient, clean_database: Database
) -> None:
    shop = make_shop(clean_database, capacity=20, price_minor=1500)
    email = f"grace-{uuid.uuid4().hex[:8]}@example.com"
    first = _guest_buy(client, shop, email)
    # Another guest's order, and a pending one of the same address.
    other = _guest_buy(client, shop, f"someone-{uuid.uuid4().hex[:8]}@example.com")
    pending = create_order(client, shop, buyer={"name": "Grace", "email": email.upper()})

    account = register(client, email, verify=False)
    # Anyone may register any address: unverified, it claims nothing (nor at login).
    assert _my_order_ids(client, account["headers"]) == set()
    login = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    assert _owner(clean_database, first["id"]) is None

    verify_email(client, email)
    assert _my_order_ids(client, account["headers"]) == {first["id"], pending["id"]}
    assert _owner(clean_database, other["id"]) is None
    # Its tickets follow the order: listed among the account's tickets.
    tickets = client.get("/api/v1/me/tickets", headers=account["headers"]).json()["data"]
    assert {ticket["order"]["id"] for ticket in tickets} == {first["id"]}
    # The guest's link still opens the order.
    by_token = client.get(
        f"/api/v1/orders/{first['id']}", headers={"X-Order-Token": first["access_token"]}
    )
    assert by_token.status_code == 200


def test_an_order_placed_later_as_a_guest_joins_at_the_next_login(
    client: TestClient, clean_database: Database
) -> None:
    shop = make_shop(clean_database, capacity=20, price_minor=1500)
    account = register(client)  # verified
    email = account["email"]
    later = _guest_buy(client, shop, email)
    assert _my_order_ids(client, account["headers"]) == set()

    login = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    headers = {"Authorization": f"Bearer {login.json()['data']['tokens']['access_token']}"}
    assert _my_order_ids(client, headers) == {later["id"]}


def test_an_order_of_another_account_never_moves(
    client: TestClient, clean_database: Database
) -> None:
    shop = make_shop(clean_database, capacity=20, price_minor=1500)
    buyer = register(client)
    email = f"shared-{uuid.uuid4().hex[:8]}@example.com"
    # A logged-in buyer may have their tickets sent to another address.
    theirs = buy(
        client, shop, quantity=1, headers=buyer["headers"], buyer={"name": "B", "email": email}
    )
    owner_before = _owner(clean_database, theirs["id"])
    assert owner_before is not None

    claimer = register(client, email)
    assert _my_order_ids(client, claimer["headers"]) == set()
    assert _owner(clean_database, theirs["id"]) == owner_before


def test_logging_in_on_the_pages_finds_the_guest_orders(
    client: TestClient, clean_database: Database
) -> None:
    shop = make_shop(clean_database, capacity=20, price_minor=1500)
    account = register(client)
    order = _guest_buy(client, shop, account["email"])
    web_login(client, account["email"])
    page = get_page(client, "/account/orders")
    assert page.status_code == 200
    assert order["code"] in page.text
