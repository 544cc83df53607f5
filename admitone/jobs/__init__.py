"""Background jobs: named ``<domain>.<verb>``, given ids only, enqueued after commit.

A service asks for a job with ``enqueue_after_commit(session, "notifications.send_x",
order_id=...)``; the request is kept on the session (``session.info``) and handed to the
runner only when that unit of work commits. A rolled-back unit of work enqueues nothing.

Runners (docs/jobs.md): ``InProcessRunner`` (threads, the embedded default) and
``CeleryRunner`` (Redis, ``admitone worker``). The app's lifespan installs one, and a
Celery worker its own (``WorkerRunner``); with none installed (a script, a test without
an app) a requested job is logged and dropped.
"""

from __future__ import annotations

from admitone.jobs.registry import (
    JobContext,
    Runner,
    TransientJobError,
    current_runner,
    enqueue,
    enqueue_after_commit,
    install_runner,
    job,
    registered_jobs,
    run_job,
    test_checkpoint,
)

__all__ = [
    "JobContext",
    "Runner",
    "TransientJobError",
    "current_runner",
    "enqueue",
    "enqueue_after_commit",
    "install_runner",
    "job",
    "registered_jobs",
    "run_job",
    "test_checkpoint",
]
