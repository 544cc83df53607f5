"""ASGI entry point for uvicorn: ``admitone.main:app`` (a serving process imports it once)."""

import gc
import multiprocessing

from admitone.app import create_app
from admitone.config import get_settings
from admitone.cpu_affinity import pin_worker_to_cpu

# Garbage collection of a serving process: everything built so far (modules, the app,
# its routes and models) lives as long as the process, so it goes to the permanent
# generation, and a young collection waits for 10 000 new objects instead of 700: almost
# every object of a request is freed by reference counting anyway. Measured on the flash
# sale: the longest collection pause went from 150-190 ms to about 10 ms, and the time
# spent collecting from 0.48 s to 0.03 s per process (docs/performance-log.md).
GC_YOUNG_THRESHOLD = 10_000

app = create_app()
gc.collect()
gc.freeze()
gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])

# A worker spawned by `serve --workers N` (N > 1) has a parent process; the single process
# of `serve` has none and is pinned by the command itself (cli.py).
if get_settings().pin_workers and multiprocessing.parent_process() is not None:
    pin_worker_to_cpu()
