"""Periodic jobs: what Celery beat runs in production (``admitone worker --beat``).

``orders.expire_holds`` is the hold sweep of orders/tasks.py (the embedded app runs it
in-process from its lifespan instead); ``notifications.send_event_reminders`` and
``notifications.catch_up_confirmations`` live with the notifications. ``schedule`` lists
them with their intervals once: ``celery_app`` makes the beat schedule of it, and without
Redis the app's lifespan submits each with ``run_periodically``.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future

import structlog

from admitone.config import Settings
from admitone.jobs.registry import JobContext, Runner, job

log = structlog.get_logger(__name__)


def schedule(settings: Settings) -> dict[str, float]:
    """The periodic jobs (besides the hold sweep) and their interval in seconds."""
    return {
        "notifications.send_event_reminders": settings.reminder_interval_seconds,
        "notifications.catch_up_confirmations": settings.confirmation_catch_up_interval_seconds,
        "orders.catch_up_cancelled_refunds": settings.refund_catch_up_interval_seconds,
    }


@job("orders.expire_holds")
def expire_holds(context: JobContext) -> int:
    """Expire every hold past its time (idempotent: a doubled run expires nothing more)."""
    from admitone.orders import tasks

    return tasks.expire_holds(context.database)


def start_embedded_schedule(runner: Runner, settings: Settings) -> list[asyncio.Task[None]]:
    """Embedded mode (no Redis, so no beat): a loop per periodic job, to cancel at
    shutdown. With Redis, beat runs the same schedule and this starts nothing."""
    if settings.redis_url:
        return []
    return [
        asyncio.create_task(run_periodically(runner, name, interval_seconds=interval))
        for name, interval in schedule(settings).items()
    ]


async def run_periodically(runner: Runner, name: str, *, interval_seconds: float) -> None:
    """Embedded mode's stand-in for beat: submit job ``name`` every ``interval_seconds``.

    Started by the app's lifespan only when no Redis is configured (beat schedules the
    same job then); cancelled at shutdown. A tick whose previous run is still going is
    skipped: two runs at once could both send a message before either recorded it (a
    slow mail server made the confirmations' catch-up send twice).
    """
    previous: Future[None] | None = None
    while True:
        await asyncio.sleep(interval_seconds)
        if previous is not None and not previous.done():
            continue
        try:
            previous = await asyncio.to_thread(runner.submit, name, {})
        except Exception:  # the next tick tries again
            log.exception("periodic job could not be submitted", job=name)
