"""Real processes for the relay's tests: upstream (`admitone serve`, on the backend under
test) and a relay (`admitone relay`, on its own SQLite file), each stopped at the end of
its block and startable again on the same port and files (a link that goes down and comes
back)."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serving import ADMITONE, free_port, server_env, stop


def wait_for(check: Callable[[], Any], what: str, *, seconds: float = 120) -> Any:
    """``check()``'s first true answer (a connection refused counts as none)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            found = check()
        except httpx.TransportError:
            found = None
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


@contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[str]]:
    with log.open("a") as output:
        process = subprocess.Popen(
            args, env=env, stdout=output, stderr=subprocess.STDOUT, text=True
        )
    try:
        yield process
    finally:
        stop(process)


@contextmanager
def upstream(tmp_path: Path, port: int, database_url: str) -> Iterator[str]:
    """`admitone serve` on ``port`` over ``database_url``, its log in upstream.log."""
    env = server_env(
        tmp_path, ADMITONE_DATABASE_URL=database_url, ADMITONE_RATE_LIMITS_ENABLED="false"
    )
    base = f"http://127.0.0.1:{port}"
    with _process(
        [ADMITONE, "serve", "--port", str(port)], env, tmp_path / "upstream.log"
    ) as process:
        wait_for(
            lambda: (
                process.poll() is None and httpx.get(f"{base}/readyz", timeout=1).status_code == 200
            ),
            "upstream",
        )
        yield base


@contextmanager
def relay_process(
    tmp_path: Path,
    *,
    upstream_url: str,
    event_id: uuid.UUID,
    token: str,
    port: int | None = None,
) -> Iterator[str]:
    """`admitone relay` on ``port`` (a free one by default), its file relay.db and its log
    relay.log in ``tmp_path``; ready once it has a bundle (pulled, or kept in its file)."""
    port = port or free_port()
    env = server_env(
        tmp_path,
        ADMITONE_RELAY_TOKEN=token,  # from the environment: not in the process list
        ADMITONE_RELAY_PUSH_EVERY="0.3",
        ADMITONE_RELAY_PULL_EVERY="1",
    )
    args = [
        ADMITONE,
        "relay",
        "--upstream",
        upstream_url,
        "--event",
        str(event_id),
        "--port",
        str(port),
        "--database",
        str(tmp_path / "relay.db"),
    ]
    base = f"http://127.0.0.1:{port}"
    with _process(args, env, tmp_path / "relay.log"):
        wait_for(
            lambda: httpx.get(f"{base}/relay/status", timeout=1).json()["data"]["ready"],
            "the relay's first pull",
        )
        yield base


def relay_status(relay: str) -> dict[str, Any]:
    return dict(httpx.get(f"{relay}/relay/status", timeout=5).json()["data"])
