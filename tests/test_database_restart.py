"""Fault test: PostgreSQL restarts in the middle of a sale on a real 2-worker server.

Every request the database could not serve is a 503 with Retry-After (never a 500),
nothing is oversold or lost, and the server serves again once the database is back,
without being restarted. The database is a private PostgreSQL instance started for
this test (initdb into a temporary directory, its own port): the machine's shared
cluster is never restarted.

PostgreSQL pass only (ADMITONE_TEST_DATABASE=postgresql).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from admitone.migrate import upgrade_database
from tests.conftest import BACKEND
from tests.serving import free_port, serving

pytestmark = [
    pytest.mark.timeout_sensitive,
    pytest.mark.skipif(BACKEND != "postgresql", reason="a PostgreSQL server restart"),
]

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
BUYERS = 6
SALE_BEFORE_RESTART_SECONDS = 3
SALE_AFTER_RESTART_SECONDS = 6


class PrivatePostgres:
    """A throw-away PostgreSQL server: its own data directory, port and socket."""

    def __init__(self) -> None:
        self.bin = Path(PG_BIN[-1])
        self.root = Path(tempfile.mkdtemp(prefix="admitone-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        # PostgreSQL refuses to run as root: as root, run it as the postgres user.
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_owner:
            shutil.chown(self.root, user="postgres", group="postgres")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}"

    def _pg(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            [*self.as_owner, *args], check=True, capture_output=True, timeout=timeout, cwd="/"
        )

    def init(self) -> None:
        self._pg(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=100"
        )
        self._pg(
            str(self.bin / "pg_ctl"),
            action,
            "-D",
            str(self.data),
            "-l",
            str(self.root / "postgres.log"),
            "-o",
            options,
            "-w",
            *extra,
        )

    def start(self) -> None:
        self._pg_ctl("start")

    def restart(self) -> None:
        # "fast": the sessions in flight are cut (AdminShutdown), as in a real restart.
        self._pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "immediate")

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    if not PG_BIN:
        pytest.skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
    server = PrivatePostgres()
    try:
        server.init()
        server.start()
        yield server
    finally:
        try:
            server.stop()
        finally:
            server.remove()


@dataclass
class Answer:
    step: str
    status: int
    code: str | None
    retry_after: str | None
    sent_at: float


class Sale:
    """Buyers that create, pay and approve orders one seat at a time, and every answer."""

    def __init__(self, base: str, event_id: str, ticket_type_id: str) -> None:
        self.base = base
        self.event_id = event_id
        self.ticket_type_id = ticket_type_id
        self.answers: list[Answer] = []
        self.transport_errors: list[str] = []
        self.paid: list[tuple[str, float]] = []  # (order id, when its creation was sent)
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def _call(
        self, client: httpx.Client, step: str, url: str, **kwargs: object
    ) -> httpx.Response | None:
        sent_at = time.monotonic()
        try:
            response = client.post(url, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError as exc:
            with self.lock:
                self.transport_errors.append(f"{step}: {exc!r}")
            return None
        code = None
        if response.status_code >= 400:
            code = response.json()["error"]["code"]
        with self.lock:
            self.answers.append(
                Answer(
                    step, response.status_code, code, response.headers.get("retry-after"), sent_at
                )
            )
        return response

    def buyer(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while not self.stop.is_set():
                started = time.monotonic()
                created = self._call(
                    client,
                    "create",
                    "/api/v1/orders",
                    json={
                        "event_id": self.event_id,
                        "items": [{"ticket_type_id": self.ticket_type_id, "quantity": 1}],
                        "buyer": {"name": "Fault Buyer", "email": "buyer@example.com"},
                    },
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )
                if created is None or created.status_code != 201:
                    time.sleep(0.05)
                    continue
                order_id = created.json()["data"]["id"]
                token = created.json()["data"]["access_token"]
                paying = self._call(
                    client,
                    "pay",
                    f"/api/v1/orders/{order_id}/pay",
                    headers={"X-Order-Token": token},
                )
                if paying is None or paying.status_code not in (200, 201):
                    continue
                payment_id = paying.json()["data"]["id"]
                approved = self._call(
                    client,
                    "approve",
                    f"/api/v1/payments/test/{payment_id}/approve",
                    headers={"X-Order-Token": token},
                )
                if (
                    approved is not None
                    and approved.status_code == 200
                    and approved.json()["data"]["outcome"] == "paid"
                ):
                    with self.lock:
                        self.paid.append((order_id, started))


def _set_up_event(base: str, database_url: str) -> tuple[str, str]:
    with httpx.Client(base_url=f"{base}/api/v1", timeout=30) as api:
        email = f"organizer-{uuid.uuid4().hex[:8]}@example.com"
        registered = api.post(
            "/auth/register", json={"email": email, "password": "correct-horse-battery"}
        )
        assert registered.status_code == 201, registered.text
        # An organization needs a verified address; the link went to the outbox.
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute(
                "UPDATE users SET email_verified_at = created_at WHERE email = %s", (email,)
            )
        headers = {"Authorization": f"Bearer {registered.json()['data']['tokens']['access_token']}"}
        slug = f"fault-{uuid.uuid4().hex[:8]}"
        assert (
            api.post(
                "/organizations", json={"name": "Fault", "slug": slug}, headers=headers
            ).status_code
            == 201
        )
        starts = datetime.now(UTC) + timedelta(days=30)
        event = api.post(
            f"/organizations/{slug}/events",
            headers=headers,
            json={
                "title": "Restart sale",
                "category": "concert",
                "currency": "EUR",
                "timezone": "Europe/Paris",
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=3)).isoformat(),
                "venue": {
                    "name": "Arena",
                    "address": "1 rue du Test",
                    "city": "Paris",
                    "country": "FR",
                },
            },
        )
        assert event.status_code == 201, event.text
        event_id = event.json()["data"]["id"]
        ticket_type = api.post(
            f"/organizations/{slug}/events/{event_id}/ticket-types",
            headers=headers,
            json={
                "name": "Standing",
                "price_minor": 4500,
                "capacity": 100_000,
                "max_per_order": 10,
            },
        )
        assert ticket_type.status_code == 201, ticket_type.text
        published = api.post(f"/organizations/{slug}/events/{event_id}/publish", headers=headers)
        assert published.status_code == 200, published.text
        return event_id, ticket_type.json()["data"]["id"]


def _stock(database_url: str, ticket_type_id: str) -> dict[str, int]:
    with psycopg.connect(database_url) as connection:
        sold, held = connection.execute(
            "SELECT quantity_sold, quantity_held FROM ticket_types WHERE id = %s", (ticket_type_id,)
        ).fetchone()
        by_status = dict(
            connection.execute(
                "SELECT o.status, COALESCE(SUM(i.quantity), 0) FROM orders o "
                "JOIN order_items i ON i.order_id = o.id WHERE i.ticket_type_id = %s "
                "GROUP BY o.status",
                (ticket_type_id,),
            ).fetchall()
        )
        tickets = connection.execute(
            "SELECT COUNT(*) FROM tickets WHERE ticket_type_id = %s", (ticket_type_id,)
        ).fetchone()[0]
        paid_without_tickets = connection.execute(
            "SELECT COUNT(*) FROM orders o JOIN order_items i ON i.order_id = o.id "
            "WHERE i.ticket_type_id = %s AND o.status = 'paid' AND "
            "(SELECT COUNT(*) FROM tickets t WHERE t.order_item_id = i.id) <> i.quantity",
            (ticket_type_id,),
        ).fetchone()[0]
    return {
        "sold": sold,
        "held": held,
        "paid": int(by_status.get("paid", 0)),
        "pending": int(by_status.get("pending", 0)),
        "tickets": tickets,
        "paid_without_tickets": paid_without_tickets,
    }


def _paid_in_database(database_url: str, order_ids: list[str]) -> int:
    with psycopg.connect(database_url) as connection:
        return connection.execute(
            "SELECT COUNT(*) FROM orders WHERE status = 'paid' AND id = ANY(%s)",
            ([uuid.UUID(order_id) for order_id in order_ids],),
        ).fetchone()[0]


def test_a_database_restart_mid_sale_answers_503_and_recovers(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    with psycopg.connect(f"{private_postgres.url}/postgres", autocommit=True) as admin:
        admin.execute("CREATE DATABASE admitone")
    database_url = f"{private_postgres.url}/admitone"
    upgrade_database(f"postgresql+psycopg://postgres@127.0.0.1:{private_postgres.port}/admitone")

    with serving(
        tmp_path,
        "--workers",
        "2",
        ADMITONE_DATABASE_URL=database_url,
        ADMITONE_PIN_WORKERS="false",
        ADMITONE_JOBS_EAGER="false",  # jobs in their own threads, as in production
        ADMITONE_RATE_LIMITS_ENABLED="false",
        # One scripted buyer address and e-mail: the hold limits would refuse its orders.
        ADMITONE_MAX_HELD_SEATS_PER_CLIENT="0",
        ADMITONE_MAX_HELD_SEATS_PER_ADDRESS="0",
        ADMITONE_WORKER_THREADS="4",
        ADMITONE_DATABASE_POOL_SIZE="4",
    ) as (_, base):
        event_id, ticket_type_id = _set_up_event(base, database_url)
        sale = Sale(base, event_id, ticket_type_id)
        buyers = [threading.Thread(target=sale.buyer) for _ in range(BUYERS)]
        for thread in buyers:
            thread.start()
        try:
            time.sleep(SALE_BEFORE_RESTART_SECONDS)
            restart_began = time.monotonic()
            private_postgres.restart()
            restarted = time.monotonic()
            time.sleep(SALE_AFTER_RESTART_SECONDS)
        finally:
            sale.stop.set()
            for thread in buyers:
                thread.join(timeout=60)
        # The server was never restarted: a fresh request works at once.
        assert httpx.get(f"{base}/readyz", timeout=10).status_code == 200

    failures = [answer for answer in sale.answers if answer.status >= 500]
    summary = sorted({(a.step, a.status, a.code) for a in failures})
    print(f"{len(sale.answers)} answers, {len(failures)} failures {summary}, {len(sale.paid)} paid")
    assert sale.transport_errors == []
    # The restart was felt (otherwise this test proves nothing) ...
    assert failures, "no request failed: the restart went unnoticed"
    # ... and every failure reads right: retry later, not a bug.
    assert all(a.status == 503 and a.code == "SERVICE_UNAVAILABLE" for a in failures), summary
    assert all(a.retry_after == "2" for a in failures)
    assert all(a.sent_at >= restart_began - 1 for a in failures)  # none before it
    # Nothing else went wrong: the 4xx a sale gives and nothing more.
    other = {(a.step, a.status, a.code) for a in sale.answers if 400 <= a.status < 500}
    assert other == set(), other
    # It recovered: orders started after the restart were paid.
    assert any(started > restarted for _, started in sale.paid)

    stock = _stock(database_url, ticket_type_id)
    assert stock["sold"] == stock["paid"] == stock["tickets"], stock  # nothing oversold
    assert stock["held"] == stock["pending"], stock  # no hold leaked or lost
    assert stock["paid_without_tickets"] == 0, stock
    # Every order the buyers saw paid is paid (a 503 may hide a success, never the reverse).
    assert _paid_in_database(database_url, [order for order, _ in sale.paid]) == len(sale.paid)
    assert stock["paid"] >= len(sale.paid)
