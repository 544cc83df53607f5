"""GET /metrics: the format, requests by route template, and the business counters
(orders, payments, scans) counted once their unit of work has committed."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import text

from admitone import metrics
from admitone.db import Database
from tests.factories import make_shop
from tests.helpers import register
from tests.metrics.conftest import scrape, value
from tests.tickets.factories import World, build_world

REQUESTS = "admitone_http_requests_total"


def test_the_exposition_parses_and_counts_requests_by_route_template(client: TestClient):
    before = scrape(client)
    first, second = uuid.uuid4(), uuid.uuid4()
    assert client.get(f"/api/v1/events/{first}").status_code == 404
    assert client.get(f"/api/v1/events/{second}").status_code == 404
    assert client.get(f"/no/such/page/{first}").status_code == 404
    response = client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 30})
    after = scrape(client)

    route = "/api/v1/events/{id_or_slug}"
    labels = {"method": "GET", "route": route, "status": "404"}
    assert value(after, REQUESTS, **labels) - value(before, REQUESTS, **labels) == 2
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, REQUESTS, **unmatched) - value(before, REQUESTS, **unmatched) == 1
    assert response.status_code == 401
    refused = {"method": "GET", "route": "/metrics", "status": "401"}
    assert value(after, REQUESTS, **refused) - value(before, REQUESTS, **refused) == 1
    # Bounded cardinality: no raw path (with its id) ever becomes a label.
    assert not any(str(first) in str(key) or str(second) in str(key) for key in after)
    histogram = "admitone_http_request_duration_seconds"
    count = value(after, f"{histogram}_count", method="GET", route=route)
    assert count - value(before, f"{histogram}_count", method="GET", route=route) == 2
    assert value(after, f"{histogram}_bucket", method="GET", route=route, le="+Inf") == count
    assert value(after, f"{histogram}_sum", method="GET", route=route) > 0


def test_unknown_methods_share_one_label(client: TestClient):
    before = scrape(client)
    assert client.request("BREW", "/api/v1/events").status_code in (400, 405)
    after = scrape(client)
    brewed = [key for key in after if ("method", "BREW") in key[1]]
    assert brewed == []
    other = [
        key
        for key in after
        if key[0] == REQUESTS and ("method", "other") in key[1] and after[key] > before.get(key, 0)
    ]
    assert len(other) == 1


def test_orders_and_payments_are_counted_once_committed(
    client: TestClient, clean_database: Database
):
    owner = register(client)
    shop = make_shop(clean_database, owner_id=owner["user"]["id"], capacity=1)
    body = {
        "event_id": str(shop.event_id),
        "items": [{"ticket_type_id": str(shop.ticket_type_id), "quantity": 1}],
        "buyer": {"name": "Ada Lovelace", "email": "ada@example.com"},
    }
    before = scrape(client)

    order = client.post("/api/v1/orders", json=body).json()["data"]
    # Sold out: the order rolls back, and so does its count.
    assert client.post("/api/v1/orders", json=body).status_code == 409
    pay_headers = {"X-Order-Token": order["access_token"]}
    declined = client.post(f"/api/v1/orders/{order['id']}/pay", headers=pay_headers).json()
    decline = client.post(
        f"/api/v1/payments/test/{declined['data']['id']}/decline", headers=pay_headers
    )
    assert decline.json()["data"]["outcome"] == "failed"
    paying = client.post(f"/api/v1/orders/{order['id']}/pay", headers=pay_headers).json()
    approve = client.post(
        f"/api/v1/payments/test/{paying['data']['id']}/approve", headers=pay_headers
    )
    assert approve.json()["data"]["outcome"] == "paid"
    # A second delivery of the same approval changes nothing, and counts nothing.
    client.post(f"/api/v1/payments/test/{paying['data']['id']}/approve", headers=pay_headers)
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("admitone_orders_created_total") == 1
    assert delta("admitone_orders_paid_total") == 1
    assert delta("admitone_payments_total", result="succeeded") == 1
    assert delta("admitone_payments_total", result="failed") == 1


def test_scans_are_counted_by_result(client: TestClient, clean_database: Database):
    world: World = build_world(client, clean_database)
    ticket_id = world.order.ticket_ids[0]
    qr = client.get(f"/api/v1/tickets/{ticket_id}", headers=world.owner["headers"]).json()
    url = f"/api/v1/events/{world.event.id}/checkins"
    headers = world.owner["headers"]
    before = scrape(client)
    body = {"qr": qr["data"]["qr_payload"], "nonce": "gate-1-0001"}
    assert client.post(url, json=body, headers=headers).json()["data"]["result"] == "admitted"
    # The gate's retry of the same scan (same nonce) gets the stored answer, uncounted.
    assert client.post(url, json=body, headers=headers).json()["data"]["result"] == "admitted"
    again = {"qr": qr["data"]["qr_payload"]}
    result = client.post(url, json=again, headers=headers).json()["data"]["result"]
    assert result == "already_admitted"
    forged = client.post(url, json={"qr": "AO1.forged"}, headers=headers).json()["data"]
    assert forged["result"] == "invalid_signature"
    after = scrape(client)

    def delta(result: str) -> float:
        name = "admitone_scans_total"
        return value(after, name, result=result) - value(before, name, result=result)

    assert (delta("admitted"), delta("already_admitted"), delta("invalid_signature")) == (1, 1, 1)
    assert delta("revoked") == 0


def test_a_count_waits_for_the_commit_and_a_rollback_forgets_it(clean_database: Database):
    counted = metrics.ORDERS_CREATED
    start = counted._value.get()
    try:
        with clean_database.session() as session:
            metrics.count_after_commit(session, counted)
            session.execute(text("SELECT 1"))
            assert counted._value.get() == start  # not before the commit
            raise RuntimeError("the unit of work fails")
    except RuntimeError:
        pass
    assert counted._value.get() == start
    with clean_database.session() as session:
        metrics.count_after_commit(session, counted)
        metrics.count_after_commit(session, counted)
        session.execute(text("SELECT 1"))
    assert counted._value.get() == start + 2
    # The next unit of work on a new session starts with nothing pending.
    with clean_database.session() as session:
        session.execute(text("SELECT 1"))
    assert counted._value.get() == start + 2


def test_pool_gauges_sample_this_process(client: TestClient, settings):
    samples = scrape(client)
    assert value(samples, "admitone_db_pool_size") == settings.database_pool_size
    # The scrape itself holds no connection: nothing else is running.
    assert value(samples, "admitone_db_pool_checked_out") == 0
