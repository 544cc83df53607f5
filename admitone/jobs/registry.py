"""The job registry, the after-commit hand-off and the runner slot (see the package doc)."""

from __future__ import annotations

import importlib
import smtplib
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from admitone import domains
from admitone.config import Environment, Settings
from admitone.db import Database
from admitone.errors import Busy

log = structlog.get_logger(__name__)

_PENDING_KEY = "admitone.jobs.pending"


class TransientJobError(Exception):
    """A failure worth retrying later (the mail server is down, a lock was busy)."""


# What a retry may cure. smtplib's errors are OSErrors; a refused recipient is retried a
# few times too, which is harmless (the attempts are bounded).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientJobError,
    OperationalError,
    Busy,
    OSError,
    smtplib.SMTPException,
)


@dataclass(frozen=True)
class JobContext:
    """What a job runs with: the process's settings and database."""

    settings: Settings
    database: Database


JobFunction = Callable[..., Any]
_jobs: dict[str, JobFunction] = {}


def job(name: str) -> Callable[[JobFunction], JobFunction]:
    """Register ``function(context, **ids)`` as the job ``name`` (``<domain>.<verb>``)."""
    if name.count(".") != 1:
        raise ValueError(f"job names are <domain>.<verb>, not {name!r}")

    def register(function: JobFunction) -> JobFunction:
        _jobs[name] = function
        return function

    return register


def registered_jobs() -> dict[str, JobFunction]:
    """Every job: those of the domains' job modules (admitone/domains.py), imported here
    so that a worker knows them all, and any other registered with ``@job`` (tests)."""
    for module in domains.job_modules():
        importlib.import_module(module)
    return dict(_jobs)


def run_job(context: JobContext, name: str, kwargs: dict[str, Any]) -> Any:
    """Run one job in this thread (the runners call this; so may a CLI command)."""
    function = registered_jobs().get(name)
    if function is None:
        raise LookupError(f"unknown job {name!r}")
    return function(context, **kwargs)


class Runner(Protocol):
    # The in-process runner answers the job's Future (the embedded periodic loops wait
    # for it); the runners that hand jobs on answer None.
    def submit(self, name: str, kwargs: dict[str, Any]) -> Future[None] | None: ...

    def close(self) -> None: ...


_runner: Runner | None = None


def install_runner(runner: Runner | None) -> Runner | None:
    """Make ``runner`` the one committed jobs go to; returns the previous one."""
    global _runner
    previous, _runner = _runner, runner
    return previous


def current_runner() -> Runner | None:
    return _runner


def _is_plain(value: Any) -> bool:
    return isinstance(value, str | int | bool | None)


def _check_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    # Ids only (and small plain values, or a list of ids): a job re-loads what it needs.
    for key, value in kwargs.items():
        if not (_is_plain(value) or (isinstance(value, list) and all(map(_is_plain, value)))):
            raise TypeError(f"job argument {key} must be an id (str/int), not {type(value)}")
    return kwargs


def enqueue_after_commit(session: Session, name: str, **kwargs: Any) -> None:
    """Ask for job ``name`` once this session's transaction commits (never before)."""
    session.info.setdefault(_PENDING_KEY, []).append((name, _checked(name, kwargs)))


def enqueue(name: str, **kwargs: Any) -> None:
    """Ask for job ``name`` now: a job's follow-up that no unit of work carries."""
    _submit(name, _checked(name, kwargs))


def _checked(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    if name not in registered_jobs():
        raise LookupError(f"unknown job {name!r}")
    return _check_kwargs(kwargs)


def _submit(name: str, kwargs: dict[str, Any]) -> None:
    runner = _runner
    if runner is None:
        log.warning("job dropped: no job runner installed", job=name, **kwargs)
        return
    try:
        runner.submit(name, kwargs)
    except Exception:  # the commit stands; a lost job is logged, never a 500
        log.exception("job could not be enqueued", job=name, **kwargs)


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session: Session) -> None:
    for name, kwargs in session.info.pop(_PENDING_KEY, None) or ():
        _submit(name, kwargs)


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


def test_checkpoint(context: JobContext, name: str) -> None:
    """Test-only hook: while ``jobs_test_pause_file`` exists, wait here.

    Writes ``<pause file>.started`` first, so a test knows the job is in flight (and may
    kill the worker at this point). Does nothing unless ADMITONE_ENV=test set the file.
    """
    pause = context.settings.jobs_test_pause_file
    if pause is None or context.settings.env != Environment.test:
        return
    if not pause.exists():
        return
    pause.with_name(pause.name + ".started").write_text(name)
    while pause.exists():
        time.sleep(0.05)
