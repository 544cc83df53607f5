"""The `admitone` command as a newcomer runs it: real processes on a fresh SQLite file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ADMITONE = str(Path(sys.executable).parent / "admitone")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADMITONE_")}
    env.update(
        ADMITONE_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}",
        ADMITONE_MEDIA_DIR=str(tmp_path / "media"),
        ADMITONE_LOG_LEVEL="WARNING",
        **extra,
    )
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_migrate_and_create_platform_admin(tmp_path):
    env = _env(tmp_path)
    migrated = subprocess.run(
        [ADMITONE, "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert migrated.returncode == 0, migrated.stderr
    created = subprocess.run(
        [
            ADMITONE,
            "create-user",
            "--email",
            "Root@Example.com",
            "--password",
            "a-long-admin-secret",
            "--platform-admin",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    assert "root@example.com (platform admin)" in created.stdout
    weak = subprocess.run(
        [ADMITONE, "create-user", "--email", "x@example.com", "--password", "short"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert weak.returncode == 1
    assert "password" in weak.stderr.lower()


def test_production_refuses_the_default_secret(tmp_path):
    result = subprocess.run(
        [ADMITONE, "migrate"],
        env=_env(tmp_path, ADMITONE_ENV="production"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ADMITONE_SECRET_KEY" in result.stderr


@pytest.mark.timeout_sensitive
def test_serve_with_demo_data(tmp_path):
    port = _free_port()
    process = subprocess.Popen(
        [ADMITONE, "serve", "--demo", "--port", str(port)],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not become ready")
        events = httpx.get(f"{base}/api/v1/events", timeout=5).json()
        assert events["meta"]["total"] >= 3
        cities = {event["venue"]["city"] for event in events["data"]}
        categories = {event["category"] for event in events["data"]}
        assert len(cities) >= 3 and len(categories) >= 3
        assert all(
            event["ticket_types"] or event.get("min_price_minor") is not None
            for event in events["data"]
        )
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    # The credentials of the demo accounts are printed for the newcomer.
    assert "organizer" in output and "staff" in output and "buyer" in output
    assert "@" in output
