"""Periodic jobs: what Celery beat runs in production (``admitone worker --beat``).

``orders.expire_holds`` is the hold sweep of orders/tasks.py (the embedded app runs it
in-process from its lifespan instead); ``notifications.send_event_reminders`` lives with
the notifications. The schedule itself is in ``celery_app.beat_schedule``; without
Redis the app's lifespan submits the reminder job with ``run_periodically``.
"""

from __future__ import annotations

import asyncio

import structlog

from admitone.jobs.registry import JobContext, Runner, job

log = structlog.get_logger(__name__)


@job("orders.expire_holds")
def expire_holds(context: JobContext) -> int:
    """Expire every hold past its time (idempotent: a doubled run expires nothing more)."""
    from admitone.orders import tasks

    return tasks.expire_holds(context.database)


async def run_periodically(runner: Runner, name: str, *, interval_seconds: float) -> None:
    """Embedded mode's stand-in for beat: submit job ``name`` every ``interval_seconds``.

    Started by the app's lifespan only when no Redis is configured (beat schedules the
    same job then); cancelled at shutdown. The job itself is idempotent.
    """
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            await asyncio.to_thread(runner.submit, name, {})
        except Exception:  # the next tick tries again
            log.exception("periodic job could not be submitted", job=name)
