"""Offline gates (issue 16): the bundle a gate device downloads, and offline scans
uploaded in batches, against a real app process.

1. An event with --tickets valid tickets (default 50,000; 1 % of them refunded) is made
   directly in the database (selling them through the API is the flash-sale benchmark's
   job). A device is paired through the API.
2. Bundle: the whole first download (every page), timed, with its size raw and as the
   gzip a proxy would send, and the time to parse and apply it into a dict store (a
   stand-in for the browser's IndexedDB, which the browser test times); then an
   incremental sync after --changes tickets changed (sold or refunded).
3. Upload: --devices devices each upload --scans-per-device offline entries (a share of
   them duplicates across devices) in batches of --batch, all devices at once;
   printed: scans stored per second, and that every scan is stored once and the
   conflicts equal entries minus one per ticket.

Usage: .venv/bin/python benchmarks/offline_gates.py [--database postgresql] [--workers 2]
"""

from __future__ import annotations

import argparse
import gzip
import json
import secrets
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.flash_sale import (
    ORGANIZER,
    PASSWORD,
    POSTGRES_SERVER,
    _database_url,
    _environment,
    start_server,
)


def set_up(api: httpx.Client) -> tuple[str, str, dict[str, str]]:
    token = api.post("/api/v1/auth/login", json={"email": ORGANIZER, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['data']['tokens']['access_token']}"}
    slug = f"gates-{uuid.uuid4().hex[:8]}"
    api.post("/api/v1/organizations", json={"name": "Gates", "slug": slug}, headers=headers)
    starts = datetime.now(UTC) + timedelta(days=1)
    event = api.post(
        f"/api/v1/organizations/{slug}/events",
        headers=headers,
        json={
            "title": "Festival",
            "category": "festival",
            "currency": "EUR",
            "timezone": "Europe/Paris",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=12)).isoformat(),
            "venue": {"name": "Field", "address": "1 chemin", "city": "Lyon", "country": "FR"},
        },
    ).json()["data"]
    ticket_type = api.post(
        f"/api/v1/organizations/{slug}/events/{event['id']}/ticket-types",
        headers=headers,
        json={"name": "Pass", "price_minor": 9000, "capacity": 1_000_000, "max_per_order": 10},
    ).json()["data"]
    published = api.post(
        f"/api/v1/organizations/{slug}/events/{event['id']}/publish", headers=headers
    )
    assert published.status_code == 200, published.text
    return event["id"], ticket_type["id"], headers


def seed_tickets(
    database_url: str, event_id: str, ticket_type_id: str, count: int
) -> list[uuid.UUID]:
    """``count`` tickets of one paid order (1 % revoked), straight into the database."""
    from sqlalchemy import select

    from admitone.db import Database, utcnow
    from admitone.orders.models import Order, OrderItem, OrderStatus
    from admitone.tickets.models import Ticket, TicketStatus

    database = Database(database_url)
    event, ticket_type = uuid.UUID(event_id), uuid.UUID(ticket_type_id)
    ids = [uuid.uuid4() for _ in range(count)]
    with database.session() as session:
        from admitone.events.models import Event

        organization_id = session.scalar(select(Event.organization_id).where(Event.id == event))
        order = Order(
            code=f"B{secrets.token_hex(5).upper()}",
            organization_id=organization_id,
            event_id=event,
            buyer_name="Bench Buyer",
            buyer_email="bench@example.com",
            access_token_hash=secrets.token_hex(32),
            status=OrderStatus.paid,
            currency="EUR",
            total_minor=9000 * count,
            expires_at=utcnow(),
            paid_at=utcnow(),
        )
        session.add(order)
        session.flush()
        item = OrderItem(
            order_id=order.id, ticket_type_id=ticket_type, quantity=count, unit_price_minor=9000
        )
        session.add(item)
        session.flush()
        # Sold an hour ago: the incremental sync below then re-sends only what changed
        # (a sync re-reads the last 5 minutes).
        now = utcnow() - timedelta(hours=1)
        rows = [
            {
                "id": ticket_id,
                "order_id": order.id,
                "order_item_id": item.id,
                "event_id": event,
                "ticket_type_id": ticket_type,
                "holder_name": f"Holder {index}",
                "status": TicketStatus.revoked if index % 100 == 99 else TicketStatus.valid,
                "created_at": now,
                "changed_at": now,
            }
            for index, ticket_id in enumerate(ids)
        ]
        for start in range(0, count, 5000):
            session.execute(Ticket.__table__.insert(), rows[start : start + 5000])
    database.dispose()
    return ids


def pair(api: httpx.Client, event_id: str, headers: dict[str, str], name: str) -> dict[str, str]:
    response = api.post(
        f"/api/v1/events/{event_id}/devices", json={"name": name, "gate": name}, headers=headers
    )
    assert response.status_code == 201, response.text
    token = response.json()["data"]["token"]
    return {"Authorization": f"Bearer {token}"}


def sync(
    api: httpx.Client, device: dict[str, str], cursor: str | None, store: dict
) -> tuple[str, dict]:
    """Every page of one sync, applied into ``store``: (the next cursor, figures)."""
    pages = raw = gzipped = 0
    network = parse_apply = 0.0
    while True:
        started = time.perf_counter()
        response = api.get(
            "/api/v1/scan/bundle", params={"cursor": cursor} if cursor else None, headers=device
        )
        network += time.perf_counter() - started
        assert response.status_code == 200, response.text
        raw += len(response.content)
        gzipped += len(gzip.compress(response.content, 6))
        started = time.perf_counter()
        page = json.loads(response.content)["data"]
        for ticket in page["tickets"]:
            store.setdefault("tickets", {})[ticket[0]] = ticket
        for presence in page["presences"]:
            store.setdefault("presences", {})[(presence[0], presence[1])] = presence
        parse_apply += time.perf_counter() - started
        pages += 1
        cursor = page["cursor"]
        if page["complete"]:
            return cursor, {
                "pages": pages,
                "raw": raw,
                "gzip": gzipped,
                "network": network,
                "apply": parse_apply,
            }


def sign_all(
    database_url: str,
    settings_env: dict[str, str],
    event_id: str,
    ticket_type_id: str,
    ids: list[uuid.UUID],
) -> list[str]:
    import os

    os.environ.update(settings_env)
    from admitone.config import Settings
    from admitone.db import Database
    from admitone.tickets.signing import KeyRing

    database = Database(database_url)
    keys = KeyRing(settings=Settings(), database=database)
    with database.session(write=False) as session:
        key = keys.get_or_create(session, uuid.UUID(event_id))
    signed = [
        keys.sign_ticket(key, ticket_id=ticket, ticket_type_id=uuid.UUID(ticket_type_id))
        for ticket in ids
    ]
    database.dispose()
    return signed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="sqlite", help="sqlite or postgresql")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--tickets", type=int, default=50_000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--scans-per-device", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        database_url, pg_name = _database_url(args.database, workdir)
        env = _environment(database_url, args.threads, workdir, None, None)
        process, base = start_server(env, args.workers)
        try:
            with httpx.Client(base_url=base, timeout=120) as api:
                event_id, ticket_type_id, organizer = set_up(api)
                ids = seed_tickets(database_url, event_id, ticket_type_id, args.tickets)
                print(
                    f"app: {args.workers} worker(s) x {args.threads} threads on {database_url.split('@')[-1]}"
                )
                print(f"event: {args.tickets} tickets ({args.tickets // 100} refunded)")

                # --- the bundle -----------------------------------------------------
                device = pair(api, event_id, organizer, "Bundle")
                store: dict = {}
                started = time.perf_counter()
                cursor, first = sync(api, device, None, store)
                total = time.perf_counter() - started
                assert len(store["tickets"]) == args.tickets, len(store["tickets"])
                print(
                    f"  first download        {first['pages']} pages, {total:.2f} s "
                    f"(server+network {first['network']:.2f} s, parse+apply {first['apply']:.2f} s), "
                    f"{first['raw'] / 1e6:.2f} MB raw, {first['gzip'] / 1e6:.2f} MB gzip"
                )
                # Changes between two syncs: tickets sold and refunded.
                from sqlalchemy import update

                from admitone.db import Database, utcnow
                from admitone.tickets.models import Ticket, TicketStatus

                database = Database(database_url)
                with database.session() as session:
                    session.execute(
                        update(Ticket)
                        .where(Ticket.id.in_(ids[: args.changes]))
                        .values(status=TicketStatus.revoked, revoked_at=utcnow())
                    )
                database.dispose()
                started = time.perf_counter()
                _cursor, later = sync(api, device, cursor, store)
                print(
                    f"  incremental sync      {args.changes} tickets changed: "
                    f"{time.perf_counter() - started:.3f} s, {later['raw'] / 1e3:.1f} kB raw"
                )

                # --- the upload -----------------------------------------------------
                valid = [t for i, t in enumerate(ids) if i >= args.changes and i % 100 != 99]
                qrs = sign_all(database_url, env, event_id, ticket_type_id, valid)
                lists = api.get(
                    f"/api/v1/organizations/{_slug(api, organizer)}/events/{event_id}/checkin-lists",
                    headers=organizer,
                ).json()["data"]
                list_id = next(item["id"] for item in lists if item["is_default"])
                devices = [pair(api, event_id, organizer, f"Gate {n}") for n in range(args.devices)]
                # Each device scans its own tickets; one scan in ten is a ticket another
                # device also let in (an offline duplicate).
                per = args.scans_per_device
                logs: list[list[dict]] = []
                entries: Counter[str] = Counter()
                now = datetime.now(UTC)
                for n in range(args.devices):
                    log = []
                    for k in range(per):
                        index = (n * per + k) if k % 10 else ((n + 1) % args.devices) * per + k + 1
                        qr = qrs[index % len(qrs)]
                        entries[qr] += 1
                        log.append(
                            {
                                "nonce": uuid.uuid4().hex,
                                "qr": qr,
                                "list_id": list_id,
                                "kind": "entry",
                                "scanned_at": (now - timedelta(seconds=per - k)).isoformat(),
                                "result": "admitted",
                            }
                        )
                    logs.append(log)
                latencies: list[float] = []
                failures: list[str] = []

                def upload(headers: dict[str, str], log: list[dict]) -> None:
                    with httpx.Client(base_url=base, timeout=300) as client:
                        for start in range(0, len(log), args.batch):
                            begun = time.perf_counter()
                            response = client.post(
                                "/api/v1/scan/batches",
                                json={
                                    "device_time": datetime.now(UTC).isoformat(),
                                    "scans": log[start : start + args.batch],
                                },
                                headers=headers,
                            )
                            latencies.append(time.perf_counter() - begun)
                            if response.status_code != 200:
                                failures.append(f"{response.status_code} {response.text[:200]}")

                threads = [
                    threading.Thread(target=upload, args=(devices[n], logs[n]))
                    for n in range(args.devices)
                ]
                started = time.perf_counter()
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                seconds = time.perf_counter() - started
                sent = args.devices * per
                stored, conflicts = _count(database_url, event_id)
                expected_conflicts = sum(count - 1 for count in entries.values() if count > 1)
                print(
                    f"  upload                {sent} scans from {args.devices} devices in batches of {args.batch}: "
                    f"{seconds:.2f} s -> {sent / seconds:.0f} scans stored/s "
                    f"(batch p50 {statistics.median(latencies) * 1000:.0f} ms)"
                )
                consistent = not failures and stored == sent and conflicts == expected_conflicts
                print(
                    f"  stored once           {stored} of {sent}; conflicts {conflicts} (expected {expected_conflicts})"
                )
                print(f"  consistent            {'yes' if consistent else 'NO'}")
                if failures:
                    print("  failures:", failures[:3])
                return 0 if consistent else 1
        finally:
            process.terminate()
            process.wait(timeout=30)
            if pg_name:
                import psycopg

                with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def _slug(api: httpx.Client, headers: dict[str, str]) -> str:
    found = api.get("/api/v1/organizations", headers=headers).json()["data"]
    return str(found[-1]["slug"])


def _count(database_url: str, event_id: str) -> tuple[int, int]:
    from sqlalchemy import func, select

    from admitone.checkin.models import CheckIn
    from admitone.db import Database

    database = Database(database_url)
    with database.session(write=False) as session:
        stored = session.scalar(
            select(func.count())
            .select_from(CheckIn)
            .where(CheckIn.event_id == uuid.UUID(event_id), CheckIn.offline.is_(True))
        )
        conflicts = session.scalar(
            select(func.count())
            .select_from(CheckIn)
            .where(CheckIn.event_id == uuid.UUID(event_id), CheckIn.conflict.is_not(None))
        )
    database.dispose()
    return stored or 0, conflicts or 0


if __name__ == "__main__":
    sys.exit(main())
