"""The scheduler of the periodic jobs that the domains register (admitone/domains.py).

With Redis, Celery beat runs them (``admitone worker --beat``; ``celery_app`` makes its
schedule from ``schedule``). Without, the embedded mode has no beat: the app's lifespan
starts one loop per job (``start_embedded_schedule``) that submits it to the in-process
runner at the same interval.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future

import structlog

from admitone import domains
from admitone.config import Settings
from admitone.jobs.registry import Runner

log = structlog.get_logger(__name__)


def schedule(settings: Settings) -> dict[str, float]:
    """Every periodic job and its interval in seconds: beat's schedule."""
    return {periodic.job: periodic.every_seconds(settings) for periodic in domains.periodic_jobs()}


def start_embedded_schedule(runner: Runner, settings: Settings) -> list[asyncio.Task[None]]:
    """Embedded mode (no Redis, so no beat): a loop per periodic job that the settings
    leave on, to cancel at shutdown. With Redis, beat runs them and this starts nothing."""
    if settings.redis_url:
        return []
    return [
        asyncio.create_task(
            run_periodically(
                runner, periodic.job, interval_seconds=periodic.every_seconds(settings)
            )
        )
        for periodic in domains.periodic_jobs()
        if periodic.in_process(settings)
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
