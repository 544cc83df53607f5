"""Jobs of the orders domain. ``orders.expire_holds``: the periodic hold sweep.

In the embedded mode the app runs it in-process every ``hold_sweep_interval_seconds``
(``run_hold_sweeper``, started by the app's lifespan); ``admitone expire-holds`` runs it
once. A job queue takes it over in a later issue: the job stays this plain function.
Correctness never depends on it (expired holds stop counting at once; the next write on
the event releases them), so a missed or doubled run is harmless.
"""

from __future__ import annotations

import asyncio

import structlog
from anyio import to_thread

from admitone.db import Database, utcnow
from admitone.orders import service

log = structlog.get_logger(__name__)


def expire_holds(database: Database) -> int:
    """One run of ``orders.expire_holds`` in its own unit of work; returns orders expired."""
    with database.session() as session:
        now = utcnow()
        expired = service.expire_holds(session, now=now)
        service.purge_idempotency_keys(session, now=now)
    return expired


async def run_hold_sweeper(database: Database, *, interval_seconds: float) -> None:
    """Run ``expire_holds`` every ``interval_seconds`` until cancelled (app shutdown)."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            expired = await to_thread.run_sync(expire_holds, database)
        except Exception:  # a failed run is retried at the next tick, never fatal
            log.exception("orders.expire_holds failed")
            continue
        if expired:
            log.info("orders.expire_holds", expired=expired)
