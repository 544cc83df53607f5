"""Points of sale as devices, through the API: pairing, the bundle, offline batches."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from admitone.db import Database
from tests.cashless.pos_helpers import (
    Festival,
    balance,
    balanced,
    error_code,
    make_festival,
    make_wallet,
    signed_pass,
)
from tests.helpers import auth

API = "/api/v1/pos"


@pytest.fixture
def festival(client: TestClient, clean_database: Database) -> Festival:
    return make_festival(client, clean_database)


def _pair(festival: Festival, headers: dict[str, str], stand_id: str | None = None) -> Any:
    return festival.client.post(
        f"{API}/devices",
        json={"stand_id": stand_id or festival.bar["id"], "name": "Till 1"},
        headers=headers,
    )


def _sale(festival: Festival, qr: str, seq: int, **overrides: Any) -> dict[str, Any]:
    return {
        "idempotency_key": str(uuid.uuid4()),
        "device_seq": seq,
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "pass": qr,
        "lines": [
            {"product_id": festival.product_id("Beer"), "quantity": 1, "unit_price_minor": 500}
        ],
        **overrides,
    }


def _upload(festival: Festival, token: str, sales: list[Any]) -> Any:
    return festival.client.post(
        f"{API}/offline-batches",
        json={"device_time": datetime.now(UTC).isoformat(), "sales": sales},
        headers=auth(token),
    )


def test_a_cashier_pairs_a_till_which_downloads_its_bundle(festival: Festival) -> None:
    paired = _pair(festival, festival.cashier)
    assert paired.status_code == 201, paired.text
    data = paired.json()["data"]
    assert data["token"].startswith("aod_") and data["stand_name"] == "Main bar"
    bundle = festival.client.get(f"{API}/bundle", headers=auth(data["token"]))
    assert bundle.status_code == 200, bundle.text
    found = bundle.json()["data"]
    assert found["stand_id"] == festival.bar["id"] and found["currency"] == "EUR"
    assert found["full"] is True and found["passes"] == []
    assert {product["name"] for product in found["products"]} == set(festival.products)
    assert len(found["public_key"]) == 44 and found["offline_wallet_cap_minor"] >= 0
    later = festival.client.get(
        f"{API}/bundle", params={"cursor": found["cursor"]}, headers=auth(data["token"])
    )
    assert later.status_code == 200 and later.json()["data"]["full"] is False
    bad = festival.client.get(
        f"{API}/bundle", params={"cursor": "garbage"}, headers=auth(data["token"])
    )
    assert bad.status_code == 422 and error_code(bad) == "BUNDLE_CURSOR_INVALID"


def test_pairing_is_for_who_may_sell_at_the_stand(festival: Festival, client: TestClient) -> None:
    from tests.helpers import register

    stranger = register(client)
    assert _pair(festival, stranger["headers"]).status_code == 404
    assert error_code(_pair(festival, festival.owner, str(uuid.uuid4()))) == "STAND_NOT_FOUND"
    refused = client.post(f"{API}/devices", json={"stand_id": "nope", "name": ""})
    assert refused.status_code == 401
    invalid = _pair(festival, festival.owner, "not-a-uuid")
    assert invalid.status_code == 422 and error_code(invalid) == "VALIDATION_ERROR"


def test_an_offline_batch_books_each_sale_once_and_refuses_a_bad_item_alone(
    festival: Festival,
) -> None:
    token = _pair(festival, festival.cashier).json()["data"]["token"]
    wallet = make_wallet(festival.database, festival.event_id, funded=700)
    qr = signed_pass(festival.client, wallet)
    sales = [_sale(festival, qr, 1), _sale(festival, qr, 2), {"idempotency_key": "broken"}]
    answer = _upload(festival, token, sales)
    assert answer.status_code == 200, answer.text
    results = answer.json()["data"]["results"]
    assert [r["status"] for r in results] == ["booked", "booked_with_debt", "refused"]
    assert results[1]["shortfall_minor"] == 300
    assert results[2]["idempotency_key"] == "broken"
    assert results[2]["error"]["code"] == "VALIDATION_ERROR"
    again = _upload(festival, token, sales[:2]).json()["data"]["results"]
    assert [r["status"] for r in again] == ["duplicate", "duplicate"]
    assert [r["entry_id"] for r in again] == [r["entry_id"] for r in results[:2]]
    assert balance(festival.database, wallet.account) == 0
    assert balance(festival.database, wallet.debt) == -300
    assert balanced(festival.database, festival.event_id)
    # The wallet in debt is now a pass to refuse offline.
    bundle = festival.client.get(f"{API}/bundle", headers=auth(token)).json()["data"]
    assert {"pass_id": str(wallet.pass_id), "blocked": True} in bundle["passes"]


def test_device_tokens_are_checked(festival: Festival) -> None:
    wrong = festival.client.get(f"{API}/bundle", headers=auth("aod_nope"))
    assert wrong.status_code == 401 and error_code(wrong) == "DEVICE_TOKEN_INVALID"
    assert festival.client.get(f"{API}/bundle").status_code == 401
    # A gate's device is not a point of sale.
    gate = festival.client.post(
        f"/api/v1/events/{festival.event_id}/devices",
        json={"name": "Gate phone", "gate": "North"},
        headers=festival.owner,
    )
    assert gate.status_code == 201, gate.text
    refused = _upload(festival, gate.json()["data"]["token"], [{"idempotency_key": "x"}])
    assert refused.status_code == 401 and error_code(refused) == "DEVICE_TOKEN_INVALID"
    token = _pair(festival, festival.cashier).json()["data"]["token"]
    empty = festival.client.post(
        f"{API}/offline-batches",
        json={"device_time": datetime.now(UTC).isoformat(), "sales": []},
        headers=auth(token),
    )
    assert empty.status_code == 422 and error_code(empty) == "VALIDATION_ERROR"
    naive = festival.client.post(
        f"{API}/offline-batches",
        json={"device_time": "2026-07-14T21:00:00", "sales": [{}]},
        headers=auth(token),
    )
    assert naive.status_code == 422
