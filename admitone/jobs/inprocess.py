"""The embedded runner: jobs on a small thread pool inside the app process.

Same job functions as the Celery workers, same retries (exponential backoff on transient
errors), no broker. A job in flight when the process dies is lost; the embedded mode
accepts that (the periodic jobs catch up, and docs/jobs.md says what does not).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import structlog

from admitone.jobs.registry import TRANSIENT_ERRORS, JobContext, run_job
from admitone.metrics import JOB_FAILURES

log = structlog.get_logger(__name__)

MAX_RETRIES = 5
BACKOFF_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0


class InProcessRunner:
    def __init__(
        self,
        context: JobContext,
        *,
        threads: int = 2,
        max_retries: int = MAX_RETRIES,
        backoff_seconds: float = BACKOFF_SECONDS,
    ) -> None:
        self.context = context
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="admitone-job")
        self._stopping = threading.Event()
        self._futures: set[Future[None]] = set()
        self._lock = threading.Lock()

    def submit(self, name: str, kwargs: dict[str, Any]) -> Future[None]:
        future = self._executor.submit(self._run, name, kwargs)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)

    def _run(self, name: str, kwargs: dict[str, Any]) -> None:
        for attempt in range(self.max_retries + 1):
            try:
                run_job(self.context, name, kwargs)
                return
            except TRANSIENT_ERRORS as exc:
                if attempt == self.max_retries or self._stopping.is_set():
                    log.error("job failed for good", job=name, error=repr(exc), **kwargs)
                    JOB_FAILURES.labels(job=name).inc()
                    return
                delay = min(self.backoff_seconds * 2**attempt, BACKOFF_MAX_SECONDS)
                log.warning("job failed, retrying", job=name, delay=delay, error=repr(exc))
                if self._stopping.wait(delay):
                    return
            except Exception:
                log.exception("job failed", job=name, **kwargs)
                JOB_FAILURES.labels(job=name).inc()
                return

    def pending_jobs(self) -> int:
        """Jobs submitted and not finished: waiting for a thread, running, or waiting
        out a retry delay (the metrics' in-process queue depth)."""
        with self._lock:
            return len(self._futures)

    def wait_idle(self, timeout: float = 30) -> bool:
        """Wait until no job is queued or running (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        while True:  # a job may enqueue more jobs (a fan-out): wait for those too
            with self._lock:
                futures = set(self._futures)
            if not futures:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            wait(futures, timeout=remaining)

    def close(self) -> None:
        # Let the running and queued jobs finish, but stop waiting out retry delays.
        self._stopping.set()
        self._executor.shutdown(wait=True)


class EagerRunner:
    """Runs each job at once in the thread that committed (tests; ``jobs_eager``).

    No retries and no concurrency: a failure is logged and the commit stands, as with
    the thread pool. ``wait_idle`` is trivially true once ``submit`` has returned.
    """

    def __init__(self, context: JobContext) -> None:
        self.context = context

    def submit(self, name: str, kwargs: dict[str, Any]) -> None:
        try:
            run_job(self.context, name, kwargs)
        except Exception:
            log.exception("job failed", job=name, **kwargs)
            JOB_FAILURES.labels(job=name).inc()

    def wait_idle(self, timeout: float = 30) -> bool:
        return True

    def close(self) -> None:
        pass
