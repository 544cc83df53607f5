"""Celery on Redis: the production runner and worker (``admitone worker``).

Every registered job becomes a Celery task of the same name that re-loads its own state
(jobs take ids only). Delivery guarantees:

* ``acks_late`` + ``reject_on_worker_lost``: a message is acknowledged when its job has
  finished, so a worker killed mid-job leaves it unacknowledged and Redis hands it to
  another worker after ``ADMITONE_JOBS_VISIBILITY_TIMEOUT_SECONDS``;
* ``prefetch_multiplier=1``: a worker holds one message per process, not a batch;
* transient errors (``registry.TRANSIENT_ERRORS``) are retried with exponential
  backoff and jitter, up to ``MAX_RETRIES`` times;
* jobs are idempotent (delivery markers, guarded transitions), so a redelivered message
  does its work once.
"""

from __future__ import annotations

import threading
from typing import Any

from celery import Celery

from admitone.config import Settings, get_settings
from admitone.db import Database
from admitone.jobs import periodic
from admitone.jobs.registry import TRANSIENT_ERRORS, JobContext, registered_jobs, run_job

MAX_RETRIES = 8
RETRY_BACKOFF_MAX_SECONDS = 600
QUEUE = "admitone"

_context_lock = threading.Lock()
_context: JobContext | None = None


def _worker_context() -> JobContext:
    """The worker process's settings and database, made on the first job (after fork)."""
    global _context
    with _context_lock:
        if _context is None:
            settings = get_settings()
            _context = JobContext(
                settings=settings,
                database=Database(settings.database_url, pool_size=settings.database_pool_size),
            )
        return _context


def make_celery(settings: Settings) -> Celery:
    if not settings.redis_url:
        raise ValueError("ADMITONE_REDIS_URL is not set: jobs run in-process")
    app = Celery("admitone", broker=settings.redis_url)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.jobs_visibility_timeout_seconds,
            # A worker killed while it held kombu's restore mutex would otherwise block
            # every other worker from redelivering unacknowledged jobs for 5 minutes.
            "unacked_mutex_expire": min(300, settings.jobs_visibility_timeout_seconds),
            # Look for jobs of dead workers every few seconds (kombu's default sweep runs
            # only every 10 x 10 s); the look is one cheap sorted-set query.
            "unacked_restore_interval": min(10, settings.jobs_visibility_timeout_seconds),
            "unacked_restore_throttle": 1,
        },
        worker_hijack_root_logger=False,
        timezone="UTC",
        beat_schedule={
            "orders.expire_holds": {
                "task": "orders.expire_holds",
                "schedule": settings.hold_sweep_interval_seconds,
            },
            **{
                name: {"task": name, "schedule": interval}
                for name, interval in periodic.schedule(settings).items()
            },
        },
    )
    for name in registered_jobs():
        _register(app, name)
    return app


def _register(app: Celery, name: str) -> None:
    def run(**kwargs: Any) -> Any:
        return run_job(_worker_context(), name, kwargs)

    app.task(
        name=name,
        autoretry_for=TRANSIENT_ERRORS,
        retry_backoff=True,
        retry_backoff_max=RETRY_BACKOFF_MAX_SECONDS,
        retry_jitter=True,
        max_retries=MAX_RETRIES,
        acks_late=True,
        reject_on_worker_lost=True,
    )(run)


class CeleryRunner:
    """Sends committed jobs to Redis; the workers run them."""

    def __init__(self, settings: Settings) -> None:
        self.app = make_celery(settings)

    def submit(self, name: str, kwargs: dict[str, Any]) -> None:
        # Job arguments are a few ids (jobs/registry.py): their plain repr is the log
        # form Celery would otherwise build with its slower safe repr on every send.
        self.app.send_task(name, kwargs=kwargs, queue=QUEUE, argsrepr="()", kwargsrepr=repr(kwargs))

    def close(self) -> None:
        self.app.close()
