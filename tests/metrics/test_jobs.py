"""Job metrics: failures counted by job, the in-process queue depth, the Redis queue length."""

from __future__ import annotations

import math
import threading

import redis
from fastapi.testclient import TestClient

from admitone.config import Settings
from admitone.db import Database
from admitone.jobs import JobContext, install_runner, job
from admitone.jobs.celery_app import QUEUE, make_celery
from admitone.jobs.inprocess import EagerRunner, InProcessRunner
from tests.jobs.test_celery import REDIS_SERVER
from tests.metrics.conftest import TOKEN, scrape, value

FAILURES = "admitone_job_failures_total"
_release = threading.Event()


@job("testmetrics.broken")
def _broken(context: JobContext) -> None:
    raise ValueError("a bug: not retried")


@job("testmetrics.waits")
def _waits(context: JobContext) -> None:
    _release.wait(30)


def test_failed_jobs_are_counted_by_job(
    client: TestClient, clean_database: Database, settings: Settings
):
    before = value(scrape(client), FAILURES, job="testmetrics.broken")
    EagerRunner(JobContext(settings=settings, database=clean_database)).submit(
        "testmetrics.broken", {}
    )
    runner = InProcessRunner(JobContext(settings=settings, database=clean_database))
    try:
        runner.submit("testmetrics.broken", {})
        assert runner.wait_idle(30)
    finally:
        runner.close()
    assert value(scrape(client), FAILURES, job="testmetrics.broken") - before == 2


def test_the_in_process_queue_depth(
    client: TestClient, clean_database: Database, settings: Settings
):
    runner = InProcessRunner(JobContext(settings=settings, database=clean_database), threads=1)
    previous = install_runner(runner)  # the one the app's /metrics reads
    _release.clear()
    try:
        for _ in range(3):
            runner.submit("testmetrics.waits", {})
        # One running, two waiting for the thread: three not finished.
        assert value(scrape(client), "admitone_jobs_in_process_queued") == 3
        _release.set()
        assert runner.wait_idle(30)
        assert value(scrape(client), "admitone_jobs_in_process_queued") == 0
    finally:
        _release.set()
        install_runner(previous)
        runner.close()


def test_the_redis_queue_length_is_read_at_each_scrape(make_app, make_settings):
    # Its own Redis database (the Celery tests use 10 to 15, the benchmark 9).
    url = f"{REDIS_SERVER}/8"
    server = redis.Redis.from_url(url)
    server.flushdb()
    celery = make_celery(make_settings(redis_url=url))
    # Without its lifespan the app starts no runner: the queue is only what is sent here.
    client = TestClient(make_app(redis_url=url, metrics_token=TOKEN))
    unreachable = TestClient(make_app(redis_url="redis://127.0.0.1:1/0", metrics_token=TOKEN))
    try:
        assert value(scrape(client), "admitone_jobs_redis_queue_length") == 0
        for _ in range(3):  # sent, and no worker to take them
            celery.send_task("notifications.send_order_confirmation", kwargs={}, queue=QUEUE)
        assert server.llen(QUEUE) == 3
        assert value(scrape(client), "admitone_jobs_redis_queue_length") == 3
        # Redis away: unknown (NaN), and the scrape still answers.
        length = value(scrape(unreachable), "admitone_jobs_redis_queue_length")
        assert math.isnan(length)
    finally:
        celery.close()
        server.flushdb()
        server.close()
