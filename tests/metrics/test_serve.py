"""`admitone serve --workers 2`: real processes, each counting in its own files, and a
/metrics that sums them, whichever worker answers the scrape."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.metrics.conftest import SCRAPE_HEADERS, TOKEN, parse, value
from tests.test_cli import _serving

HEALTHZ = {"method": "GET", "route": "/healthz", "status": "200"}
REQUESTS = "admitone_http_requests_total"


def _worker_environments(server_pid: int) -> list[dict[str, str]]:
    """The environment each worker process started with (uvicorn spawns them)."""
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    environments = []
    for pid in children:
        if b"spawn_main" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            continue
        raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        environments.append(dict(item.decode().split("=", 1) for item in raw if b"=" in item))
    return environments


def _healthz_by_process(folder: Path) -> dict[str, float]:
    """Each process's own count of GET /healthz, from its own counter file."""
    counts = {}
    for path in folder.glob("counter_*.db"):
        for family in MultiProcessCollector.merge([str(path)]):
            for sample in family.samples:
                if sample.name == REQUESTS and sample.labels == HEALTHZ:
                    counts[path.stem] = sample.value
    return counts


def _one_request_per_connection(base: str, count: int) -> None:
    def get(_: int) -> None:
        with httpx.Client(timeout=30) as client:  # a new connection: any worker may take it
            assert client.get(f"{base}/healthz").status_code == 200

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(get, range(count)))


@pytest.mark.timeout_sensitive
def test_two_workers_metrics_sum_both_processes(tmp_path):
    with _serving(
        tmp_path, "--workers", "2", ADMITONE_METRICS_TOKEN=TOKEN, ADMITONE_DATABASE_POOL_SIZE="3"
    ) as (server, base):
        environments = _worker_environments(server.pid)
        assert len(environments) == 2
        folders = {environment.get("PROMETHEUS_MULTIPROC_DIR") for environment in environments}
        assert len(folders) == 1 and None not in folders  # one folder, shared
        folder = Path(folders.pop())
        assert folder.is_dir()

        sent = 0
        deadline = time.monotonic() + 60
        while len(_healthz_by_process(folder)) < 2:  # until both workers have answered some
            assert time.monotonic() < deadline, "one worker took every connection"
            _one_request_per_connection(base, 40)
            sent += 40
        by_process = _healthz_by_process(folder)
        assert sum(by_process.values()) == sent
        assert all(count > 0 for count in by_process.values())

        # Whichever worker answers, the scrape sums both: several scrapes, each the total.
        for _ in range(4):
            with httpx.Client(timeout=10) as client:
                response = client.get(f"{base}/metrics", headers=SCRAPE_HEADERS)
            assert response.status_code == 200, response.text
            samples = parse(response.text)
            assert value(samples, REQUESTS, **HEALTHZ) == sent
            # Each live process's pool (3 connections) is summed.
            assert value(samples, "admitone_db_pool_size") == 6
        assert httpx.get(f"{base}/metrics", timeout=10).status_code == 401
    # The folder made for this run is gone with it.
    assert not folder.exists()


@pytest.mark.timeout_sensitive
def test_a_given_folder_is_emptied_at_start_and_kept(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    stale = folder / "counter_999999.db"
    stale.write_bytes(b"\0" * 64)  # a previous run's file: it must not add up again
    with _serving(
        tmp_path,
        "--workers",
        "2",
        ADMITONE_METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(folder),
    ) as (_server, base):
        assert not stale.exists()
        _one_request_per_connection(base, 5)
        response = httpx.get(f"{base}/metrics", headers=SCRAPE_HEADERS, timeout=10)
        assert value(parse(response.text), REQUESTS, **HEALTHZ) == 5
    assert folder.is_dir()
