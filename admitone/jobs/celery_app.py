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

The app sends its jobs from one publisher thread that gathers them for
``PUBLISH_LINGER_SECONDS``: the jobs of that instant travel as one ``jobs.batch`` message,
which a worker splits back into one message per job (each keeps its own acks and
retries). Celery's send costs the app about 0.4 ms of CPU per message, and in a sale
every paid order has its confirmation job: batched, the flash sale sells 4 to 5 % more
(docs/performance-log.md).
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import structlog
from celery import Celery
from kombu.exceptions import OperationalError as KombuOperationalError

from admitone.config import Settings, get_settings
from admitone.db import Database
from admitone.jobs import periodic
from admitone.jobs.registry import (
    TRANSIENT_ERRORS,
    JobContext,
    install_runner,
    registered_jobs,
    run_job,
)

MAX_RETRIES = 8
RETRY_BACKOFF_MAX_SECONDS = 600
QUEUE = "admitone"
BATCH_TASK = "jobs.batch"
# How long the publisher waits for more jobs to join the first one: a mail that leaves
# 0.1 s later is not noticed; at 100 paid orders/s it carries 10 jobs per message.
PUBLISH_LINGER_SECONDS = 0.1
MAX_BATCH = 500

log = structlog.get_logger(__name__)

_context_lock = threading.Lock()
_context: JobContext | None = None


def _worker_context(app: Celery) -> JobContext:
    """The worker process's settings and database, made on the first job (after fork).

    The first job also installs the worker's runner: a job that asks for another one
    (``enqueue_after_commit``) sends it to the queue, where without a runner it would be
    dropped.
    """
    global _context
    with _context_lock:
        if _context is None:
            settings = get_settings()
            _context = JobContext(
                settings=settings,
                database=Database(settings.database_url, pool_size=settings.database_pool_size),
            )
            install_runner(WorkerRunner(app))
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
        # The domains' periodic jobs (admitone/domains.py), run by ``admitone worker --beat``.
        beat_schedule={
            name: {"task": name, "schedule": interval}
            for name, interval in periodic.schedule(settings).items()
        },
    )
    for name in registered_jobs():
        _register(app, name)
    _register_batch(app)
    return app


def _register(app: Celery, name: str) -> None:
    def run(**kwargs: Any) -> Any:
        return run_job(_worker_context(app), name, kwargs)

    app.task(
        name=name,
        # This app's own task: a shared one would join every Celery app made later in
        # the process (tests make several), each with another closure of the same name.
        shared=False,
        autoretry_for=TRANSIENT_ERRORS,
        retry_backoff=True,
        retry_backoff_max=RETRY_BACKOFF_MAX_SECONDS,
        retry_jitter=True,
        max_retries=MAX_RETRIES,
        acks_late=True,
        reject_on_worker_lost=True,
    )(run)


def _send(app: Celery, name: str, kwargs: dict[str, Any], **options: Any) -> None:
    # Job arguments are a few ids (jobs/registry.py): their plain repr is the log form
    # Celery would otherwise build with its slower safe repr on every send.
    app.send_task(
        name, kwargs=kwargs, queue=QUEUE, argsrepr="()", kwargsrepr=repr(kwargs), **options
    )


def _register_batch(app: Celery) -> None:
    def split(jobs: list[list[Any]]) -> None:
        # Redelivered after a crash half-way, some jobs are sent twice: they are idempotent.
        with app.producer_or_acquire() as producer:
            for name, kwargs in jobs:
                _send(app, name, kwargs, producer=producer)

    app.task(
        name=BATCH_TASK,
        shared=False,
        autoretry_for=(*TRANSIENT_ERRORS, KombuOperationalError),  # Redis away a moment
        retry_backoff=True,
        max_retries=MAX_RETRIES,
        acks_late=True,
        reject_on_worker_lost=True,
    )(split)


class WorkerRunner:
    """A worker's runner: the jobs a job asks for are sent at once, from its own thread.

    Jobs are off the hot path, so no publisher thread gathers them as the app's does.
    """

    def __init__(self, app: Celery) -> None:
        self.app = app

    def submit(self, name: str, kwargs: dict[str, Any]) -> None:
        _send(self.app, name, kwargs)

    def close(self) -> None:
        pass


_STOP = object()


class CeleryRunner:
    """Sends committed jobs to Redis, gathered by one publisher thread; the workers run them.

    ``submit`` only queues the job in memory, so a job is lost if the process dies within
    the linger (as it was if it died between the commit and the send); the periodic
    catch-up resends lost order confirmations (docs/jobs.md).
    """

    def __init__(self, settings: Settings) -> None:
        self.app = make_celery(settings)
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._publisher = threading.Thread(
            target=self._publish_until_stopped, name="admitone-job-publisher", daemon=True
        )
        self._publisher.start()

    def submit(self, name: str, kwargs: dict[str, Any]) -> None:
        self._jobs.put((name, kwargs))

    def close(self) -> None:
        """Send what is queued, then stop."""
        self._jobs.put(_STOP)
        self._publisher.join(timeout=30)
        self.app.close()

    def _publish_until_stopped(self) -> None:
        stopping = False
        while not stopping:
            first = self._jobs.get()
            if first is _STOP:
                return
            time.sleep(PUBLISH_LINGER_SECONDS)
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is _STOP:
                    stopping = True
                    break
                batch.append(job)
            self._publish(batch)

    def _publish(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        try:
            if len(batch) == 1:
                _send(self.app, *batch[0])
            else:
                jobs = [[name, kwargs] for name, kwargs in batch]
                _send(self.app, BATCH_TASK, {"jobs": jobs})
        except Exception:  # the commits stand; a lost job is logged, never a 500
            log.exception("jobs could not be enqueued", jobs=[name for name, _ in batch])
