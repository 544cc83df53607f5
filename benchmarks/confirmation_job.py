"""The CPU of one order-confirmation job: ticket PDFs, receipt, .ics, the mail over SMTP.

Paid orders of one and of two tickets are made through the API (their jobs recorded, not
run); then ``notifications.send_order_confirmation`` runs for each, in this thread, as a
worker runs it, sending to a local aiosmtpd server. Printed: milliseconds of CPU per
order (median and mean) for each size. The SMTP server runs in a thread of its own and
the CPU is this thread's (``time.thread_time``), so the server's share is left out.

    python benchmarks/confirmation_job.py                     # SQLite, 100 orders a size
    python benchmarks/confirmation_job.py --database postgresql --orders 200
    python benchmarks/confirmation_job.py --profile job.prof   # cProfile of the jobs
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from datetime import timedelta
from pathlib import Path
from typing import Any

POSTGRES_SERVER = os.environ.get("ADMITONE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
WARM_UP_ORDERS = 3  # the first jobs import modules and load fonts and templates


class CountingInbox:
    """aiosmtpd handler: counts the messages (and their bytes) it accepts."""

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        self.bytes += len(envelope.content)
        return "250 Message accepted"


class RecordingRunner:
    """Keeps the jobs the API asks for instead of running them."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, dict[str, Any]]] = []

    def submit(self, name: str, kwargs: dict[str, Any]) -> Future[None] | None:
        self.jobs.append((name, kwargs))
        return None

    def wait_idle(self, timeout: float = 30) -> bool:
        return True

    def close(self) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url(choice: str, workdir: Path) -> tuple[str, Callable[[], None]]:
    if choice == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", lambda: None
    import psycopg

    name = f"admitone_confirm_bench_{os.getpid()}"
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"postgresql+psycopg://{POSTGRES_SERVER.split('://', 1)[1]}/{name}", drop


def _shop(database: Any, capacity: int) -> tuple[uuid.UUID, uuid.UUID]:
    """A verified organization, a published event in Paris, one ticket type at 45 EUR."""
    from admitone.db import utcnow
    from admitone.events.models import Category, Event, EventStatus, TicketType
    from admitone.organizations.models import Organization

    with database.session() as session:
        organization = Organization(name="Bench", slug="bench", verified_at=utcnow())
        session.add(organization)
        session.flush()
        starts_at = utcnow() + timedelta(days=30)
        event = Event(
            organization_id=organization.id,
            slug="bench-concert",
            title="Moonlight Jazz",
            category=Category.concert,
            venue_name="Le Caveau",
            venue_address="12 rue de la Huchette",
            city="Paris",
            country="FR",
            timezone="Europe/Paris",
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=3),
            currency="EUR",
            status=EventStatus.published,
            published_at=utcnow(),
        )
        session.add(event)
        session.flush()
        ticket_type = TicketType(
            event_id=event.id, name="Standing", price_minor=4500, capacity=capacity, vat_rate_bp=550
        )
        session.add(ticket_type)
        session.flush()
        return event.id, ticket_type.id


def _paid_orders(
    client: Any, event_id: uuid.UUID, ticket_type_id: uuid.UUID, *, count: int, quantity: int
) -> None:
    for number in range(count):
        response = client.post(
            "/api/v1/orders",
            json={
                "event_id": str(event_id),
                "items": [{"ticket_type_id": str(ticket_type_id), "quantity": quantity}],
                "buyer": {"name": "Ada Lovelace", "email": f"ada{number}@example.com"},
            },
        )
        assert response.status_code == 201, response.text
        order = response.json()["data"]
        headers = {"X-Order-Token": order["access_token"]}
        response = client.post(f"/api/v1/orders/{order['id']}/pay", headers=headers)
        assert response.status_code == 201, response.text
        response = client.post(
            f"/api/v1/payments/test/{response.json()['data']['id']}/approve", headers=headers
        )
        assert response.json()["data"]["outcome"] == "paid", response.text


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--orders", type=int, default=100, help="orders of each size")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the jobs here")
    args = parser.parse_args()

    from aiosmtpd.controller import Controller
    from fastapi.testclient import TestClient

    from admitone.app import create_app
    from admitone.config import Settings
    from admitone.db import Database
    from admitone.jobs import JobContext, install_runner
    from admitone.migrate import upgrade_database
    from admitone.notifications.tasks import send_order_confirmation

    inbox = CountingInbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        database_url, drop = _database_url(args.database, workdir)
        try:
            upgrade_database(database_url)
            settings = Settings(
                _env_file=None,
                database_url=database_url,
                media_dir=workdir / "media",
                outbox_dir=workdir / "outbox",
                smtp_url=f"smtp://127.0.0.1:{port}",
                mail_from="Admit One <tickets@example.org>",
                migrate_on_start=False,
                rate_limits_enabled=False,
                max_held_seats_per_address=0,
                log_level="WARNING",
                log_json=True,
                hold_sweep_enabled=False,
            )
            database = Database(database_url, pool_size=5)
            sizes = (1, 2)
            event_id, ticket_type_id = _shop(
                database, capacity=sum(sizes) * (args.orders + WARM_UP_ORDERS)
            )
            recorded: dict[int, list[str]] = {}
            with TestClient(create_app(settings, database=database)) as client:
                for quantity in sizes:
                    runner = RecordingRunner()
                    previous = install_runner(runner)
                    try:
                        _paid_orders(
                            client,
                            event_id,
                            ticket_type_id,
                            count=args.orders + WARM_UP_ORDERS,
                            quantity=quantity,
                        )
                    finally:
                        install_runner(previous)
                    recorded[quantity] = [
                        kwargs["order_id"]
                        for name, kwargs in runner.jobs
                        if name == "notifications.send_order_confirmation"
                    ]
            context = JobContext(settings=settings, database=database)
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
            print(f"order confirmation job, {args.database}, {args.orders} orders of each size")
            for quantity, order_ids in recorded.items():
                cpu: list[float] = []
                for index, order_id in enumerate(order_ids):
                    if profiler is not None and index >= WARM_UP_ORDERS:
                        profiler.enable()
                    started = time.thread_time()
                    sent = send_order_confirmation(context, order_id=order_id)
                    spent = time.thread_time() - started
                    if profiler is not None:
                        profiler.disable()
                    assert sent, f"the confirmation of {order_id} was not sent"
                    if index >= WARM_UP_ORDERS:
                        cpu.append(spent * 1000)
                print(
                    f"  {quantity} ticket(s): median {statistics.median(cpu):.2f} ms, "
                    f"mean {statistics.fmean(cpu):.2f} ms of CPU per order "
                    f"(min {min(cpu):.2f}, max {max(cpu):.2f}, n={len(cpu)})"
                )
            deadline = time.monotonic() + 10
            expected = sum(len(ids) for ids in recorded.values())
            while inbox.messages < expected and time.monotonic() < deadline:
                time.sleep(0.05)
            print(
                f"  messages received     {inbox.messages} of {expected}, {inbox.bytes / max(1, inbox.messages) / 1024:.0f} KiB each"
            )
            if profiler is not None:
                profiler.dump_stats(str(args.profile))
                print(f"  profile written to {args.profile}")
            database.dispose()
        finally:
            drop()
            controller.stop()
    return 0 if inbox.messages == expected else 1


if __name__ == "__main__":
    sys.exit(main())
