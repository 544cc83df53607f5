"""Celery on a real Redis: a worker SIGKILLed in the middle of a job loses nothing.

A real worker process (``admitone worker``) takes the order-confirmation job and stops
inside it (the test-only pause file); the test kills its whole process group with
SIGKILL, starts a second worker, and the message still arrives at the SMTP server, once.
Redis database: one per xdist worker, flushed before and after.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from admitone.config import Settings, get_settings
from admitone.db import Database
from admitone.jobs import JobContext, celery_app, enqueue_after_commit, install_runner, registry
from admitone.jobs.celery_app import BATCH_TASK, QUEUE, CeleryRunner, make_celery
from admitone.notifications.models import Delivery
from tests.factories import make_shop
from tests.notifications.conftest import Inbox
from tests.tickets.factories import EventInfo, make_paid_order

ADMITONE = str(Path(sys.executable).parent / "admitone")
REDIS_SERVER = os.environ.get("ADMITONE_TEST_REDIS", "redis://127.0.0.1:6379")


@pytest.fixture
def redis_url() -> Iterator[str]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    number = 10 + int(worker.removeprefix("gw") or 0) % 6
    url = f"{REDIS_SERVER}/{number}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def _deliveries(database: Database) -> int:
    with database.session(write=False) as session:
        return session.scalar(select(func.count()).select_from(Delivery)) or 0


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _worker_env(
    database_url: str, redis_url: str, smtp_port: int, tmp_path: Path
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADMITONE_")}
    env.update(
        ADMITONE_ENV="test",
        ADMITONE_DATABASE_URL=database_url,
        ADMITONE_DATABASE_POOL_SIZE="2",
        ADMITONE_REDIS_URL=redis_url,
        ADMITONE_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        ADMITONE_MAIL_FROM="tickets@example.org",
        ADMITONE_OUTBOX_DIR=str(tmp_path / "outbox"),
        ADMITONE_MEDIA_DIR=str(tmp_path / "media"),
        ADMITONE_LOG_LEVEL="INFO",
    )
    return env


def _confirm_through_celery(
    database: Database, settings: Settings, order_ids: list[uuid.UUID]
) -> None:
    """Enqueue each order's confirmation the way the app does it: after its own commit,
    to Celery on Redis; the runner is closed after, which sends what it holds."""
    runner = CeleryRunner(settings)
    previous = install_runner(runner)
    try:
        for order_id in order_ids:
            with database.session() as session:
                enqueue_after_commit(
                    session, "notifications.send_order_confirmation", order_id=str(order_id)
                )
    finally:
        install_runner(previous)
        runner.close()


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            [ADMITONE, "worker", "--pool=solo", "--concurrency=1", "--loglevel=INFO"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed whole
        )


def _kill(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    process.wait(timeout=30)


def test_celery_settings_make_jobs_survive_a_dead_worker(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    celery = make_celery(make_settings(redis_url=redis_url))
    assert celery.conf.task_acks_late is True
    assert celery.conf.task_reject_on_worker_lost is True
    assert celery.conf.worker_prefetch_multiplier == 1
    task = celery.tasks["notifications.send_order_confirmation"]
    assert task.acks_late and task.reject_on_worker_lost
    assert task.retry_backoff and task.max_retries and task.autoretry_for
    schedule = {entry["task"] for entry in celery.conf.beat_schedule.values()}
    assert schedule == {
        "orders.expire_holds",
        "notifications.send_event_reminders",
        "notifications.catch_up_confirmations",
        "orders.catch_up_cancelled_refunds",
    }


def test_worker_killed_mid_job_the_job_still_completes_once(
    clean_database: Database,
    database_url: str,
    make_settings: Callable[..., Settings],
    redis_url: str,
    smtp_server: tuple[Inbox, int],
    tmp_path: Path,
) -> None:
    inbox, port = smtp_server
    pause = tmp_path / "pause"
    started = tmp_path / "pause.started"
    visibility = 3
    env = _worker_env(database_url, redis_url, port, tmp_path)
    env.update(
        ADMITONE_JOBS_TEST_PAUSE_FILE=str(pause),
        ADMITONE_JOBS_VISIBILITY_TIMEOUT_SECONDS=str(visibility),
    )
    shop = make_shop(clean_database, capacity=10)
    event = EventInfo(shop.event_id, shop.organization_id, shop.ticket_type_ids)
    order = make_paid_order(clean_database, event, quantities={shop.ticket_type_id: 2})

    _confirm_through_celery(clean_database, make_settings(redis_url=redis_url), [order.id])
    queued = redis.Redis.from_url(redis_url)
    assert queued.llen(QUEUE) == 1

    pause.touch()
    log = tmp_path / "workers.log"
    first = _start_worker(env, log)
    try:
        _wait(started.exists, 60, "the first worker to start the job")
        _kill(first)  # SIGKILL, mid-job: nothing acknowledged, nothing sent
    finally:
        _kill(first)
    assert first.returncode == -signal.SIGKILL
    time.sleep(0.5)
    assert inbox.messages == []
    assert _deliveries(clean_database) == 0

    pause.unlink()
    second = _start_worker(env, log)
    try:
        # Redis hands the unacknowledged message out again after the visibility timeout.
        inbox.wait_for(1, timeout=90)
        _wait(lambda: _deliveries(clean_database) == 1, 30, "the delivery marker")
        # Past another visibility timeout: no second delivery of the same job.
        time.sleep(visibility * 2 + 1)
    finally:
        _kill(second, signal.SIGTERM)
    assert len(inbox.messages) == 1, log.read_text()[-3000:]
    assert _deliveries(clean_database) == 1
    [message] = inbox.messages
    assert order.code in message["Subject"] or order.code in str(
        message.get_body(preferencelist=("plain",)).get_content()
    )
    assert (
        len([p for p in message.iter_attachments() if p.get_filename().startswith("ticket-")]) == 2
    )
    assert queued.llen(QUEUE) == 0
    queued.close()


def test_jobs_of_one_instant_travel_as_one_message_and_each_runs_once(
    clean_database: Database,
    database_url: str,
    make_settings: Callable[..., Settings],
    redis_url: str,
    smtp_server: tuple[Inbox, int],
    tmp_path: Path,
) -> None:
    inbox, port = smtp_server
    shop = make_shop(clean_database, capacity=10)
    event = EventInfo(shop.event_id, shop.organization_id, shop.ticket_type_ids)
    orders = [
        make_paid_order(clean_database, event, quantities={shop.ticket_type_id: 1})
        for _ in range(3)
    ]

    _confirm_through_celery(
        clean_database, make_settings(redis_url=redis_url), [order.id for order in orders]
    )
    queued = redis.Redis.from_url(redis_url)
    [message] = queued.lrange(QUEUE, 0, -1)
    assert json.loads(message)["headers"]["task"] == BATCH_TASK

    worker = _start_worker(_worker_env(database_url, redis_url, port, tmp_path), tmp_path / "log")
    try:
        inbox.wait_for(3, timeout=90)
        _wait(lambda: _deliveries(clean_database) == 3, 30, "the delivery markers")
        time.sleep(1)  # nothing more arrives
    finally:
        _kill(worker, signal.SIGTERM)
    assert len(inbox.messages) == 3
    bodies = [str(m.get_body(preferencelist=("plain",)).get_content()) for m in inbox.messages]
    mailed = sorted(order.code for order in orders for body in bodies if order.code in body)
    assert mailed == sorted(order.code for order in orders)
    assert queued.llen(QUEUE) == 0
    queued.close()


def test_a_job_run_by_a_worker_can_ask_for_another(
    clean_database: Database,
    database_url: str,
    redis_url: str,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A job that asks for another (``enqueue_after_commit`` in its unit of work) sends it
    to the queue: without a runner in the worker process it was dropped."""
    order_id = str(uuid.uuid4())

    def asks_for_another(context: JobContext) -> None:
        with context.database.session() as session:
            enqueue_after_commit(
                session, "notifications.send_order_confirmation", order_id=order_id
            )

    # The worker process as `admitone worker` starts it: settings from its environment,
    # no runner installed, the job's task run the way Celery runs it (in this process).
    monkeypatch.setenv("ADMITONE_DATABASE_URL", database_url)
    monkeypatch.setenv("ADMITONE_REDIS_URL", redis_url)
    monkeypatch.setattr(celery_app, "_context", None)
    monkeypatch.setitem(registry._jobs, "orders.expire_holds", asks_for_another)
    get_settings.cache_clear()
    previous = install_runner(None)
    app = make_celery(make_settings(redis_url=redis_url))
    try:
        app.tasks["orders.expire_holds"].run()
    finally:
        install_runner(previous)
        if celery_app._context is not None:
            celery_app._context.database.dispose()
        get_settings.cache_clear()
        app.close()

    queued = redis.Redis.from_url(redis_url)
    [message] = queued.lrange(QUEUE, 0, -1)
    queued.close()
    assert json.loads(message)["headers"]["task"] == "notifications.send_order_confirmation"
    assert json.loads(message)["headers"]["kwargsrepr"] == repr({"order_id": order_id})


def test_worker_command_needs_redis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADMITONE_")}
    env["ADMITONE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.db'}"
    result = subprocess.run(
        [ADMITONE, "worker"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "ADMITONE_REDIS_URL" in result.stderr
