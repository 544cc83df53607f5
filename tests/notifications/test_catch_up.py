"""A confirmation job lost between the commit and the queue (the process died, Redis
refused the message) is caught up by the periodic catch-up, once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from admitone.config import Settings
from admitone.db import Database, utcnow
from admitone.jobs import JobContext, current_runner, install_runner
from admitone.notifications.models import Delivery
from admitone.notifications.tasks import catch_up_confirmations
from admitone.orders.models import Order
from tests.factories import make_shop
from tests.notifications.conftest import Inbox, free_port
from tests.notifications.helpers import attachments
from tests.orders.helpers import buy


class RefusingQueue:
    """A runner whose broker refuses every message, as Redis does when it is down."""

    def __init__(self) -> None:
        self.refused: list[str] = []

    def submit(self, name: str, kwargs: dict[str, Any]) -> None:
        self.refused.append(name)
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    def close(self) -> None:
        pass


@pytest.fixture
def refusing_queue() -> Iterator[Callable[[], RefusingQueue]]:
    """Swap the app's runner for a refusing one; the app's own comes back afterwards."""
    restore: list[Any] = []

    def swap() -> RefusingQueue:
        queue = RefusingQueue()
        restore.append(install_runner(queue))
        return queue

    yield swap
    if restore:
        install_runner(restore[0])


def _paid_minutes_ago(database: Database, order_id: str, minutes: float) -> None:
    with database.session() as session:
        session.execute(
            update(Order)
            .where(Order.id == uuid.UUID(order_id))
            .values(paid_at=utcnow() - timedelta(minutes=minutes))
        )


def _confirmations(database: Database) -> list[uuid.UUID]:
    with database.session(write=False) as session:
        return list(
            session.scalars(select(Delivery.object_id).where(Delivery.kind == "order_confirmation"))
        )


def test_an_order_paid_while_the_queue_refused_gets_its_mail_from_the_catch_up(
    make_app: Callable[..., FastAPI],
    make_settings: Callable[..., Settings],
    clean_database: Database,
    smtp_server: tuple[Inbox, int],
    refusing_queue: Callable[[], RefusingQueue],
) -> None:
    inbox, port = smtp_server
    smtp = f"smtp://127.0.0.1:{port}"
    shop = make_shop(clean_database, capacity=10)
    with TestClient(make_app(smtp_url=smtp)) as client:
        queue = refusing_queue()
        lost = buy(client, shop, quantity=2)  # paid and committed; its job never queued
        too_old = buy(client, shop, quantity=1)
        refunded = buy(client, shop, quantity=1)
    assert queue.refused.count("notifications.send_order_confirmation") == 3
    assert inbox.messages == [] and _confirmations(clean_database) == []
    with clean_database.session() as session:
        session.execute(
            update(Order).where(Order.id == uuid.UUID(refunded["id"])).values(status="refunded")
        )
    _paid_minutes_ago(clean_database, too_old["id"], 4 * 24 * 60)  # beyond the window
    context = JobContext(settings=make_settings(smtp_url=smtp), database=clean_database)

    # Just paid: its own job may still be on its way (or retrying); not yet.
    assert catch_up_confirmations(context) == 0
    _paid_minutes_ago(clean_database, lost["id"], 11)
    assert catch_up_confirmations(context) == 1
    [message] = inbox.wait_for(1)
    assert message["To"] == "Ada Lovelace <ada@example.com>"
    assert message["Message-ID"].strip().startswith(f"<order_confirmation.{lost['id']}@")
    kinds = [kind for _name, kind, _data in attachments(message)]
    assert kinds.count("application/pdf") == 3  # two tickets and the receipt
    assert _confirmations(clean_database) == [uuid.UUID(lost["id"])]
    # The next runs (or a retried one) find the marker: nothing more.
    assert catch_up_confirmations(context) == 0
    assert len(inbox.messages) == 1


def test_the_embedded_app_runs_the_catch_up_by_itself(
    make_app: Callable[..., FastAPI],
    clean_database: Database,
    smtp_server: tuple[Inbox, int],
    refusing_queue: Callable[[], RefusingQueue],
) -> None:
    inbox, port = smtp_server
    shop = make_shop(clean_database, capacity=10)
    app = make_app(
        smtp_url=f"smtp://127.0.0.1:{port}",
        jobs_eager=False,  # the embedded default: a thread pool and the periodic loops
        confirmation_catch_up_interval_seconds=0.2,
    )
    with TestClient(app) as client:
        pool = current_runner()
        refusing_queue()
        order = buy(client, shop, quantity=1)
        install_runner(pool)  # the queue is back; the lost job is not
        _paid_minutes_ago(clean_database, order["id"], 11)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not _confirmations(clean_database):
            time.sleep(0.1)
        time.sleep(1)  # several more ticks: still one message
    assert _confirmations(clean_database) == [uuid.UUID(order["id"])]
    assert len(inbox.messages) == 1


class RefusingOneAddress(Inbox):
    """An SMTP server that knows no ``bounce@`` mailbox (550), like a dead address."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address.startswith("bounce@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_one_refused_address_does_not_hold_up_the_others(
    make_app: Callable[..., FastAPI],
    make_settings: Callable[..., Settings],
    clean_database: Database,
    refusing_queue: Callable[[], RefusingQueue],
) -> None:
    inbox = RefusingOneAddress()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = f"smtp://127.0.0.1:{port}"
        shop = make_shop(clean_database, capacity=10)
        with TestClient(make_app(smtp_url=smtp)) as client:
            refusing_queue()
            dead = buy(client, shop, quantity=1, buyer={"name": "B", "email": "bounce@example.com"})
            alive = buy(client, shop, quantity=1)
        _paid_minutes_ago(clean_database, dead["id"], 30)  # the oldest: tried first
        _paid_minutes_ago(clean_database, alive["id"], 20)
        context = JobContext(settings=make_settings(smtp_url=smtp), database=clean_database)
        assert catch_up_confirmations(context) == 1
        [message] = inbox.wait_for(1)
        assert message["To"] == "Ada Lovelace <ada@example.com>"
        assert _confirmations(clean_database) == [uuid.UUID(alive["id"])]
    finally:
        controller.stop()
