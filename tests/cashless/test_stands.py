"""The organizer's stands, products and cashiers (API), on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from admitone.db import Database
from tests.cashless.pos_helpers import (
    assign,
    create_product,
    create_stand,
    error_code,
    make_festival,
)
from tests.helpers import add_member, create_event, create_org, events_url, register


@pytest.fixture
def festival(client: TestClient, clean_database: Database):
    return make_festival(client, clean_database)


def test_stands_are_listed_with_their_cashiers_and_changed(festival) -> None:
    client = festival.client
    listed = client.get(festival.url(), headers=festival.owner)
    assert listed.status_code == 200
    stands = {stand["name"]: stand for stand in listed.json()["data"]}
    assert list(stands) == ["Desk", "Main bar"]
    assert stands["Main bar"]["kind"] == "bar" and stands["Main bar"]["active"] is True
    assert stands["Main bar"]["cashier_ids"] == [festival.cashier_id]

    changed = client.patch(
        festival.url(festival.bar["id"]),
        json={"name": "North bar", "kind": "food", "active": False},
        headers=festival.owner,
    )
    assert changed.status_code == 200, changed.text
    stand = changed.json()["data"]
    assert (stand["name"], stand["kind"], stand["active"]) == ("North bar", "food", False)
    # A name is the stand's alone within its event; keeping its own name is fine.
    taken = client.patch(
        festival.url(festival.bar["id"]), json={"name": "Desk"}, headers=festival.owner
    )
    assert taken.status_code == 409 and error_code(taken) == "STAND_NAME_TAKEN"
    again = client.post(
        festival.url(), json={"name": "Desk", "kind": "bar"}, headers=festival.owner
    )
    assert again.status_code == 409 and error_code(again) == "STAND_NAME_TAKEN"
    same = client.patch(
        festival.url(festival.bar["id"]), json={"name": "North bar"}, headers=festival.owner
    )
    assert same.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "kind": "bar"},
        {"name": "Bar", "kind": "casino"},
        {"name": "Two\nlines", "kind": "bar"},
        {"name": "Bar"},
        {"name": "Bar", "kind": "bar", "active": True},
    ],
)
def test_a_bad_stand_is_refused(festival, body) -> None:
    response = festival.client.post(festival.url(), json=body, headers=festival.owner)
    assert response.status_code == 422 and error_code(response) == "VALIDATION_ERROR"


def test_a_stand_patch_refuses_null_for_its_fields(festival) -> None:
    for field in ("name", "kind", "active"):
        response = festival.client.patch(
            festival.url(festival.bar["id"]), json={field: None}, headers=festival.owner
        )
        assert response.status_code == 422, field


def test_products_are_created_listed_and_changed(festival) -> None:
    client = festival.client
    url = festival.url(festival.bar["id"], "products")
    listed = client.get(url, headers=festival.owner).json()["data"]
    assert [product["name"] for product in listed] == ["Beer", "Water", "Cap", "Cup"]
    beer = festival.products["Beer"]
    assert beer["price_minor"] == 450 and beer["vat_rate_bp"] == 2000 and beer["stock"] is None
    assert festival.products["Cup"]["deposit"] is True

    product_url = festival.url(festival.bar["id"], "products", beer["id"])
    changed = client.patch(
        product_url,
        json={"name": "Beer 50 cl", "price_minor": 800, "vat_rate_bp": 1000, "category": None},
        headers=festival.owner,
    )
    assert changed.status_code == 200, changed.text
    data = changed.json()["data"]
    assert (data["name"], data["price_minor"], data["vat_rate_bp"], data["category"]) == (
        "Beer 50 cl",
        800,
        1000,
        None,
    )
    # Stock: set, added to, taken from, never below zero; null is unlimited again.
    assert (
        client.patch(product_url, json={"stock": 10}, headers=festival.owner).json()["data"][
            "stock"
        ]
        == 10
    )
    added = client.patch(product_url, json={"stock_add": 5}, headers=festival.owner)
    assert added.json()["data"]["stock"] == 15
    taken = client.patch(product_url, json={"stock_add": -15}, headers=festival.owner)
    assert taken.json()["data"]["stock"] == 0
    below = client.patch(product_url, json={"stock_add": -1}, headers=festival.owner)
    assert below.status_code == 422 and below.json()["error"]["details"] == {"stock": 0}
    both = client.patch(product_url, json={"stock": 1, "stock_add": 1}, headers=festival.owner)
    assert both.status_code == 422
    unlimited = client.patch(product_url, json={"stock": None}, headers=festival.owner)
    assert unlimited.json()["data"]["stock"] is None
    nothing_to_add = client.patch(product_url, json={"stock_add": 3}, headers=festival.owner)
    assert nothing_to_add.status_code == 422
    assert "unlimited" in nothing_to_add.json()["error"]["message"]
    off = client.patch(product_url, json={"active": False, "deposit": True}, headers=festival.owner)
    assert off.json()["data"]["active"] is False and off.json()["data"]["deposit"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Beer", "price_minor": -1, "vat_rate_bp": 0},
        {"name": "Beer", "price_minor": 100, "vat_rate_bp": 10_001},
        {"name": "Beer", "price_minor": "100", "vat_rate_bp": 0},
        {"name": "Beer", "price_minor": 100, "vat_rate_bp": 0, "stock": -1},
        {"name": "Beer", "price_minor": 100},
        {"name": "Beer", "price_minor": 100, "vat_rate_bp": 0, "deposit": "yes"},
    ],
)
def test_a_bad_product_is_refused(festival, body) -> None:
    url = festival.url(festival.bar["id"], "products")
    response = festival.client.post(url, json=body, headers=festival.owner)
    assert response.status_code == 422 and error_code(response) == "VALIDATION_ERROR"


def test_a_stand_or_product_of_another_event_or_organization_is_not_found(
    festival, client: TestClient
) -> None:
    other_event = create_event(client, festival.owner, festival.org)["id"]
    bar, beer = festival.bar["id"], festival.product_id("Beer")
    desk_products = festival.url(festival.desk["id"], "products", beer)
    # The bar under another event of the same organization; the beer under the desk.
    for method, url, body, code in [
        (
            "GET",
            events_url(festival.org, other_event, "stands", bar, "products"),
            None,
            "STAND_NOT_FOUND",
        ),
        (
            "PATCH",
            events_url(festival.org, other_event, "stands", bar),
            {"active": False},
            "STAND_NOT_FOUND",
        ),
        ("PATCH", desk_products, {"price_minor": 1}, "PRODUCT_NOT_FOUND"),
        ("PATCH", festival.url(str(uuid.uuid4())), {"active": False}, "STAND_NOT_FOUND"),
    ]:
        response = client.request(method, url, json=body, headers=festival.owner)
        assert response.status_code == 404 and error_code(response) == code, (url, response.text)
    # Another organization's owner, through their own organization: the event is not found.
    stranger = register(client)
    their_org = create_org(client, stranger["headers"])["slug"]
    url = events_url(their_org, festival.event_id, "stands")
    assert client.get(url, headers=stranger["headers"]).status_code == 404
    assert client.get(festival.url(), headers=stranger["headers"]).status_code == 404


def test_members_who_see_events_read_stands_only_managers_change_them(festival, client) -> None:
    staff = register(client)
    add_member(client, festival.owner, festival.org, staff["email"], "staff")
    for headers in (staff["headers"], festival.cashier):
        assert client.get(festival.url(), headers=headers).status_code == 200
        products = client.get(festival.url(festival.bar["id"], "products"), headers=headers)
        assert products.status_code == 200
        refused = client.post(festival.url(), json={"name": "X", "kind": "bar"}, headers=headers)
        assert refused.status_code == 403
        refused = client.post(
            festival.url(festival.bar["id"], "products"),
            json={"name": "X", "price_minor": 1, "vat_rate_bp": 0},
            headers=headers,
        )
        assert refused.status_code == 403


def test_only_members_who_may_sell_are_assigned_to_a_stand(festival, client) -> None:
    bar = festival.bar["id"]
    staff = register(client)
    staff_id = add_member(client, festival.owner, festival.org, staff["email"], "staff")["user"][
        "id"
    ]
    refused = assign(festival, bar, staff_id)
    assert refused.status_code == 409 and error_code(refused) == "MEMBER_CANNOT_SELL"
    stranger = register(client)["user"]["id"]
    assert assign(festival, bar, stranger).status_code == 404
    admin = register(client)
    admin_id = add_member(client, festival.owner, festival.org, admin["email"], "admin")["user"][
        "id"
    ]
    assigned = assign(festival, bar, admin_id)
    assert assigned.status_code == 200
    assert set(assigned.json()["data"]["cashier_ids"]) == {festival.cashier_id, admin_id}
    # Twice changes nothing; removing is done once, and again is harmless.
    assert (
        assign(festival, bar, admin_id).json()["data"]["cashier_ids"]
        == assigned.json()["data"]["cashier_ids"]
    )
    for _ in range(2):
        removed = client.delete(festival.url(bar, "cashiers", admin_id), headers=festival.owner)
        assert removed.status_code == 204
    stands = client.get(festival.url(), headers=festival.owner).json()["data"]
    assert [s["cashier_ids"] for s in stands if s["id"] == bar] == [[festival.cashier_id]]


def test_create_stand_helpers_make_distinct_events(client, clean_database) -> None:
    owner = register(client)
    org = create_org(client, owner["headers"])["slug"]
    first, second = (create_event(client, owner["headers"], org)["id"] for _ in range(2))
    # The same stand name in two events: names are unique within one event only.
    for event_id in (first, second):
        stand = create_stand(client, owner["headers"], org, event_id, name="Bar", kind="bar")
        url = events_url(org, event_id, "stands", stand["id"], "products")
        create_product(client, owner["headers"], url, name="Beer", price_minor=1, vat_rate_bp=0)
