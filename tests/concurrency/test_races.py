"""Races through a real server: last seats, duplicate notifications, retried keys, late payments.

The negative control shows the harness really races: with the atomic check (and, on
SQLite, the up-front write lock) switched off, the same crowd oversells or collides.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from admitone.db import utcnow
from admitone.events import stock
from admitone.orders.models import Order, OrderStatus
from admitone.payments.models import Refund
from admitone.tickets.models import Ticket, TicketStatus
from tests.concurrency.conftest import assert_stock_consistent, run_at_once, seats_in_orders
from tests.factories import expire_hold, make_shop
from tests.helpers import register
from tests.orders.helpers import count

pytestmark = pytest.mark.race

BUYERS = 50
CAPACITY = 20


def body(shop, *, quantity: int = 1, name: str = "Buyer") -> dict[str, Any]:
    return {
        "event_id": str(shop.event_id),
        "items": [{"ticket_type_id": str(shop.ticket_type_id), "quantity": quantity}],
        "buyer": {"name": name, "email": f"{name.lower().replace(' ', '.')}@example.com"},
    }


def order_then_pay(http: httpx.Client, shop, index: int) -> tuple[int, str]:
    """One buyer: order a seat; if held, pay and approve. (status of the order call, outcome)."""
    response = http.post("/api/v1/orders", json=body(shop, name=f"Buyer {index}"))
    if response.status_code != 201:
        return response.status_code, response.json()["error"]["code"]
    order = response.json()["data"]
    token = {"X-Order-Token": order["access_token"]}
    payment = http.post(f"/api/v1/orders/{order['id']}/pay", headers=token)
    assert payment.status_code == 201, payment.text
    approved = http.post(
        f"/api/v1/payments/test/{payment.json()['data']['id']}/approve", headers=token
    )
    assert approved.status_code == 200, approved.text
    return 201, approved.json()["data"]["outcome"]


def test_fifty_buyers_twenty_seats_exactly_twenty_sold(live_server, clean_database):
    shop = make_shop(clean_database, capacity=CAPACITY)
    results = run_at_once(live_server, BUYERS, lambda http, i: order_then_pay(http, shop, i))

    assert Counter(results) == {(201, "paid"): CAPACITY, (409, "SOLD_OUT"): BUYERS - CAPACITY}
    assert assert_stock_consistent(clean_database, shop.ticket_type_id) == (CAPACITY, 0)
    assert count(clean_database, Order, Order.status == OrderStatus.paid) == CAPACITY
    assert count(clean_database, Order) == CAPACITY
    assert count(clean_database, Ticket) == CAPACITY
    # Availability reads 0 everywhere: the orders service and the public event page.
    with clean_database.session(write=False) as session:
        assert stock.live_availability(session, event_id=shop.event_id, now=utcnow()) == {
            shop.ticket_type_id: 0
        }
    with httpx.Client(base_url=live_server) as http:
        event = http.get(f"/api/v1/events/{shop.event_id}").json()["data"]
        assert [t["available"] for t in event["ticket_types"]] == [0]
        late = http.post("/api/v1/orders", json=body(shop, name="Late Comer"))
        assert late.status_code == 409
        assert late.json()["error"]["details"]["available"] == {str(shop.ticket_type_id): 0}


def test_multi_seat_orders_race_to_the_exact_capacity(live_server, clean_database):
    shop = make_shop(clean_database, capacity=CAPACITY)

    def buyer(http: httpx.Client, index: int) -> int:
        quantity = 1 + index % 3  # 1, 2 or 3 seats
        return http.post("/api/v1/orders", json=body(shop, quantity=quantity)).status_code

    statuses = run_at_once(live_server, BUYERS, buyer)
    assert set(statuses) <= {201, 409}
    sold, held = assert_stock_consistent(clean_database, shop.ticket_type_id)
    assert sold == 0
    # Whatever the interleaving, what is held fits, and no 1-seat request was refused
    # while a seat was left.
    assert CAPACITY - 2 <= held <= CAPACITY
    assert statuses.count(201) == count(clean_database, Order)


def test_buyers_race_for_seats_only_lapsed_holds_still_count(live_server, clean_database):
    # 12 of the 20 seats are held by orders whose hold ran out: the buyers who find the
    # free seats gone release those holds (once, whoever gets there) and take them.
    shop = make_shop(clean_database, capacity=CAPACITY)
    with httpx.Client(base_url=live_server) as http:
        lapsed = [
            http.post("/api/v1/orders", json=body(shop, quantity=3)).json()["data"]["id"]
            for _ in range(4)
        ]
    for order_id in lapsed:
        expire_hold(clean_database, order_id)

    def buyer(http: httpx.Client, index: int) -> int:
        return http.post("/api/v1/orders", json=body(shop, name=f"Buyer {index}")).status_code

    statuses = run_at_once(live_server, BUYERS, buyer)
    assert Counter(statuses) == {201: CAPACITY, 409: BUYERS - CAPACITY}
    assert assert_stock_consistent(clean_database, shop.ticket_type_id) == (0, CAPACITY)
    assert count(clean_database, Order, Order.status == OrderStatus.expired) == len(lapsed)
    assert count(clean_database, Order, Order.status == OrderStatus.pending) == CAPACITY


def test_negative_control_without_the_atomic_check_the_race_happens(
    unlocked_server, clean_database
):
    """If this fails, the tests above prove nothing: the harness would not be racing."""
    shop = make_shop(clean_database, capacity=CAPACITY)

    def buyer(http: httpx.Client, index: int) -> int:
        return http.post("/api/v1/orders", json=body(shop, name=f"Buyer {index}")).status_code

    statuses = run_at_once(unlocked_server.url, BUYERS, buyer)
    passed = unlocked_server.stock.checks_passed
    held_in_orders = seats_in_orders(clean_database, shop.ticket_type_id, OrderStatus.pending)

    assert set(statuses) <= {201, 409, 503}, statuses
    oversold = held_in_orders > CAPACITY
    if clean_database.is_sqlite:
        # SQLite's snapshot check refuses a writer whose read went stale (503 BUSY):
        # without BEGIN IMMEDIATE the overlapping requests collide, or oversell.
        assert oversold or statuses.count(503) > 0
    else:
        # More buyers than seats saw seats free at the same moment: the window is real.
        assert passed > CAPACITY
        # PostgreSQL: read, wait, write back a stale counter -> lost updates, oversold.
        assert oversold, f"{held_in_orders} seats held in orders for {CAPACITY}"
        assert statuses.count(201) > CAPACITY


def test_the_same_success_notification_at_once_issues_tickets_once(live_server, clean_database):
    shop = make_shop(clean_database, capacity=CAPACITY)
    with httpx.Client(base_url=live_server) as http:
        order = http.post("/api/v1/orders", json=body(shop, quantity=3)).json()["data"]
        payment = http.post(
            f"/api/v1/orders/{order['id']}/pay", headers={"X-Order-Token": order["access_token"]}
        ).json()["data"]

    def deliver(http: httpx.Client, index: int) -> str:
        response = http.post(
            f"/api/v1/payments/test/{payment['id']}/approve",
            headers={"X-Order-Token": order["access_token"]},
        )
        assert response.status_code == 200, response.text
        return response.json()["data"]["outcome"]

    outcomes = run_at_once(live_server, 10, deliver)
    assert Counter(outcomes) == {"paid": 1, "duplicate": 9}
    assert count(clean_database, Ticket) == 3
    assert assert_stock_consistent(clean_database, shop.ticket_type_id) == (3, 0)


def test_one_idempotency_key_sent_at_once_makes_one_order(live_server, clean_database):
    shop = make_shop(clean_database, capacity=CAPACITY)

    def retry(http: httpx.Client, index: int) -> tuple[int, str]:
        response = http.post(
            "/api/v1/orders",
            json=body(shop, quantity=2, name="Ada"),
            headers={"Idempotency-Key": "double-click"},
        )
        assert response.status_code in (200, 201), response.text
        return response.status_code, response.json()["data"]["id"]

    results = run_at_once(live_server, 10, retry)
    assert len({order_id for _, order_id in results}) == 1
    assert sorted(status for status, _ in results) == [200] * 9 + [201]
    assert count(clean_database, Order) == 1
    assert assert_stock_consistent(clean_database, shop.ticket_type_id) == (0, 2)


def test_late_payments_race_for_the_last_seats(live_server, clean_database):
    """Two expired holds paid at the same instant, seats for one of them: one paid, one
    refunded, never oversold."""
    shop = make_shop(clean_database, capacity=4)
    with httpx.Client(base_url=live_server) as http:
        made = []
        for name in ("Ada", "Bob"):
            order = http.post("/api/v1/orders", json=body(shop, quantity=2, name=name))
            order = order.json()["data"]
            payment = http.post(
                f"/api/v1/orders/{order['id']}/pay",
                headers={"X-Order-Token": order["access_token"]},
            ).json()["data"]
            made.append((order, payment))
        with clean_database.session() as session:
            session.execute(
                Order.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1))
            )
        # A third buyer takes two of the released seats.
        third = http.post("/api/v1/orders", json=body(shop, quantity=2, name="Cy"))
        assert third.status_code == 201

    def deliver(http: httpx.Client, index: int) -> str:
        order, payment = made[index]
        response = http.post(
            f"/api/v1/payments/test/{payment['id']}/approve",
            headers={"X-Order-Token": order["access_token"]},
        )
        assert response.status_code == 200, response.text
        return response.json()["data"]["outcome"]

    outcomes = run_at_once(live_server, 2, deliver)
    assert sorted(outcomes) == ["paid", "refunded"]
    assert assert_stock_consistent(clean_database, shop.ticket_type_id) == (2, 2)
    assert count(clean_database, Refund) == 1
    assert count(clean_database, Ticket) == 2


def test_cancel_and_payment_at_the_same_instant(live_server, clean_database):
    """Whichever wins, the counters match the orders and a refused payment is refunded."""
    shop = make_shop(clean_database, capacity=CAPACITY)
    pairs = []
    with httpx.Client(base_url=live_server) as http:
        for index in range(8):
            order = http.post("/api/v1/orders", json=body(shop, name=f"B{index}")).json()["data"]
            token = {"X-Order-Token": order["access_token"]}
            payment = http.post(f"/api/v1/orders/{order['id']}/pay", headers=token).json()
            pairs.append((order, token, payment["data"]["id"]))

    def act(http: httpx.Client, index: int) -> int:
        order, token, payment_id = pairs[index // 2]
        if index % 2:
            return http.post(f"/api/v1/orders/{order['id']}/cancel", headers=token).status_code
        return http.post(f"/api/v1/payments/test/{payment_id}/approve", headers=token).status_code

    statuses = run_at_once(live_server, 16, act)
    assert set(statuses) <= {200, 409}
    sold, held = assert_stock_consistent(clean_database, shop.ticket_type_id)
    assert held == 0
    with clean_database.session(write=False) as session:
        by_status = dict(
            session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
        )
        tickets = session.scalar(select(func.count()).select_from(Ticket))
    # Paid orders kept their seat and tickets; cancelled ones paid too late were refunded.
    assert sold == by_status.get(OrderStatus.paid, 0) == tickets
    assert by_status.get(OrderStatus.refunded, 0) == count(clean_database, Refund)
    assert sum(by_status.values()) == 8
    assert uuid.UUID(pairs[0][0]["id"])  # the ids were real


def test_the_same_refund_asked_for_at_once_refunds_once(live_server, clean_database):
    """Ten clicks on "refund" at the same instant: one refund, seats back once, tickets revoked."""
    with httpx.Client(base_url=live_server) as http:
        owner = register(http, full_name="Olive Owner", verify=False)
        shop = make_shop(clean_database, owner_id=owner["user"]["id"], capacity=CAPACITY)
        status, outcome = order_then_pay(http, shop, 0)
        assert (status, outcome) == (201, "paid")
    with clean_database.session(write=False) as session:
        order = str(session.scalars(select(Order.id)).one())
    refund_url = (
        f"/api/v1/organizations/{shop.org_slug}/events/{shop.event_id}/orders/{order}/refund"
    )

    def refund(http: httpx.Client, index: int) -> int:
        return http.post(refund_url, headers=owner["headers"]).status_code

    statuses = run_at_once(live_server, 10, refund)
    assert Counter(statuses) == {200: 1, 409: 9}
    assert count(clean_database, Refund) == 1
    assert assert_stock_consistent(clean_database, shop.ticket_type_id) == (0, 0)
    with clean_database.session(write=False) as session:
        assert session.scalars(select(Ticket.status)).all() == [TicketStatus.revoked]
        assert session.scalars(select(Order.status)).all() == [OrderStatus.refunded]


def test_payments_racing_the_event_cancellation_all_end_refunded(live_server, clean_database):
    """Approvals at the instant the event is cancelled: an order paid first is refunded by
    the cancellation's refund job, one cancelled first refunds its late payment. Either
    way no order stays paid and no seat stays sold or held."""
    with httpx.Client(base_url=live_server) as http:
        owner = register(http, verify=False)  # the shop is made directly: no address needed
        shop = make_shop(clean_database, owner_id=owner["user"]["id"], capacity=CAPACITY)
        payment_ids = []
        for index in range(8):
            order = http.post("/api/v1/orders", json=body(shop, name=f"B{index}")).json()["data"]
            token = {"X-Order-Token": order["access_token"]}
            payment = http.post(f"/api/v1/orders/{order['id']}/pay", headers=token).json()
            payment_ids.append((payment["data"]["id"], token))
    cancel = f"/api/v1/organizations/{shop.org_slug}/events/{shop.event_id}/cancel"

    def act(http: httpx.Client, index: int) -> int:
        if index == len(payment_ids):
            return http.post(cancel, headers=owner["headers"]).status_code
        # Spread over the cancellation's few milliseconds: some before, some after.
        time.sleep(index * 0.004)
        payment_id, token = payment_ids[index]
        return http.post(f"/api/v1/payments/test/{payment_id}/approve", headers=token).status_code

    statuses = run_at_once(live_server, len(payment_ids) + 1, act)
    assert statuses == [200] * (len(payment_ids) + 1)
    assert assert_stock_consistent(clean_database, shop.ticket_type_id) == (0, 0)
    with clean_database.session(write=False) as session:
        order_statuses = session.scalars(select(Order.status)).all()
        valid_tickets = session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.status == TicketStatus.valid)
        )
    assert order_statuses == [OrderStatus.refunded] * len(payment_ids)
    assert count(clean_database, Refund) == len(payment_ids)
    assert valid_tickets == 0
