"""Jobs are handed to the runner only after their unit of work commits; in-process mode."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from admitone.config import Settings
from admitone.db import Database
from admitone.errors import Conflict
from admitone.jobs import JobContext, TransientJobError, enqueue_after_commit, install_runner, job
from admitone.jobs.inprocess import InProcessRunner
from admitone.notifications.models import Delivery
from tests.factories import make_shop
from tests.notifications.conftest import read_outbox, wait_for_jobs
from tests.tickets.factories import EventInfo, make_paid_order

CONFIRMATION = "notifications.send_order_confirmation"


class Recorder:
    """A runner that only records what it was given."""

    def __init__(self) -> None:
        self.submitted: list[tuple[str, dict[str, Any]]] = []

    def submit(self, name: str, kwargs: dict[str, Any]) -> None:
        self.submitted.append((name, kwargs))

    def close(self) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder()
    previous = install_runner(recorder)
    yield recorder
    install_runner(previous)


def test_a_job_is_submitted_only_when_its_transaction_commits(
    clean_database: Database, recorder: Recorder
) -> None:
    order_id = str(uuid.uuid4())
    with clean_database.session() as session:
        enqueue_after_commit(session, CONFIRMATION, order_id=order_id)
        # Still inside the unit of work: nothing submitted yet.
        assert recorder.submitted == []
    assert recorder.submitted == [(CONFIRMATION, {"order_id": order_id})]

    with pytest.raises(RuntimeError), clean_database.session() as session:
        enqueue_after_commit(session, CONFIRMATION, order_id="rolled-back")
        raise RuntimeError("the unit of work fails")
    with pytest.raises(Conflict), clean_database.session() as session:
        enqueue_after_commit(session, CONFIRMATION, order_id="domain-error")
        raise Conflict()
    # A later commit on a fresh session does not resurrect the rolled-back requests.
    with clean_database.session():
        pass
    assert recorder.submitted == [(CONFIRMATION, {"order_id": order_id})]


def test_jobs_take_ids_only_and_known_names(clean_database: Database, recorder: Recorder) -> None:
    with clean_database.session() as session:
        with pytest.raises(TypeError):
            enqueue_after_commit(session, CONFIRMATION, order=object())
        with pytest.raises(LookupError):
            enqueue_after_commit(session, "notifications.no_such_job", order_id="x")
    assert recorder.submitted == []


def _paid_order(database: Database) -> uuid.UUID:
    shop = make_shop(database, capacity=10)
    event = EventInfo(
        id=shop.event_id,
        organization_id=shop.organization_id,
        ticket_type_ids=shop.ticket_type_ids,
    )
    return make_paid_order(database, event).id


def _deliveries(database: Database) -> int:
    with database.session(write=False) as session:
        return session.scalar(select(func.count()).select_from(Delivery)) or 0


def test_in_process_mode_a_rolled_back_unit_of_work_sends_nothing(
    make_app: Callable[..., FastAPI], clean_database: Database, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    order_id = _paid_order(clean_database)
    with TestClient(make_app(outbox_dir=outbox, jobs_eager=False)):
        with pytest.raises(RuntimeError), clean_database.session() as session:
            enqueue_after_commit(session, CONFIRMATION, order_id=str(order_id))
            raise RuntimeError("rolled back")
        wait_for_jobs()
        assert read_outbox(outbox) == []
        assert _deliveries(clean_database) == 0

        with clean_database.session() as session:
            enqueue_after_commit(session, CONFIRMATION, order_id=str(order_id))
        wait_for_jobs()
        assert len(read_outbox(outbox)) == 1
        assert _deliveries(clean_database) == 1

        # The same job again (a retry, a redelivery): the marker stops a second send.
        with clean_database.session() as session:
            enqueue_after_commit(session, CONFIRMATION, order_id=str(order_id))
        wait_for_jobs()
    assert len(read_outbox(outbox)) == 1
    assert _deliveries(clean_database) == 1


# --- retries ---------------------------------------------------------------------------

_attempts: dict[str, int] = {}
_attempts_lock = threading.Lock()


@job("testjobs.flaky")
def _flaky(context: JobContext, *, key: str, failures: int, permanent: bool = False) -> None:
    with _attempts_lock:
        _attempts[key] = _attempts.get(key, 0) + 1
        attempt = _attempts[key]
    if attempt <= failures:
        if permanent:
            raise ValueError("a bug, not worth retrying")
        raise TransientJobError("the mail server is down")


def test_in_process_runner_retries_transient_errors_with_backoff(
    clean_database: Database, settings: Settings
) -> None:
    runner = InProcessRunner(
        JobContext(settings=settings, database=clean_database), backoff_seconds=0.01
    )
    try:
        runner.submit("testjobs.flaky", {"key": "transient", "failures": 3})
        runner.submit("testjobs.flaky", {"key": "permanent", "failures": 3, "permanent": True})
        runner.submit("testjobs.flaky", {"key": "hopeless", "failures": 100})
        assert runner.wait_idle(30)
    finally:
        runner.close()
    assert _attempts["transient"] == 4  # three failures, then success
    assert _attempts["permanent"] == 1  # not transient: no retry
    assert _attempts["hopeless"] == runner.max_retries + 1  # bounded


def test_runner_choice_follows_the_settings(
    make_settings: Callable[..., Settings], clean_database: Database
) -> None:
    from admitone.jobs.celery_app import CeleryRunner
    from admitone.jobs.inprocess import EagerRunner
    from admitone.jobs.runners import make_runner

    chosen = [
        make_runner(make_settings(**overrides), clean_database)
        for overrides in (
            {},
            {"env": "development"},
            {"jobs_eager": False},
            {"redis_url": "redis://127.0.0.1:6379/15"},
        )
    ]
    try:
        assert [type(runner) for runner in chosen] == [
            EagerRunner,
            InProcessRunner,
            InProcessRunner,
            CeleryRunner,
        ]
    finally:
        for runner in chosen:
            runner.close()
