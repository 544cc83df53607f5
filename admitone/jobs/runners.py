"""Pick the runner from the settings: Celery when ADMITONE_REDIS_URL is set, threads otherwise."""

from __future__ import annotations

from admitone.config import Settings
from admitone.db import Database
from admitone.jobs.registry import JobContext, Runner


def make_runner(settings: Settings, database: Database) -> Runner:
    if settings.redis_url:
        from admitone.jobs.celery_app import CeleryRunner

        return CeleryRunner(settings)
    from admitone.config import Environment
    from admitone.jobs.inprocess import EagerRunner, InProcessRunner

    context = JobContext(settings=settings, database=database)
    eager = settings.jobs_eager
    if eager is None:
        eager = settings.env == Environment.test
    if eager:
        return EagerRunner(context)
    return InProcessRunner(
        context,
        threads=settings.jobs_in_process_threads,
    )
