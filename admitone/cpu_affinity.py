"""Keep each serving process on a CPU of its own (`admitone serve`, one or N workers).

A worker's event loop and its unit-of-work threads share one GIL, so the process never
runs on two CPUs at once, but the kernel still moves its threads between CPUs, and every
hand-over between them (a thread hop, the GIL passing, a reply from PostgreSQL) then
wakes another CPU. On the 2-vCPU machine we measure on, a wake-up across CPUs costs ten
times one on the same CPU (a socket ping-pong: 23 us of CPU against 2 us). Pinning the
two workers of the flash-sale benchmark to one CPU each cut the app's CPU time by about
10 % and raised paid orders per second by 15 %; pinning the single process of the
embedded mode more than doubled them (docs/performance-log.md).

Workers started together agree on the CPUs under a lock: each takes the allowed CPU
with the fewest siblings already pinned to it, so N workers spread over N CPUs and a
restarted worker fills the gap its predecessor left. The lock is an flock on the
parent's /proc entry, which every sibling can open and nobody has to clean up.
"""

from __future__ import annotations

import fcntl
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path


def pin_worker_to_cpu() -> int | None:
    """Pin this process (all its threads) to the least-taken CPU; the CPU, or None if
    there is nothing to choose (one CPU allowed, or no affinity support)."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None
    parent = os.getppid()
    with _siblings_lock(parent):
        taken = Counter(
            cpu for pid in _children_of(parent) if pid != os.getpid() for cpu in _pinned_cpu(pid)
        )
        cpu = min(allowed, key=lambda candidate: (taken[candidate], candidate))
        for thread_id in _threads_of_this_process():
            os.sched_setaffinity(thread_id, {cpu})
    return cpu


@contextmanager
def _siblings_lock(parent: int) -> Iterator[None]:
    with ExitStack() as stack:
        try:
            entry = stack.enter_context(Path(f"/proc/{parent}/cmdline").open("rb"))
        except OSError:  # the parent is gone: nobody left to agree with
            entry = None
        if entry is not None:
            fcntl.flock(entry, fcntl.LOCK_EX)  # released when the file closes
        yield


def _children_of(parent: int) -> list[int]:
    children_file = Path(f"/proc/{parent}/task/{parent}/children")
    try:
        return [int(pid) for pid in children_file.read_text().split()]
    except OSError:
        return []


def _pinned_cpu(pid: int) -> list[int]:
    """The one CPU a process is pinned to, if it is pinned to exactly one."""
    try:
        cpus = os.sched_getaffinity(pid)
    except OSError:  # gone meanwhile
        return []
    return list(cpus) if len(cpus) == 1 else []


def _threads_of_this_process() -> list[int]:
    # Affinity is per thread, and threads started later inherit it: pin those running now.
    try:
        return [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        return [0]
