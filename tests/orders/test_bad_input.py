"""Bad input to the order routes: the right status and code, and nothing changed at all.

One setup per route, every case checked against a snapshot of every table.
"""

from __future__ import annotations

import copy
import uuid
from datetime import timedelta
from typing import Any

from admitone.db import utcnow
from admitone.events.models import EventStatus
from tests.factories import (
    add_ticket_type,
    make_event,
    make_shop,
    make_ticket_type,
)
from tests.helpers import db_snapshot, register, replaced
from tests.orders.helpers import buy, create_order, order_body, token_headers


def _without(body: dict[str, Any], *path: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    target = changed
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return changed


def test_create_order_refuses_bad_input_and_changes_nothing(client, shop, clean_database):
    database = clean_database
    now = utcnow()
    inactive = add_ticket_type(database, shop, name="Closed", is_active=False)
    not_open = add_ticket_type(database, shop, name="Later", sales_start=now + timedelta(days=1))
    closed = add_ticket_type(database, shop, name="Earlier", sales_end=now - timedelta(minutes=1))
    pairs_only = add_ticket_type(database, shop, name="Pairs", min_per_order=2, max_per_order=4)
    pricey = add_ticket_type(
        database, shop, name="Gold", price_minor=100_000_000, capacity=100, max_per_order=50
    )
    draft = make_shop(database, status=EventStatus.draft)
    cancelled = make_shop(database, status=EventStatus.cancelled)
    past_event = make_event(
        database, organization_id=shop.organization_id, starts_at=now - timedelta(hours=5)
    )
    past_type = make_ticket_type(database, event_id=past_event)
    other_shop = make_shop(database)
    # Fill the default type to 9 of 10, so that 2 more are sold out.
    create_order(client, shop, quantity=9)

    good = order_body(shop)
    tt = str(shop.ticket_type_id)

    def item(ticket_type_id: Any, quantity: Any = 1) -> list[dict[str, Any]]:
        return [{"ticket_type_id": str(ticket_type_id), "quantity": quantity}]

    cases: list[tuple[str, Any, int, str]] = [
        ("empty items", replaced(good, ("items",), []), 422, "VALIDATION_ERROR"),
        ("items missing", _without(good, "items"), 422, "VALIDATION_ERROR"),
        (
            "duplicate type",
            replaced(good, ("items",), item(tt) + item(tt)),
            422,
            "VALIDATION_ERROR",
        ),
        ("21 lines", replaced(good, ("items",), item(tt) * 21), 422, "VALIDATION_ERROR"),
        (
            "quantity as text",
            replaced(good, ("items", 0, "quantity"), "2"),
            422,
            "VALIDATION_ERROR",
        ),
        ("quantity float", replaced(good, ("items", 0, "quantity"), 1.0), 422, "VALIDATION_ERROR"),
        ("quantity bool", replaced(good, ("items", 0, "quantity"), True), 422, "VALIDATION_ERROR"),
        ("quantity zero", replaced(good, ("items", 0, "quantity"), 0), 422, "VALIDATION_ERROR"),
        (
            "quantity negative",
            replaced(good, ("items", 0, "quantity"), -1),
            422,
            "VALIDATION_ERROR",
        ),
        (
            "quantity huge",
            replaced(good, ("items", 0, "quantity"), 10**12),
            422,
            "VALIDATION_ERROR",
        ),
        (
            "type id not uuid",
            replaced(good, ("items", 0, "ticket_type_id"), "1"),
            422,
            "VALIDATION_ERROR",
        ),
        ("event id not uuid", replaced(good, ("event_id",), "abc"), 422, "VALIDATION_ERROR"),
        ("event id null", replaced(good, ("event_id",), None), 422, "VALIDATION_ERROR"),
        ("buyer missing", _without(good, "buyer"), 422, "VALIDATION_ERROR"),
        ("bad e-mail", replaced(good, ("buyer", "email"), "not-an-email"), 422, "VALIDATION_ERROR"),
        ("blank name", replaced(good, ("buyer", "name"), "   "), 422, "VALIDATION_ERROR"),
        ("long name", replaced(good, ("buyer", "name"), "x" * 201), 422, "VALIDATION_ERROR"),
        ("NUL in name", replaced(good, ("buyer", "name"), "A\x00B"), 422, "VALIDATION_ERROR"),
        # Mass assignment: the client never sets prices, totals or states.
        ("total given", {**good, "total_minor": 1}, 422, "VALIDATION_ERROR"),
        ("status given", {**good, "status": "paid"}, 422, "VALIDATION_ERROR"),
        (
            "price given",
            replaced(good, ("items", 0, "unit_price_minor"), 1),
            422,
            "VALIDATION_ERROR",
        ),
        ("user given", {**good, "user_id": str(uuid.uuid4())}, 422, "VALIDATION_ERROR"),
        ("body is a list", [good], 422, "VALIDATION_ERROR"),
        ("unknown event", replaced(good, ("event_id",), str(uuid.uuid4())), 404, "NOT_FOUND"),
        ("unknown type", replaced(good, ("items",), item(uuid.uuid4())), 404, "NOT_FOUND"),
        (
            "type of another event",
            replaced(good, ("items",), item(other_shop.ticket_type_id)),
            404,
            "NOT_FOUND",
        ),
        ("draft event", order_body(draft), 409, "EVENT_NOT_PUBLISHED"),
        ("cancelled event", order_body(cancelled), 409, "EVENT_NOT_PUBLISHED"),
        ("inactive type", replaced(good, ("items",), item(inactive)), 409, "TICKET_TYPE_INACTIVE"),
        ("sales not open", replaced(good, ("items",), item(not_open)), 409, "SALES_NOT_OPEN"),
        ("sales over", replaced(good, ("items",), item(closed)), 409, "SALES_CLOSED"),
        (
            "event over",
            {**good, "event_id": str(past_event), "items": item(past_type)},
            409,
            "SALES_CLOSED",
        ),
        ("over max per order", replaced(good, ("items",), item(tt, 11)), 422, "LIMIT_EXCEEDED"),
        (
            "under min per order",
            replaced(good, ("items",), item(pairs_only, 1)),
            422,
            "LIMIT_EXCEEDED",
        ),
        (
            "over max (pairs)",
            replaced(good, ("items",), item(pairs_only, 5)),
            422,
            "LIMIT_EXCEEDED",
        ),
        ("total too large", replaced(good, ("items",), item(pricey, 30)), 422, "LIMIT_EXCEEDED"),
        ("sold out", replaced(good, ("items",), item(tt, 2)), 409, "SOLD_OUT"),
    ]
    before = db_snapshot(database)
    for label, body, status, code in cases:
        response = client.post("/api/v1/orders", json=body)
        assert response.status_code == status, f"{label}: {response.text}"
        assert response.json()["error"]["code"] == code, f"{label}: {response.text}"
        assert db_snapshot(database) == before, f"{label} changed data"

    malformed = client.post(
        "/api/v1/orders", content=b'{"event_id": ', headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "MALFORMED_JSON"
    assert db_snapshot(database) == before


def test_buyer_routes_refuse_bad_input_and_change_nothing(client, shop, clean_database):
    pending = create_order(client, shop)
    cancelled = create_order(client, shop)
    client.post(
        f"/api/v1/orders/{cancelled['id']}/cancel", headers=token_headers(cancelled["access_token"])
    )
    paid = buy(client, shop)
    eve = register(client)
    cases = [
        ("cancel unknown", "post", f"/api/v1/orders/{uuid.uuid4()}/cancel", eve["headers"], 404),
        ("cancel bad id", "post", "/api/v1/orders/1/cancel", eve["headers"], 422),
        ("cancel no credentials", "post", f"/api/v1/orders/{pending['id']}/cancel", {}, 401),
        ("cancel other's", "post", f"/api/v1/orders/{pending['id']}/cancel", eve["headers"], 404),
        (
            "cancel cancelled",
            "post",
            f"/api/v1/orders/{cancelled['id']}/cancel",
            token_headers(cancelled["access_token"]),
            409,
        ),
        (
            "pay cancelled",
            "post",
            f"/api/v1/orders/{cancelled['id']}/pay",
            token_headers(cancelled["access_token"]),
            409,
        ),
        (
            "pay paid",
            "post",
            f"/api/v1/orders/{paid['id']}/pay",
            token_headers(paid["access_token"]),
            409,
        ),
        ("pay other's", "post", f"/api/v1/orders/{pending['id']}/pay", eve["headers"], 404),
        (
            "token too long",
            "get",
            f"/api/v1/orders/{pending['id']}",
            token_headers("x" * 129),
            422,
        ),
    ]
    before = db_snapshot(clean_database)
    for label, method, url, headers, status in cases:
        response = client.request(method, url, headers=headers)
        assert response.status_code == status, f"{label}: {response.text}"
        assert "code" in response.json()["error"], label
        assert db_snapshot(clean_database) == before, f"{label} changed data"
