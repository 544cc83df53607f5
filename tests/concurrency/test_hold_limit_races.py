"""Issue 13: a scripted client cannot hold more than its bound, even all at once.

The bound's check is a sum then an insert: two orders of one client racing could each
see the other's seats missing. It runs under the ticket-type row locks that taking the
seats holds until COMMIT (SQLite: the write lock), so concurrent orders of the same
seats are counted one after the other. The negative control counts before any lock,
on a connection of its own (``tests.concurrency.unsafe.CountBeforeAnyLock`` in place of
``hold_limits.for_order``), and the same crowd then holds more than the bound.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from admitone.db import Database
from admitone.orders import hold_limits
from admitone.orders.models import Order, OrderItem, OrderStatus
from tests.concurrency.conftest import SERVER_SETTINGS, assert_stock_consistent, run_at_once, serve
from tests.concurrency.unsafe import CountBeforeAnyLock
from tests.factories import make_shop

pytestmark = pytest.mark.race

BOUND = 10
BOT_REQUESTS = 30  # the script: 30 orders at once, of up to 10 seats
BOT_EMAIL = "bot@example.com"
CAPACITY = 200
LIMITS = {
    **SERVER_SETTINGS,
    "max_held_seats_per_client": BOUND,
    "max_held_seats_per_address": 0,  # every thread shares 127.0.0.1: the e-mail bound only
}


def order(shop, *, quantity: int, email: str) -> dict[str, Any]:
    return {
        "event_id": str(shop.event_id),
        "items": [{"ticket_type_id": str(shop.ticket_type_id), "quantity": quantity}],
        "buyer": {"name": "Someone", "email": email},
    }


def seats_held_by(database: Database, email: str) -> int:
    with database.session(write=False) as session:
        return session.scalar(
            select(func.coalesce(func.sum(OrderItem.quantity), 0))
            .join(Order, Order.id == OrderItem.order_id)
            .where(Order.buyer_email == email, Order.status == OrderStatus.pending)
        )


def crowd(shop) -> Callable[[httpx.Client, int], tuple[str, int]]:
    """The bot's 30 orders of 2 seats and, among them, one real buyer's order."""

    def act(http: httpx.Client, index: int) -> tuple[str, int]:
        if index == BOT_REQUESTS:
            body = order(shop, quantity=2, email="real.buyer@example.com")
            return "buyer", http.post("/api/v1/orders", json=body).status_code
        body = order(shop, quantity=2, email=BOT_EMAIL)
        return "bot", http.post("/api/v1/orders", json=body).status_code

    return act


@pytest.fixture
def limited_server(make_app: Callable[..., FastAPI]) -> Iterator[str]:
    with serve(make_app(**LIMITS)) as url:
        yield url


def test_a_scripted_client_cannot_hold_more_than_the_bound(limited_server, clean_database):
    shop = make_shop(clean_database, capacity=CAPACITY)
    results = run_at_once(limited_server, BOT_REQUESTS + 1, crowd(shop))
    bot = Counter(status for who, status in results if who == "bot")
    assert bot == {201: BOUND // 2, 409: BOT_REQUESTS - BOUND // 2}, bot
    assert seats_held_by(clean_database, BOT_EMAIL) == BOUND
    assert ("buyer", 201) in results
    assert assert_stock_consistent(clean_database, shop.ticket_type_id) == (0, BOUND + 2)


@pytest.fixture
def unsafe_limit_server(
    make_app: Callable[..., FastAPI], clean_database: Database, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    count_first = CountBeforeAnyLock(clean_database, window_seconds=0.1)
    monkeypatch.setattr(hold_limits, "for_order", count_first.for_order)
    with serve(make_app(**LIMITS)) as url:
        yield url


def test_negative_control_a_count_outside_the_lock_lets_the_bot_through(
    unsafe_limit_server, clean_database
):
    """If this fails, the test above proves nothing: the harness would not be racing."""
    shop = make_shop(clean_database, capacity=CAPACITY)
    results = run_at_once(unsafe_limit_server, BOT_REQUESTS + 1, crowd(shop))
    assert {status for _who, status in results} <= {201, 409}, results
    held = seats_held_by(clean_database, BOT_EMAIL)
    assert held > BOUND, f"the bot holds {held} seats, the bound is {BOUND}"
    # Stock itself stays consistent: only the per-client bound was raced.
    assert_stock_consistent(clean_database, shop.ticket_type_id)
