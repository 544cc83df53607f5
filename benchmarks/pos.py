"""Point of sale (issue 17): terminals charging funded wallets at stands, then devices
uploading offline sales, against a real app process; the flash sale first, on the same
machine, for its paid orders per second (the target the charges must reach).

1. The flash sale (``benchmarks/flash_sale.py``, same database, workers and threads):
   its paid orders per second. Skipped with ``--skip-flash-sale``.
2. A festival: cashless on, --stands bars with three products each (through the API),
   --wallets wallets funded with 200.00 each and their passes signed (straight into the
   database: top-ups through a provider are the payment tests' job).
3. Charges, closed loop: --terminals terminals at once, each charging a random wallet
   at a random stand for one or two products under a fresh Idempotency-Key, the next
   as soon as the last is answered, until --charges are made. Printed: charges per
   second (the capacity), p50/p95/p99, refusals, and the ledger checked (the trial
   balance, and the stands' takings equal to the charges' sum). Its latency is bound
   by the loop itself: with 50 terminals always waiting, the mean is 50 / the rate
   (Little's law), whatever the code does.
3b. Charges, open loop: --charges more, arriving at a fixed rate (--rate; by default
   the flash sale's paid orders per second: the target throughput) and served by the
   same terminals. Each latency counts from the charge's arrival, so a charge that
   waits for a free terminal or for the server counts its wait. Printed: the rate
   reached and p50/p95/p99: the target's "p99 under 200 ms" at the target's rate.
4. Offline: --devices points of sale paired through the API, each uploading
   --sales-per-device offline sales in batches of --batch, all at once. Printed: sales
   booked per second, each booked once, and the ledger checked again.

Usage: .venv/bin/python benchmarks/pos.py [--database postgresql] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.flash_sale import (
    ORGANIZER,
    PASSWORD,
    POSTGRES_SERVER,
    Api,
    Stats,
    _database_url,
    _environment,
    percentile,
    start_server,
)

FUNDED = 20_000  # 200.00 in each wallet
PRODUCTS = (("Beer", 600, 2000), ("Water", 250, 550), ("Fries", 450, 1000))


def flash_sale_rate(args: argparse.Namespace) -> float | None:
    """The flash sale's paid orders per second, run now with the same app shape."""
    command = [
        sys.executable,
        str(Path(__file__).resolve().parent / "flash_sale.py"),
        "--database",
        args.database,
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
    ]
    if args.redis_url:
        command += ["--redis-url", args.redis_url]
    output = subprocess.run(command, capture_output=True, text=True, check=False).stdout
    found = re.search(r"([\d.]+) paid orders/s", output)
    return float(found.group(1)) if found else None


def set_up(api: httpx.Client, stands: int) -> tuple[str, str, dict[str, str], list[dict]]:
    token = api.post("/api/v1/auth/login", json={"email": ORGANIZER, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['data']['tokens']['access_token']}"}
    slug = f"pos-{uuid.uuid4().hex[:8]}"
    api.post("/api/v1/organizations", json={"name": "Festival", "slug": slug}, headers=headers)
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
    base = f"/api/v1/organizations/{slug}/events/{event['id']}"
    settings = api.put(
        f"{base}/cashless",
        headers=headers,
        json={
            "enabled": True,
            "topup_minimum_minor": 500,
            "topup_maximum_minor": 50_000,
            "balance_maximum_minor": 100_000,
            "offline_wallet_cap_minor": 5_000,
            "offline_sale_cap_minor": 2_000,
        },
    )
    assert settings.status_code == 200, settings.text
    made = []
    for n in range(stands):
        stand = api.post(
            f"{base}/stands", headers=headers, json={"name": f"Bar {n + 1}", "kind": "bar"}
        )
        assert stand.status_code == 201, stand.text
        products = []
        for name, price, vat in PRODUCTS:
            product = api.post(
                f"{base}/stands/{stand.json()['data']['id']}/products",
                headers=headers,
                json={"name": name, "price_minor": price, "vat_rate_bp": vat},
            )
            assert product.status_code == 201, product.text
            products.append(product.json()["data"])
        made.append({"id": stand.json()["data"]["id"], "products": products})
    return slug, event["id"], headers, made


def seed_wallets(database_url: str, env: dict[str, str], event_id: str, count: int) -> list[str]:
    """``count`` wallets funded with ``FUNDED``, straight into the database; the QR each
    holder's phone would show."""
    os.environ.update(env)
    from admitone.cashless import ledger, passes, wallets
    from admitone.cashless.models import AccountKind, EntryOrigin, Wallet
    from admitone.config import Settings
    from admitone.db import Database, utcnow
    from admitone.tickets.signing import KeyRing

    database = Database(database_url)
    keys = KeyRing(settings=Settings(), database=database)
    event = uuid.UUID(event_id)
    with database.session(write=False) as session:
        key = keys.get_or_create(session, event)
    pass_ids = []
    with database.session() as session:
        source = ledger.account(session, event_id=event, kind=AccountKind.online_payments)
        for _ in range(count):
            wallet = Wallet(event_id=event)
            session.add(wallet)
            session.flush()
            ledger.wallet_accounts(session, event_id=event, wallet_id=wallet.id)
            pass_ids.append(
                wallets.issue_pass(
                    session, wallet_id=wallet.id, event_id=event, issued_by_id=None
                ).id
            )
            wallets.credit(
                session,
                wallet=wallet,
                amount_minor=FUNDED,
                source=source,
                idempotency_key=f"seed:{wallet.id}",
                origin=EntryOrigin.provider,
            )
    qrs = [
        passes.sign_pass(
            keys,
            key,
            pass_id=pass_id,
            not_after=utcnow() + timedelta(hours=6),
            wallet_cap_minor=5_000,
            sale_cap_minor=2_000,
        )
        for pass_id in pass_ids
    ]
    database.dispose()
    return qrs


def random_sale(rng: random.Random, stands: list[dict], qrs: list[str]) -> dict:
    """A charge's body: one or two products of a random stand, a random wallet's pass."""
    stand = rng.choice(stands)
    lines = rng.sample(stand["products"], rng.choice((1, 2)))
    return {
        "stand_id": stand["id"],
        "pass": rng.choice(qrs),
        "lines": [{"product_id": product["id"], "quantity": 1} for product in lines],
    }


async def charge_one(api: Api, headers: dict[str, str], sale: dict) -> tuple[int, dict]:
    return await api.call(
        "charge",
        "POST",
        "/pos/charges",
        json=sale,
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )


async def charge_all(
    base: str,
    headers: dict[str, str],
    stands: list[dict],
    qrs: list[str],
    terminals: int,
    total: int,
) -> tuple[Stats, float, int]:
    """``total`` charges by ``terminals`` at once; (stats, seconds, minor units charged)."""
    stats = Stats()
    left = [total]
    charged = [0]
    rng = random.Random(17)

    async def terminal() -> None:
        api = Api(base, stats)
        try:
            while left[0] > 0:
                left[0] -= 1
                status, answer = await charge_one(api, headers, random_sale(rng, stands, qrs))
                if status == 201:
                    charged[0] += answer["data"]["amount_minor"]
        finally:
            api.close()

    started = time.perf_counter()
    await asyncio.gather(*(terminal() for _ in range(terminals)))
    return stats, time.perf_counter() - started, charged[0]


async def charge_at_rate(
    base: str,
    headers: dict[str, str],
    stands: list[dict],
    qrs: list[str],
    terminals: int,
    total: int,
    rate: float,
) -> tuple[Stats, float, int]:
    """``total`` charges arriving evenly at ``rate`` per second, each sent by the first
    free terminal; latencies from each arrival. (stats, seconds, minor units charged)."""
    stats = Stats()
    charged = [0]
    rng = random.Random(23)
    free: asyncio.Queue[Api] = asyncio.Queue()
    for _ in range(terminals):
        free.put_nowait(Api(base, Stats()))

    async def arrive(arrival: float) -> None:
        await asyncio.sleep(max(0.0, arrival - time.perf_counter()))
        sale = random_sale(rng, stands, qrs)
        api = await free.get()
        try:
            status, answer = await charge_one(api, headers, sale)
        finally:
            free.put_nowait(api)
        stats.record("charge", time.perf_counter() - arrival)
        if status == 201:
            charged[0] += answer["data"]["amount_minor"]
        else:
            stats.errors[f"charge:{status}"] += 1

    started = time.perf_counter()
    await asyncio.gather(*(arrive(started + index / rate) for index in range(total)))
    seconds = time.perf_counter() - started
    while not free.empty():
        free.get_nowait().close()
    return stats, seconds, charged[0]


def ledger_check(api: httpx.Client, slug: str, event_id: str, headers: dict[str, str]) -> dict:
    answer = api.get(
        f"/api/v1/organizations/{slug}/events/{event_id}/cashless/reconciliation",
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["data"])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="postgresql", help="sqlite or postgresql")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--terminals", type=int, default=50)
    parser.add_argument("--wallets", type=int, default=2000)
    parser.add_argument("--stands", type=int, default=5)
    parser.add_argument("--charges", type=int, default=5000)
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="the open loop's arrivals per second (default: the flash sale's rate, "
        "else 80%% of the closed loop's)",
    )
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--sales-per-device", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--skip-flash-sale", action="store_true")
    args = parser.parse_args()

    target = None if args.skip_flash_sale else flash_sale_rate(args)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        database_url, pg_name = _database_url(args.database, workdir)
        env = _environment(database_url, args.threads, workdir, args.redis_url, None)
        process, base = start_server(env, args.workers)
        try:
            with httpx.Client(base_url=base, timeout=300) as api:
                slug, event_id, headers, stands = set_up(api, args.stands)
                qrs = seed_wallets(database_url, env, event_id, args.wallets)
                print(
                    f"app: {args.workers} worker(s) x {args.threads} threads on "
                    f"{database_url.split('@')[-1]}"
                )
                print(
                    f"festival: {args.stands} stands, {args.wallets} wallets of "
                    f"{FUNDED / 100:.2f} EUR, {args.terminals} terminals"
                )
                stats, seconds, charged = asyncio.run(
                    charge_all(base, headers, stands, qrs, args.terminals, args.charges)
                )
                latencies = stats.latencies["charge"]
                rate = len(latencies) / seconds
                print(
                    f"  charges               {len(latencies)} in {seconds:.2f} s  ->  "
                    f"{rate:.1f} charges/s"
                )
                print(
                    f"  latency ms            p50 {percentile(latencies, 50) * 1000:.1f}  "
                    f"p95 {percentile(latencies, 95) * 1000:.1f}  "
                    f"p99 {percentile(latencies, 99) * 1000:.1f}"
                )
                if stats.errors:
                    print(f"  refused               {dict(stats.errors)}")
                found = ledger_check(api, slug, event_id, headers)
                sales = found["liability"]["sales_minor"]
                consistent = found["trial_balance"]["balanced"] and sales == charged
                print(
                    f"  ledger                balanced {found['trial_balance']['balanced']}, "
                    f"{found['trial_balance']['accounts']} accounts; takings {sales} = "
                    f"charged {charged}: {'yes' if sales == charged else 'NO'}"
                )
                arrivals = args.rate or target or rate * 0.8
                open_stats, open_seconds, open_charged = asyncio.run(
                    charge_at_rate(
                        base, headers, stands, qrs, args.terminals, args.charges, arrivals
                    )
                )
                charged += open_charged
                waits = open_stats.latencies["charge"]
                open_p99 = percentile(waits, 99)
                print(
                    f"  open loop             {len(waits)} arriving at {arrivals:.1f}/s: "
                    f"{len(waits) / open_seconds:.1f} charges/s"
                )
                print(
                    f"  latency ms            p50 {percentile(waits, 50) * 1000:.1f}  "
                    f"p95 {percentile(waits, 95) * 1000:.1f}  p99 {open_p99 * 1000:.1f}"
                    " (from arrival)"
                )
                if open_stats.errors:
                    print(f"  refused               {dict(open_stats.errors)}")
                found = ledger_check(api, slug, event_id, headers)
                sales = found["liability"]["sales_minor"]
                consistent = consistent and found["trial_balance"]["balanced"] and sales == charged
                print(
                    f"  ledger                balanced {found['trial_balance']['balanced']}; "
                    f"takings {sales} = charged {charged}: {'yes' if sales == charged else 'NO'}"
                )
                if target is not None:
                    print(
                        f"  against the flash sale {target:.1f} paid orders/s: capacity ratio "
                        f"{rate / target:.2f} ({'met' if rate >= target else 'NOT met'}); "
                        f"p99 at that rate under 200 ms: {'yes' if open_p99 < 0.2 else 'NO'}"
                    )

                # --- offline sales ---------------------------------------------------
                devices = []
                for n in range(args.devices):
                    paired = api.post(
                        "/api/v1/pos/devices",
                        json={"stand_id": stands[n % len(stands)]["id"], "name": f"Till {n}"},
                        headers=headers,
                    )
                    assert paired.status_code == 201, paired.text
                    devices.append((paired.json()["data"]["token"], stands[n % len(stands)]))
                rng = random.Random(29)
                now = datetime.now(UTC)
                logs = []
                for _token, stand in devices:
                    log = []
                    for seq in range(1, args.sales_per_device + 1):
                        product = rng.choice(stand["products"])
                        log.append(
                            {
                                "idempotency_key": uuid.uuid4().hex,
                                "device_seq": seq,
                                "occurred_at": (now - timedelta(seconds=seq)).isoformat(),
                                "pass": rng.choice(qrs),
                                "lines": [
                                    {
                                        "product_id": product["id"],
                                        "quantity": 1,
                                        "unit_price_minor": product["price_minor"],
                                    }
                                ],
                            }
                        )
                    logs.append(log)
                failures: list[str] = []
                booked = [0]
                lock = threading.Lock()

                def upload(token: str, log: list[dict]) -> None:
                    with httpx.Client(base_url=base, timeout=300) as client:
                        for start in range(0, len(log), args.batch):
                            response = client.post(
                                "/api/v1/pos/offline-batches",
                                json={
                                    "device_time": datetime.now(UTC).isoformat(),
                                    "sales": log[start : start + args.batch],
                                },
                                headers={"Authorization": f"Bearer {token}"},
                            )
                            if response.status_code != 200:
                                failures.append(f"{response.status_code} {response.text[:200]}")
                                continue
                            with lock:
                                booked[0] += sum(
                                    r["status"] in ("booked", "booked_with_debt")
                                    for r in response.json()["data"]["results"]
                                )

                threads = [
                    threading.Thread(target=upload, args=(token, logs[n]))
                    for n, (token, _stand) in enumerate(devices)
                ]
                started = time.perf_counter()
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                seconds = time.perf_counter() - started
                sent = args.devices * args.sales_per_device
                print(
                    f"  offline upload        {sent} sales from {args.devices} devices in "
                    f"batches of {args.batch}: {seconds:.2f} s  ->  {sent / seconds:.0f} "
                    f"sales booked/s ({booked[0]} booked)"
                )
                found = ledger_check(api, slug, event_id, headers)
                consistent = (
                    consistent
                    and not failures
                    and booked[0] == sent
                    and found["trial_balance"]["balanced"]
                )
                print(
                    f"  ledger                balanced {found['trial_balance']['balanced']}; "
                    f"debt {found['liability']['debt_minor']}; "
                    f"consistent {'yes' if consistent else 'NO'}"
                )
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


if __name__ == "__main__":
    sys.exit(main())
