"""A real `admitone serve` process for tests that need what only a server shows: memory
(RSS), sockets, several worker processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

ADMITONE = str(Path(sys.executable).parent / "admitone")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a server on its own SQLite file, without the caller's
    ADMITONE_* settings; ``extra`` overrides (a PostgreSQL URL, limits)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADMITONE_")}
    env.update(
        {
            "ADMITONE_ENV": "test",
            "ADMITONE_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
            "ADMITONE_MEDIA_DIR": str(tmp_path / "media"),
            "ADMITONE_OUTBOX_DIR": str(tmp_path / "outbox"),
            "ADMITONE_LOG_LEVEL": "WARNING",
            "ADMITONE_HOLD_SWEEP_ENABLED": "false",
            **extra,
        }
    )
    return env


@contextmanager
def serving(tmp_path: Path, *args: str, **env: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`admitone serve` on a free port until the block ends: the process and its URL.
    Its output goes to ``tmp_path / "serve.log"``."""
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [ADMITONE, "serve", "--port", str(port), *args],
        env=server_env(tmp_path, **env),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        # Generous: two workers importing the app on a loaded 2-core machine took 40 s.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the server stopped: {(tmp_path / 'serve.log').read_text()}")
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("the server did not become ready")
        yield process, base
    finally:
        stop(process)
        log.close()


def stop(process: subprocess.Popen[Any]) -> None:
    """End ``process`` if it still runs: SIGTERM, then SIGKILL after 20 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def rss_bytes(pid: int) -> int:
    """The resident memory of a process (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")
