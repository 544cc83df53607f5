"""Real concurrency: the app served by uvicorn in a thread, many clients at once.

Every request is a real HTTP request on its own connection, in its own database
transaction that really commits; nothing is rolled back between buyers, so a race
that can happen, does.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, select

from admitone.app import create_app
from admitone.config import Settings
from admitone.db import Database
from admitone.events import stock
from admitone.events.models import TicketType
from admitone.orders.models import Order, OrderItem, OrderStatus
from tests.concurrency.unsafe import NonAtomicStock

# The crowds of these tests come from one address, some with one e-mail: the hold limits
# per client are off here and have their own race test (test_hold_limit_races.py).
SERVER_SETTINGS = {
    "hold_sweep_enabled": False,
    "rate_limits_enabled": False,
    "max_held_seats_per_client": 0,
    "max_held_seats_per_address": 0,
}


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1 in a thread; yields its base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def live_server(make_app: Callable[..., FastAPI]) -> Iterator[str]:
    with serve(make_app(**SERVER_SETTINGS)) as url:
        yield url


class DeferredWritesDatabase(Database):
    """SQLite without ``BEGIN IMMEDIATE``: writers no longer take the lock up front.

    For the negative control only: on SQLite that write lock is what serialises
    stock moves, so it is switched off together with the atomic check.
    """

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        super().__init__(url, pool_size=pool_size)
        self._write = self._read


@dataclass
class UnlockedServer:
    url: str
    settings: Settings
    stock: NonAtomicStock  # the non-atomic stock check in place of stock.take_seats


@pytest.fixture
def unlocked_server(
    make_settings: Callable[..., Settings],
    clean_database: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[UnlockedServer]:
    """The app with every defence against the race switched off (the negative control):
    served in a thread of this process, it takes seats with ``NonAtomicStock`` for the
    length of the test."""
    settings = make_settings(**SERVER_SETTINGS)
    database = clean_database
    deferred = None
    if clean_database.is_sqlite:
        deferred = database = DeferredWritesDatabase(database_url, pool_size=20)
    non_atomic = NonAtomicStock(window_seconds=0.05)
    monkeypatch.setattr(stock, "take_seats", non_atomic.take_seats)
    try:
        with serve(create_app(settings, database=database)) as url:
            yield UnlockedServer(url=url, settings=settings, stock=non_atomic)
    finally:
        if deferred is not None:
            deferred.dispose()


def run_at_once(url: str, count: int, work: Callable[[httpx.Client, int], Any]) -> list[Any]:
    """Run ``work(client, index)`` in ``count`` threads released together; their results.

    Each thread has its own HTTP connection. An exception in any thread fails the test.
    """
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            with httpx.Client(base_url=url, timeout=60) as client:
                client.get("/healthz")  # connect before the start line
                barrier.wait(timeout=30)
                results[index] = work(client, index)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    assert not any(thread.is_alive() for thread in threads), "a client hung"
    return results


def seats_in_orders(database: Database, ticket_type_id: uuid.UUID, status: OrderStatus) -> int:
    with database.session(write=False) as session:
        return (
            session.scalar(
                select(func.coalesce(func.sum(OrderItem.quantity), 0))
                .join(Order, Order.id == OrderItem.order_id)
                .where(OrderItem.ticket_type_id == ticket_type_id, Order.status == status)
            )
            or 0
        )


def assert_stock_consistent(database: Database, ticket_type_id: uuid.UUID) -> tuple[int, int]:
    """The counters equal what the orders say, and never exceed the capacity: (sold, held)."""
    with database.session(write=False) as session:
        capacity, sold, held = session.execute(
            select(TicketType.capacity, TicketType.quantity_sold, TicketType.quantity_held).where(
                TicketType.id == ticket_type_id
            )
        ).one()
    assert sold == seats_in_orders(database, ticket_type_id, OrderStatus.paid)
    assert held == seats_in_orders(database, ticket_type_id, OrderStatus.pending)
    assert 0 <= sold + held <= capacity
    return sold, held
