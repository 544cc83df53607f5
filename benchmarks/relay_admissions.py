"""Site relay benchmark: admissions per second through `admitone relay`, upstream down.

The relay's SQLite file is seeded with a bundle of N tickets of one event (a key pair made
here, the tickets signed as upstream signs them: docs/ticket-signing.md), then the real
`admitone relay` process serves it with an upstream that is not there (the link is down:
the relay decides alone and queues). G gates scan at once, each ticket twice, by two
gates about the same time: every scan is a real HTTP request on a keep-alive connection.
Printed: scans and admissions per second, latency percentiles, and the check that each
ticket was admitted exactly once and every scan was queued for upstream.

    python benchmarks/relay_admissions.py                   # 2,000 tickets, 8 gates
    python benchmarks/relay_admissions.py --tickets 10000 --gates 16
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from json import dumps, loads
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.flash_sale import HttpConnection, percentile

TOKEN = "aod_" + "b" * 43  # the relay's own device token (the bundle names its device)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_bundle(event_id: uuid.UUID, tickets: int) -> tuple[dict[str, Any], list[str]]:
    """One complete bundle page of ``tickets`` valid tickets, and their signed QR texts."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    type_id, list_id = uuid.uuid4(), uuid.uuid4()
    rows, qrs = [], []
    for index in range(tickets):
        ticket_id = uuid.uuid4()
        # The v1 payload: version 0x01, ticket, event and type ids, an Ed25519 signature.
        body = bytes([1]) + ticket_id.bytes + event_id.bytes + type_id.bytes
        raw = body + private.sign(body)
        qrs.append(base64.b32encode(raw).decode("ascii").rstrip("="))
        rows.append([str(ticket_id), str(type_id), f"Holder {index}", "valid"])
    now = datetime.now(UTC)
    page = {
        "event": {
            "id": str(event_id),
            "name": "Relay bench",
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(hours=6)).isoformat(),
            "timezone": "Europe/Paris",
        },
        "device": {"id": str(uuid.uuid4()), "name": "Relay", "gate": "Site"},
        "public_key": base64.b64encode(public).decode(),
        "key_id": "bench",
        "lists": [
            {
                "id": str(list_id),
                "event_id": str(event_id),
                "name": "Default",
                "is_default": True,
                "ticket_type_ids": None,
                "allow_reentry": False,
                "valid_from": None,
                "valid_until": None,
                "created_at": now.isoformat(),
            }
        ],
        "ticket_types": [{"id": str(type_id), "name": "General"}],
        "full": True,
        "tickets": rows,
        "presences": [],
        "undone": [],
        "server_time": now.isoformat(),
        "cursor": "bench",
        "complete": True,
    }
    return page, qrs


def seed(path: Path, event_id: uuid.UUID, page: dict[str, Any]) -> None:
    from admitone.db import Database
    from admitone.relay.store import RelayStore

    database = Database(f"sqlite:///{path}")
    RelayStore(database, event_id=event_id).apply_page(page)
    database.dispose()


def start_relay(
    path: Path, event_id: uuid.UUID, workdir: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADMITONE_")}
    env.update(
        ADMITONE_RELAY_TOKEN=TOKEN,
        ADMITONE_MEDIA_DIR=str(workdir / "media"),
        ADMITONE_DATABASE_URL=f"sqlite:///{workdir / 'unused.db'}",
    )
    admitone = str(Path(sys.executable).parent / "admitone")
    process = subprocess.Popen(
        [
            admitone,
            "relay",
            # Nothing listens there: the link is down for the whole run.
            "--upstream",
            f"http://127.0.0.1:{_free_port()}",
            "--event",
            str(event_id),
            "--port",
            str(port),
            "--database",
            str(path),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/relay/status", timeout=1) as answer:
                if loads(answer.read())["data"]["ready"]:
                    return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the relay did not become ready")


async def gate(
    connection: HttpConnection,
    event_id: uuid.UUID,
    work: list[str],
    results: Counter[str],
    latencies: list[float],
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    target = f"/api/v1/events/{event_id}/checkins"
    for qr in work:
        body = dumps({"qr": qr, "nonce": uuid.uuid4().hex, "gate": "bench"}).encode()
        started = time.perf_counter()
        status, content = await connection.request("POST", target, body, headers)
        latencies.append(time.perf_counter() - started)
        results[loads(content)["data"]["result"] if status == 200 else f"HTTP {status}"] += 1


async def run(base: str, event_id: uuid.UUID, qrs: list[str], gates: int) -> dict[str, Any]:
    from urllib.parse import urlsplit

    address = urlsplit(base)
    # Each ticket twice, by two different gates, about the same time: gates 2k and
    # 2k+1 scan the same share in the same order (an odd last gate, share 0 once more).
    pairs = max(1, gates // 2)
    shares = [qrs[index::pairs] for index in range(pairs)]
    work = [shares[min(g // 2, pairs - 1)] if g < 2 * pairs else shares[0] for g in range(gates)]
    results: Counter[str] = Counter()
    latencies: list[float] = []
    connections = [
        HttpConnection(address.hostname or "127.0.0.1", address.port or 80) for _ in work
    ]
    started = time.perf_counter()
    await asyncio.gather(
        *(
            gate(connection, event_id, share, results, latencies)
            for connection, share in zip(connections, work, strict=True)
        )
    )
    elapsed = time.perf_counter() - started
    for connection in connections:
        connection.close()
    return {"results": results, "latencies": latencies, "elapsed": elapsed}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=2000, help="tickets in the bundle")
    parser.add_argument("--gates", type=int, default=8, help="gates scanning at once")
    args = parser.parse_args()
    event_id = uuid.uuid4()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        path = workdir / "relay.db"
        page, qrs = make_bundle(event_id, args.tickets)
        seed(path, event_id, page)
        process, base = start_relay(path, event_id, workdir)
        try:
            figures = asyncio.run(run(base, event_id, qrs, args.gates))
            import urllib.request

            with urllib.request.urlopen(f"{base}/relay/status", timeout=5) as answer:
                status = loads(answer.read())["data"]
        finally:
            process.terminate()
            process.wait(timeout=30)
    results: Counter[str] = figures["results"]
    scans = sum(results.values())
    elapsed = figures["elapsed"]
    latencies = figures["latencies"]
    admitted = results["admitted"]
    print(f"\nSite relay, upstream down: {args.tickets} tickets, {args.gates} gates at once")
    print(f"  scans                 {scans} in {elapsed:.2f} s  ->  {scans / elapsed:.1f} scans/s")
    print(f"  admissions            {admitted}  ->  {admitted / elapsed:.1f} admissions/s")
    print(f"  results               {dict(results)}")
    print(
        "  latency ms            "
        + "  ".join(f"p{pct} {percentile(latencies, pct) * 1000:.1f}" for pct in (50, 95, 99))
        + f"  max {max(latencies) * 1000:.1f}"
    )
    print(f"  queued for upstream   {status['queue']}")
    once = admitted == args.tickets and results["already_admitted"] == scans - admitted
    queued = status["queue"] == scans
    print(f"  exactly once          {'yes' if once else 'NO'}")
    print(f"  all queued            {'yes' if queued else 'NO'}")
    return 0 if once and queued else 1


if __name__ == "__main__":
    sys.exit(main())
