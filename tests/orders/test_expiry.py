"""Holds that run out: they stop counting at once, and go back on sale lazily or by sweep."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from admitone.db import utcnow
from admitone.events import stock
from admitone.orders import expiry
from admitone.orders.models import Order, OrderStatus
from tests.factories import counters, expire_hold, make_shop
from tests.orders.helpers import buy, create_order, read_order, start_payment, token_headers

ADMITONE = str(Path(sys.executable).parent / "admitone")


def status_in_db(database, order_id) -> OrderStatus:
    with database.session(write=False) as session:
        return session.scalar(select(Order.status).where(Order.id == uuid.UUID(order_id)))


def test_an_expired_hold_reads_expired_and_its_seats_available(client, shop, clean_database):
    order = create_order(client, shop, quantity=10)
    expire_hold(clean_database, order["id"])
    # Nothing has written yet: the row is still pending and the counter still holds it...
    assert status_in_db(clean_database, order["id"]) == OrderStatus.pending
    assert counters(clean_database, shop.ticket_type_id).held == 10
    # ...but every reader already sees the hold released.
    assert read_order(client, order)["status"] == "expired"
    with clean_database.session(write=False) as session:
        available = stock.live_availability(session, event_id=shop.event_id, now=utcnow())
    assert available == {shop.ticket_type_id: 10}


def test_the_next_order_takes_the_released_seats(client, shop, clean_database):
    first = create_order(client, shop, quantity=10)
    refused = client.post(
        "/api/v1/orders",
        json={
            "event_id": str(shop.event_id),
            "items": [{"ticket_type_id": str(shop.ticket_type_id), "quantity": 4}],
            "buyer": {"name": "Bob", "email": "bob@example.com"},
        },
    )
    assert refused.json()["error"]["code"] == "SOLD_OUT"
    expire_hold(clean_database, first["id"])
    second = create_order(client, shop, quantity=4)
    assert status_in_db(clean_database, first["id"]) == OrderStatus.expired
    assert status_in_db(clean_database, second["id"]) == OrderStatus.pending
    c = counters(clean_database, shop.ticket_type_id)
    assert (c.held, c.sold, c.available) == (4, 0, 6)


def test_an_order_with_seats_to_spare_leaves_expired_holds_to_the_sweep(
    client, shop, clean_database
):
    lapsed = create_order(client, shop, quantity=3)
    expire_hold(clean_database, lapsed["id"])
    create_order(client, shop, quantity=2)  # 5 seats free: nothing needs releasing
    assert status_in_db(clean_database, lapsed["id"]) == OrderStatus.pending
    assert counters(clean_database, shop.ticket_type_id).held == 5
    with clean_database.session(write=False) as session:  # readers count it free already
        available = stock.live_availability(session, event_id=shop.event_id, now=utcnow())
    assert available == {shop.ticket_type_id: 8}


def test_paying_an_expired_hold_is_refused_and_releases_it(client, shop, clean_database):
    order = create_order(client, shop, quantity=3)
    expire_hold(clean_database, order["id"])
    response = client.post(
        f"/api/v1/orders/{order['id']}/pay", headers=token_headers(order["access_token"])
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "HOLD_EXPIRED"
    assert status_in_db(clean_database, order["id"]) == OrderStatus.expired
    assert counters(clean_database, shop.ticket_type_id).held == 0


def test_sweep_expires_only_holds_past_their_time(client, shop, clean_database):
    other = make_shop(clean_database, capacity=5)
    stale = [create_order(client, shop, quantity=2) for _ in range(2)]
    stale_other = create_order(client, other, quantity=5)
    live = create_order(client, shop, quantity=1)
    paid = buy(client, shop, quantity=1)
    for order in [*stale, stale_other]:
        expire_hold(clean_database, order["id"])
    expire_hold(clean_database, paid["id"])  # a paid order's expires_at no longer matters

    with clean_database.session() as session:
        assert expiry.expire_holds(session, now=utcnow()) == 3
    with clean_database.session() as session:
        assert expiry.expire_holds(session, now=utcnow()) == 0  # nothing left, nothing twice

    for order in [*stale, stale_other]:
        assert status_in_db(clean_database, order["id"]) == OrderStatus.expired
    assert status_in_db(clean_database, live["id"]) == OrderStatus.pending
    assert status_in_db(clean_database, paid["id"]) == OrderStatus.paid
    c = counters(clean_database, shop.ticket_type_id)
    assert (c.held, c.sold) == (1, 1)
    assert counters(clean_database, other.ticket_type_id).held == 0


def test_cli_expire_holds(client, shop, clean_database, database_url, tmp_path):
    order = create_order(client, shop, quantity=2)
    expire_hold(clean_database, order["id"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADMITONE_")}
    env.update(
        ADMITONE_DATABASE_URL=database_url,
        ADMITONE_MEDIA_DIR=str(tmp_path / "media"),
        ADMITONE_LOG_LEVEL="WARNING",
    )
    result = subprocess.run(
        [ADMITONE, "expire-holds"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "1 expired order(s)" in result.stdout
    assert status_in_db(clean_database, order["id"]) == OrderStatus.expired
    assert counters(clean_database, shop.ticket_type_id).held == 0


def test_the_app_sweeps_in_the_background(make_app, clean_database, owner):
    shop = make_shop(clean_database, owner_id=owner["user"]["id"])
    app = make_app(hold_sweep_enabled=True, hold_sweep_interval_seconds=0.1)
    with TestClient(app) as client:
        order = create_order(client, shop, quantity=2)
        payment = start_payment(client, order)
        expire_hold(clean_database, order["id"])
        deadline = time.monotonic() + 10
        while status_in_db(clean_database, order["id"]) != OrderStatus.expired:
            assert time.monotonic() < deadline, "the sweep did not run"
            time.sleep(0.05)
    assert counters(clean_database, shop.ticket_type_id).held == 0
    assert payment["status"] == "pending"


def test_the_sweep_can_be_switched_off(make_app, clean_database, owner):
    shop = make_shop(clean_database, owner_id=owner["user"]["id"])
    app = make_app(hold_sweep_enabled=False, hold_sweep_interval_seconds=0.05)
    with TestClient(app) as client:
        order = create_order(client, shop)
        expire_hold(clean_database, order["id"])
        time.sleep(0.5)
    assert status_in_db(clean_database, order["id"]) == OrderStatus.pending
