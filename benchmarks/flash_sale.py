"""Flash-sale benchmark: N concurrent buyers against one ticket type until it sells out.

Each buyer loops: create an order (1 seat), start paying it, approve the payment with the
test provider. When the stock is gone, every issued ticket is scanned once at the gate.
Printed: paid orders per second, scans per second, p50/p95/p99 latencies per step, and
the oversell count (tickets sold beyond capacity, which must be 0).

    python benchmarks/flash_sale.py                          # starts the app on SQLite
    python benchmarks/flash_sale.py --database postgresql --workers 2 --threads 4 \\
        --redis-url redis://127.0.0.1:6379/9
    python benchmarks/flash_sale.py --url http://127.0.0.1:8000   # an app already running
    python benchmarks/flash_sale.py --database postgresql --workers 2 --threads 4 \\
        --redis-url redis://127.0.0.1:6379/9 --with-worker

``--with-worker`` runs the production shape whole: ``admitone worker`` beside the app,
taking the jobs from Redis, its mail going to an SMTP server the benchmark starts
(aiosmtpd). After the sale it waits until every paid order's confirmation has arrived,
then prints the CPU seconds per paid order of the app's processes (over the sale) and
of the worker's (from the sale's start to the last confirmation), read from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from json import dumps, loads
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

POSTGRES_SERVER = os.environ.get("ADMITONE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
PASSWORD = "benchmark-password-42"
ORGANIZER = "organizer@bench.example.com"


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def record(self, step: str, seconds: float) -> None:
        self.latencies[step].append(seconds)


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


class HttpConnection:
    """One keep-alive HTTP/1.1 connection to the app under test.

    The load generator shares the machine with the app, so its own CPU is taken from
    the app's: aiohttp spent about 0.4 ms of CPU per request here (a tenth of the
    machine during a sale), this client a fraction of that. It speaks just what the
    benchmark needs: a request with an optional JSON body, an answer with a
    Content-Length, kept alive.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        elif method != "GET":
            lines.append("Content-Length: 0")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        fields = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if "content-length" not in fields:  # the app answers JSON with a length
            raise RuntimeError(f"{method} {target}: an answer without a length")
        content = await self.reader.readexactly(int(fields["content-length"]))
        if fields.get("connection", "").lower() == "close":
            self.writer.close()
        return status, content

    def close(self) -> None:
        """Close the connection; a later request opens a new one."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Api:
    """The app's API for one simulated client (its own connection), timing each call."""

    def __init__(self, base: str, stats: Stats) -> None:
        address = urlsplit(base)
        self.connection = HttpConnection(address.hostname or "127.0.0.1", address.port or 80)
        self.prefix = address.path.rstrip("/") + "/api/v1"
        self.stats = stats

    async def call(
        self,
        step: str,
        method: str,
        path: str,
        *,
        expect: tuple[int, ...] = (200, 201),
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        started = time.perf_counter()
        body = None if json is None else dumps(json).encode()
        status, content = await self.connection.request(
            method, self.prefix + path, body, headers or {}
        )
        answer = loads(content) if content else {}
        self.stats.record(step, time.perf_counter() - started)
        if status not in expect:
            self.stats.errors[f"{step}:{status}:{(answer or {}).get('error', {}).get('code')}"] += 1
        return status, answer

    def close(self) -> None:
        self.connection.close()


async def set_up_event(api: Api, capacity: int) -> tuple[str, str, str]:
    """The organizer's organization, a published event with one ticket type."""
    _, body = await api.call(
        "setup", "POST", "/auth/login", json={"email": ORGANIZER, "password": PASSWORD}
    )
    headers = {"Authorization": f"Bearer {body['data']['tokens']['access_token']}"}
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    await api.call(
        "setup", "POST", "/organizations", json={"name": "Bench", "slug": slug}, headers=headers
    )
    starts = datetime.now(UTC) + timedelta(days=30)
    _, event = await api.call(
        "setup",
        "POST",
        f"/organizations/{slug}/events",
        headers=headers,
        json={
            "title": "Flash sale",
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
    event_id = event["data"]["id"]
    _, ticket_type = await api.call(
        "setup",
        "POST",
        f"/organizations/{slug}/events/{event_id}/ticket-types",
        headers=headers,
        json={"name": "Standing", "price_minor": 4500, "capacity": capacity, "max_per_order": 10},
    )
    status, _ = await api.call(
        "setup", "POST", f"/organizations/{slug}/events/{event_id}/publish", headers=headers
    )
    if status != 200:
        raise SystemExit(f"could not publish the event (HTTP {status})")
    return event_id, ticket_type["data"]["id"], headers["Authorization"]


async def buyer(
    api: Api,
    event_id: str,
    ticket_type_id: str,
    paid: list[tuple[str, str]],
    sold_out: asyncio.Event,
    number: int,
) -> None:
    """Buy one seat at a time until the ticket type is sold out (buyer ``number``: an
    e-mail address of its own, as the seats one buyer may hold are bounded)."""
    while not sold_out.is_set():
        started = time.perf_counter()
        status, body = await api.call(
            "create_order",
            "POST",
            "/orders",
            expect=(201, 409),
            json={
                "event_id": event_id,
                "items": [{"ticket_type_id": ticket_type_id, "quantity": 1}],
                "buyer": {"name": "Bench Buyer", "email": f"buyer{number}@example.com"},
            },
        )
        if status == 409 and body["error"]["code"] == "SOLD_OUT":
            sold_out.set()
            return
        if status != 201:
            continue
        order_id, token = body["data"]["id"], body["data"]["access_token"]
        status, body = await api.call(
            "pay", "POST", f"/orders/{order_id}/pay", headers={"X-Order-Token": token}
        )
        if status not in (200, 201):
            continue
        status, body = await api.call(
            "approve",
            "POST",
            f"/payments/test/{body['data']['id']}/approve",
            headers={"X-Order-Token": token},
        )
        if status == 200 and body["data"]["outcome"] == "paid":
            paid.append((order_id, token))
            api.stats.record("paid_order_total", time.perf_counter() - started)


async def fetch_payloads(clients: list[Api], orders: list[tuple[str, str]]) -> list[str]:
    payloads: list[str] = []
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for order in orders:
        queue.put_nowait(order)

    async def worker(api: Api) -> None:
        while not queue.empty():
            order_id, token = queue.get_nowait()
            _, body = await api.call(
                "fetch_tickets",
                "GET",
                f"/orders/{order_id}/tickets",
                headers={"X-Order-Token": token},
            )
            payloads.extend(ticket["qr_payload"] for ticket in body["data"])

    await asyncio.gather(*(worker(api) for api in clients))
    return payloads


async def scanner(
    api: Api,
    event_id: str,
    authorization: str,
    queue: asyncio.Queue[str],
    results: dict[str, int],
    gate: str,
) -> None:
    while not queue.empty():
        payload = queue.get_nowait()
        _, body = await api.call(
            "scan",
            "POST",
            f"/events/{event_id}/checkins",
            json={"qr": payload, "gate": gate},
            headers={"Authorization": authorization},
        )
        results[body.get("data", {}).get("result", "error")] += 1


def report_latencies(stats: Stats) -> None:
    print(f"  {'step':<18}{'count':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for step, values in stats.latencies.items():
        if step == "setup":
            continue
        print(
            f"  {step:<18}{len(values):>8}"
            + "".join(f"{percentile(values, p) * 1000:>10.1f}" for p in (50, 95, 99))
            + f"{max(values) * 1000:>10.1f}"
        )


class ProcessTreeCpu:
    """The CPU time (user + system) of a process and its descendants, from /proc.

    A descendant that has exited and was reaped counts through its parent's cutime and
    cstime; ``seconds()`` is meant for differences between two readings.
    """

    TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, pid: int) -> None:
        self.pid = pid

    @staticmethod
    def _stat(pid: int) -> tuple[int, int] | None:
        """(parent pid, utime + stime + cutime + cstime in ticks) of ``pid``."""
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
        return int(fields[1]), sum(int(value) for value in fields[11:15])

    def pids(self) -> list[int]:
        parents: dict[int, list[int]] = defaultdict(list)
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and (stat := self._stat(int(entry.name))) is not None:
                parents[stat[0]].append(int(entry.name))
        tree, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(parents.get(pid, ()))
        return tree

    def seconds(self) -> float:
        ticks = 0
        for pid in self.pids():
            stat = self._stat(pid)
            ticks += stat[1] if stat is not None else 0
        return ticks / self.TICK


@dataclass
class WorkerCheck:
    """What ``--with-worker`` measures: the app's and the worker's process trees, and
    the SMTP server's count of confirmations."""

    app: ProcessTreeCpu
    worker: ProcessTreeCpu
    received: Callable[[], int]
    log: Path | None = None
    timeout: float = 300


async def run(
    base_url: str, *, buyers: int, capacity: int, worker_check: WorkerCheck | None = None
) -> int:
    stats = Stats()
    # One connection per simulated client, kept alive, as browsers and scanners do.
    clients = [Api(base_url, stats) for _ in range(buyers)]
    api = clients[0]
    try:
        event_id, ticket_type_id, authorization = await set_up_event(api, capacity)

        paid: list[tuple[str, str]] = []
        sold_out = asyncio.Event()
        if worker_check is not None:
            cpu_before = (worker_check.app.seconds(), worker_check.worker.seconds())
            mails_before = worker_check.received()
        started = time.perf_counter()
        await asyncio.gather(
            *(
                buyer(client, event_id, ticket_type_id, paid, sold_out, number)
                for number, client in enumerate(clients)
            )
        )
        sale_seconds = time.perf_counter() - started
        if worker_check is not None:
            app_cpu = worker_check.app.seconds() - cpu_before[0]
            # The worker catches up after the sale: wait for every confirmation (the
            # scans then run without it, as they do without --with-worker).
            deadline = time.monotonic() + worker_check.timeout
            while worker_check.received() - mails_before < len(paid):
                if time.monotonic() > deadline:
                    if worker_check.log is not None and worker_check.log.exists():
                        print(worker_check.log.read_text()[-3000:])
                    raise SystemExit(
                        f"only {worker_check.received() - mails_before} of {len(paid)} "
                        "confirmations arrived"
                    )
                await asyncio.sleep(0.05)
            mails_seconds = time.perf_counter() - started
            worker_cpu = worker_check.worker.seconds() - cpu_before[1]
            for client in clients:  # the server has closed them, idle for so long
                client.close()

        payloads = await fetch_payloads(clients, paid)
        queue: asyncio.Queue[str] = asyncio.Queue()
        for payload in payloads:
            queue.put_nowait(payload)
        scan_results: dict[str, int] = defaultdict(int)
        started = time.perf_counter()
        await asyncio.gather(
            *(
                scanner(client, event_id, authorization, queue, scan_results, f"gate-{i % 8}")
                for i, client in enumerate(clients)
            )
        )
        scan_seconds = time.perf_counter() - started

        _, event = await api.call("verify", "GET", f"/events/{event_id}")
        available = event["data"]["ticket_types"][0]["available"]
        _, checkin_stats = await api.call(
            "verify",
            "GET",
            f"/events/{event_id}/checkins/stats",
            headers={"Authorization": authorization},
        )
    finally:
        for client in clients:
            client.close()

    sold = len(payloads)
    oversold = max(0, sold - capacity)
    print(f"\nFlash sale against {base_url}: {buyers} concurrent buyers, capacity {capacity}")
    print(
        f"  paid orders           {len(paid)} in {sale_seconds:.2f} s  ->  {len(paid) / sale_seconds:.1f} paid orders/s"
    )
    print(
        f"  scans                 {sum(scan_results.values())} in {scan_seconds:.2f} s  ->  {sum(scan_results.values()) / scan_seconds:.1f} scans/s"
    )
    print(f"  scan results          {dict(scan_results)}")
    print(f"  tickets issued        {sold} (capacity {capacity}); availability now {available}")
    print(
        f"  check-in stats        admitted {checkin_stats['data']['admitted']} of {checkin_stats['data']['total']}"
    )
    print(f"  OVERSOLD              {oversold}")
    if worker_check is not None:
        print(
            f"  confirmations         {len(paid)} received {mails_seconds:.2f} s after the sale "
            f"began ({mails_seconds - sale_seconds:.2f} s after it ended)"
        )
        print(
            f"  CPU per paid order    app {app_cpu / len(paid) * 1000:.2f} ms (over the sale), "
            f"worker {worker_cpu / len(paid) * 1000:.2f} ms (to the last confirmation)"
        )
    all_requests = [
        v
        for step, values in stats.latencies.items()
        if step not in ("setup", "paid_order_total")
        for v in values
    ]
    print(
        f"  all requests          p50 {percentile(all_requests, 50) * 1000:.1f} ms, p95 {percentile(all_requests, 95) * 1000:.1f} ms, p99 {percentile(all_requests, 99) * 1000:.1f} ms"
    )
    report_latencies(stats)
    if stats.errors:
        print(f"  unexpected answers    {dict(stats.errors)}")
    consistent = (
        oversold == 0
        and available == 0
        and scan_results.get("admitted", 0) == sold
        and sold == capacity
    )
    print(f"  consistent            {'yes' if consistent else 'NO'}")
    return 0 if consistent else 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url(choice: str, workdir: Path) -> tuple[str, str | None]:
    if choice == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", None
    if choice == "postgresql":
        import psycopg

        name = f"admitone_bench_{os.getpid()}"
        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://{POSTGRES_SERVER.split('://', 1)[1]}/{name}", name
    return choice, None


def _environment(
    database_url: str, threads: int, workdir: Path, redis_url: str | None, smtp_url: str | None
) -> dict[str, str]:
    """The app's (and the job worker's) settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADMITONE_")}
    env.update(
        ADMITONE_DATABASE_URL=database_url,
        # Every simulated buyer comes from 127.0.0.1: the per-IP limits would refuse all
        # but the first 30 orders a minute.
        ADMITONE_RATE_LIMITS_ENABLED="false",
        # ...and its seats on hold would count against one address's bound.
        ADMITONE_MAX_HELD_SEATS_PER_ADDRESS="0",
        # The production log level: one JSON access-log line per request (about 10 us
        # each), written to /dev/null below.
        ADMITONE_LOG_LEVEL="INFO",
        ADMITONE_MEDIA_DIR=str(workdir / "media"),
        ADMITONE_OUTBOX_DIR=str(workdir / "outbox"),
        ADMITONE_DATABASE_POOL_SIZE=os.environ.get("ADMITONE_DATABASE_POOL_SIZE", "20"),
        ADMITONE_WORKER_THREADS=str(threads),
    )
    if redis_url:
        # Production shape: jobs (confirmation mails, PDFs) go to the queue for workers
        # elsewhere, instead of running in the app processes.
        env["ADMITONE_REDIS_URL"] = redis_url
    if smtp_url:
        env["ADMITONE_SMTP_URL"] = smtp_url
    return env


def start_server(env: dict[str, str], workers: int) -> tuple[subprocess.Popen[bytes], str]:
    admitone = str(Path(sys.executable).parent / "admitone")
    subprocess.run([admitone, "migrate"], env=env, check=True, capture_output=True)
    # The organizer: an account made at the command line has a verified address, which
    # creating an organization needs (a registration would wait for its mailed link).
    subprocess.run(
        [admitone, "create-user", "--email", ORGANIZER, "--password", PASSWORD],
        env=env,
        check=True,
        capture_output=True,
    )
    port = _free_port()
    process = subprocess.Popen(
        [admitone, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    import urllib.request

    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=1) as response:
                if response.status == 200:
                    return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the app did not become ready")


def start_worker(
    env: dict[str, str], concurrency: int, log: Path
) -> tuple[subprocess.Popen[bytes], ProcessTreeCpu]:
    """``admitone worker`` as in production (docs/jobs.md), once it has booted: its pool
    processes are up and its CPU time stands still (the boot is not the jobs' cost)."""
    admitone = str(Path(sys.executable).parent / "admitone")
    # Its log (one line per job at the production level) goes to a file, read on failure.
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [admitone, "worker", "--concurrency", str(concurrency)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    tree = ProcessTreeCpu(process.pid)
    deadline = time.monotonic() + 120
    last = -1.0
    while time.monotonic() < deadline:
        time.sleep(1)
        if process.poll() is not None:
            raise SystemExit("the job worker exited")
        now = tree.seconds()
        if len(tree.pids()) > concurrency and now == last:
            return process, tree
        last = now
    process.kill()
    raise SystemExit("the job worker did not settle")


_CONFIRMATION_ID = re.compile(
    rb"^Message-ID:\s+<order_confirmation\.", re.MULTILINE | re.IGNORECASE
)


class _CountingInbox:
    """aiosmtpd handler: counts the order confirmations it accepts."""

    def __init__(self) -> None:
        self.confirmations = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        # \s+: a long Message-ID is folded onto the next line.
        if _CONFIRMATION_ID.search(envelope.content):
            self.confirmations += 1
        return "250 Message accepted"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="benchmark an app already running at this address")
    parser.add_argument(
        "--database",
        default="sqlite",
        help="sqlite, postgresql, or a database URL (when starting the app)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="app worker processes (when starting the app)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=4,
        help="requests in flight per worker process (ADMITONE_WORKER_THREADS); on 2 cores, "
        "2 workers x 4 threads measured best",
    )
    parser.add_argument("--buyers", type=int, default=50, help="concurrent buyers (and scanners)")
    parser.add_argument("--capacity", type=int, default=1000, help="seats on sale")
    parser.add_argument(
        "--redis-url",
        help="queue jobs in this Redis (production shape) instead of running them in the app",
    )
    parser.add_argument(
        "--with-worker",
        action="store_true",
        help="run `admitone worker` beside the app (needs --redis-url), mail to a local SMTP "
        "server, and print the CPU per paid order of the app and of the worker",
    )
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=2,
        help="job processes of the worker (with --with-worker; the CLI's default)",
    )
    args = parser.parse_args()
    if args.with_worker and (args.url or not args.redis_url):
        parser.error("--with-worker starts the app and its worker: give --redis-url, not --url")

    if args.url:
        return asyncio.run(run(args.url, buyers=args.buyers, capacity=args.capacity))
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        database_url, pg_name = _database_url(args.database, workdir)
        smtp = None
        if args.with_worker:
            from aiosmtpd.controller import Controller

            inbox = _CountingInbox()
            smtp = Controller(inbox, hostname="127.0.0.1", port=_free_port())
            smtp.start()
        env = _environment(
            database_url,
            args.threads,
            workdir,
            args.redis_url,
            f"smtp://127.0.0.1:{smtp.port}" if smtp is not None else None,
        )
        process, base = start_server(env, args.workers)
        worker = None
        try:
            worker_check = None
            if smtp is not None:
                worker, worker_tree = start_worker(
                    env, args.worker_concurrency, workdir / "worker.log"
                )
                worker_check = WorkerCheck(
                    app=ProcessTreeCpu(process.pid),
                    worker=worker_tree,
                    received=lambda: inbox.confirmations,
                    log=workdir / "worker.log",
                )
            jobs = f"jobs queued in {args.redis_url}" if args.redis_url else "jobs in-process"
            if worker is not None:
                jobs += f", run by `admitone worker --concurrency {args.worker_concurrency}`"
            # ADMITONE_PIN_WORKERS is left at its default: serve pins each process to a CPU.
            print(
                f"app: {args.workers} worker(s), each pinned to a CPU, x {args.threads} threads on "
                f"{database_url.split('@')[-1]}, {jobs}"
            )
            return asyncio.run(
                run(base, buyers=args.buyers, capacity=args.capacity, worker_check=worker_check)
            )
        finally:
            process.terminate()
            process.wait(timeout=30)
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=60)
            if smtp is not None:
                smtp.stop()
            if pg_name:
                import psycopg

                with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
