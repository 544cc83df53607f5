"""The embedded mode's periodic loops: a run still going when the next tick comes is
not doubled (two runs of the confirmations' catch-up at once sent a message twice)."""

from __future__ import annotations

import asyncio
import threading
import time

from admitone.config import Settings
from admitone.db import Database
from admitone.jobs import JobContext, job
from admitone.jobs.inprocess import InProcessRunner
from admitone.jobs.periodic import run_periodically

_lock = threading.Lock()
_running = 0
_most_at_once = 0
_runs = 0


@job("testjobs.slow_periodic")
def slow_periodic(context: JobContext) -> None:
    global _running, _most_at_once, _runs
    with _lock:
        _running += 1
        _runs += 1
        _most_at_once = max(_most_at_once, _running)
    time.sleep(0.3)  # far longer than the interval: a slow mail server
    with _lock:
        _running -= 1


def test_a_slow_periodic_run_is_not_run_twice_at_once(
    settings: Settings, clean_database: Database
) -> None:
    runner = InProcessRunner(JobContext(settings=settings, database=clean_database), threads=2)

    async def tick_for_a_while() -> None:
        loop = asyncio.create_task(
            run_periodically(runner, "testjobs.slow_periodic", interval_seconds=0.02)
        )
        await asyncio.sleep(1.0)
        loop.cancel()

    try:
        asyncio.run(tick_for_a_while())
        assert _most_at_once == 1
        assert runner.wait_idle(5)
    finally:
        runner.close()
    assert _runs >= 2  # it did run again once each run had ended
