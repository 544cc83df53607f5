"""Buying through the API: order, pay, approve; and reading what changed in the database."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from admitone.db import Database
from tests.factories import Shop

BUYER = {"name": "Ada Lovelace", "email": "ada@example.com"}


def order_body(
    shop: Shop,
    *,
    quantity: int = 1,
    ticket_type_id: uuid.UUID | None = None,
    items: list[dict[str, Any]] | None = None,
    buyer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if items is None:
        items = [
            {"ticket_type_id": str(ticket_type_id or shop.ticket_type_id), "quantity": quantity}
        ]
    return {"event_id": str(shop.event_id), "items": items, "buyer": buyer or dict(BUYER)}


def token_headers(token: str) -> dict[str, str]:
    return {"X-Order-Token": token}


def create_order(
    client: TestClient,
    shop: Shop,
    *,
    headers: dict[str, str] | None = None,
    expect: int = 201,
    **body: Any,
) -> dict[str, Any]:
    response = client.post("/api/v1/orders", json=order_body(shop, **body), headers=headers or {})
    assert response.status_code == expect, response.text
    return response.json()["data"]


def start_payment(
    client: TestClient, order: dict[str, Any], *, expect: int = 201
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/orders/{order['id']}/pay", headers=token_headers(order["access_token"])
    )
    assert response.status_code == expect, response.text
    # The order's secret goes along: only the buyer may press the test provider's buttons.
    return {**response.json()["data"], "order_token": order["access_token"]}


def approve(client: TestClient, payment: dict[str, Any], *, expect: int = 200) -> dict[str, Any]:
    """The buyer approves a payment of ``start_payment`` (with their order's secret)."""
    response = client.post(
        f"/api/v1/payments/test/{payment['id']}/approve",
        headers=token_headers(payment["order_token"]),
    )
    assert response.status_code == expect, response.text
    return response.json()["data"]


def decline(client: TestClient, payment: dict[str, Any], *, expect: int = 200) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/payments/test/{payment['id']}/decline",
        headers=token_headers(payment["order_token"]),
    )
    assert response.status_code == expect, response.text
    return response.json()["data"]


def buy(client: TestClient, shop: Shop, **body: Any) -> dict[str, Any]:
    """A paid order: created, paid and approved through the API; the order as the buyer sees it."""
    order = create_order(client, shop, **body)
    payment = start_payment(client, order)
    assert approve(client, payment)["outcome"] == "paid"
    response = client.get(
        f"/api/v1/orders/{order['id']}", headers=token_headers(order["access_token"])
    )
    assert response.json()["data"]["status"] == "paid"
    return {**response.json()["data"], "access_token": order["access_token"], "payment": payment}


def read_order(client: TestClient, order: dict[str, Any]) -> dict[str, Any]:
    response = client.get(
        f"/api/v1/orders/{order['id']}", headers=token_headers(order["access_token"])
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def count(database: Database, model: type, *where: Any) -> int:
    with database.session(write=False) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def paid_order_through_api(
    client: TestClient, owner_headers: dict[str, str], org_slug: str
) -> tuple[str, str]:
    """A published event of ``org_slug`` (made through the events API) and a paid order of
    it (ordered, paid and approved through the API): (event id, order id)."""
    from tests.helpers import create_published_event

    event = create_published_event(client, owner_headers, org_slug)
    body = {
        "event_id": event["id"],
        "items": [{"ticket_type_id": event["ticket_types"][0]["id"], "quantity": 1}],
        "buyer": dict(BUYER),
    }
    response = client.post("/api/v1/orders", json=body)
    assert response.status_code == 201, response.text
    order = response.json()["data"]
    payment = start_payment(client, order)
    assert approve(client, payment)["outcome"] == "paid"
    return event["id"], order["id"]
