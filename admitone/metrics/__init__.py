"""Prometheus instruments, and counting what a unit of work did once it commits.

Framework-free (services import this package): the instruments are made here once per
process, the middleware (``middleware.py``) counts requests, and ``api.py`` serves
``GET /metrics``. With several serving processes, prometheus_client's multiprocess mode
keeps each process's values in files under ``PROMETHEUS_MULTIPROC_DIR`` and the
scraped process sums them; that mode is chosen when prometheus_client is imported, so
the variable must be set before (``admitone serve --workers N`` does it). See
docs/metrics.md.

Counting is cheap on purpose: a counter's ``inc`` is a lock and an addition (a write
into a memory-mapped file in multiprocess mode); no database query is ever made for it.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.orm import Session

# Seconds. The buying path answers in milliseconds; a sale under load in tenths.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "admitone_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "admitone_http_request_duration_seconds",
    "Time from a request's arrival to its last byte sent, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)

ORDERS_CREATED = Counter("admitone_orders_created", "Orders created (seats held), committed.")
ORDERS_PAID = Counter("admitone_orders_paid", "Orders that became paid, committed.")
PAYMENTS = Counter(
    "admitone_payments",
    "Payment notifications that changed a payment, by result (succeeded, failed).",
    ["result"],
)
PAYMENTS_SUCCEEDED = PAYMENTS.labels(result="succeeded")
PAYMENTS_FAILED = PAYMENTS.labels(result="failed")
# Counted by checkin.service, which makes one child per result once (SCANS_BY_RESULT).
SCANS = Counter("admitone_scans", "Ticket scans recorded at the gates, by result.", ["result"])

JOB_FAILURES = Counter(
    "admitone_job_failures",
    "Jobs that failed for good in this app's processes (no retry left, or not retryable).",
    ["job"],
)
# Gauges are sampled (api.py), never kept up to date on the hot path. "livesum": summed
# over the serving processes alive, as each has its own pool and in-process runner.
DB_POOL_CHECKED_OUT = Gauge(
    "admitone_db_pool_checked_out",
    "Database connections in use (summed over serving processes).",
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "admitone_db_pool_size",
    "Database connections kept open per pool, summed over serving processes "
    "(each pool may grow to twice this under load).",
    multiprocess_mode="livesum",
)
JOBS_IN_PROCESS_QUEUED = Gauge(
    "admitone_jobs_in_process_queued",
    "Embedded mode: jobs submitted to the in-process runner and not finished yet "
    "(waiting, running or waiting for a retry), summed over serving processes.",
    multiprocess_mode="livesum",
)
# The Redis queue is one for all processes: the latest sample is the value.
JOBS_REDIS_QUEUE_LENGTH = Gauge(
    "admitone_jobs_redis_queue_length",
    "Celery mode: jobs waiting in the Redis queue (not yet taken by a worker).",
    multiprocess_mode="mostrecent",
)


_PENDING_KEY = "admitone.metrics.pending"


def count_after_commit(session: Session, counter: Any) -> None:
    """Count one on ``counter`` (an unlabelled counter or a labelled child) when this
    session's transaction commits; a rollback forgets it. So a sale that fails at its
    commit is not counted as made."""
    pending = session.info.get(_PENDING_KEY)
    if pending is None:
        session.info[_PENDING_KEY] = [counter]
    else:
        pending.append(counter)


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    if pending:
        for counter in pending:
            counter.inc()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
