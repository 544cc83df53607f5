"""The `admitone` command as a newcomer runs it: real processes on a fresh SQLite file."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
    # The operator vouches for the address: verified, no verification mail.
    with sqlite3.connect(tmp_path / "cli.db") as database:
        [(verified_at,)] = database.execute("SELECT email_verified_at FROM users").fetchall()
    assert verified_at is not None
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


def test_production_serve_refuses_the_test_provider(tmp_path):
    # Issue 13: with a real secret but no real payment provider, `serve` does not start.
    result = subprocess.run(
        [ADMITONE, "serve", "--port", str(_free_port())],
        env=_env(tmp_path, ADMITONE_ENV="production", ADMITONE_SECRET_KEY="k" * 40),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "ADMITONE_PAYMENT_PROVIDER is 'test'" in result.stderr
    assert "buyers would get tickets without paying" in result.stderr
    assert "Admit One on http" not in result.stdout


@contextmanager
def _serving(tmp_path: Path, *args: str, **env: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`admitone serve` running on a free port until the block ends; the process and its URL."""
    port = _free_port()
    process = subprocess.Popen(
        [ADMITONE, "serve", "--port", str(port), *args],
        env=_env(tmp_path, **env),
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
        yield process, base
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


@pytest.mark.timeout_sensitive
def test_serve_with_demo_data(tmp_path):
    with _serving(tmp_path, "--demo") as (process, base):
        events = httpx.get(f"{base}/api/v1/events", timeout=5).json()
        assert events["meta"]["total"] >= 3
        cities = {event["venue"]["city"] for event in events["data"]}
        categories = {event["category"] for event in events["data"]}
        assert len(cities) >= 3 and len(categories) >= 3
        assert all(
            event["ticket_types"] or event.get("min_price_minor") is not None
            for event in events["data"]
        )
        process.terminate()
        output, _ = process.communicate(timeout=20)
    # The credentials of the demo accounts are printed for the newcomer.
    assert "organizer" in output and "staff" in output and "buyer" in output
    assert "@" in output


def _worker_affinities(server: subprocess.Popen[str]) -> list[set[int]]:
    """The CPU sets of the server's worker processes (uvicorn spawns them from the
    server process; a resource tracker sits beside them, but imports no app)."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    workers = [
        int(pid)
        for pid in children
        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        and b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    return [os.sched_getaffinity(pid) for pid in workers]


def _settled_worker_affinities(server: subprocess.Popen[str]) -> list[set[int]]:
    """The workers' CPU sets once both have pinned themselves (where there is a CPU to
    choose): /readyz answers as soon as one worker serves, while the other may still be
    importing the app."""
    choice = len(os.sched_getaffinity(0)) >= 2
    deadline = time.monotonic() + 30
    pinned = _worker_affinities(server)
    while time.monotonic() < deadline and not (
        len(pinned) == 2 and (not choice or all(len(cpus) == 1 for cpus in pinned))
    ):
        time.sleep(0.2)
        pinned = _worker_affinities(server)
    return pinned


@pytest.mark.timeout_sensitive
def test_serve_pins_each_worker_process_to_a_cpu_of_its_own(tmp_path):
    allowed = os.sched_getaffinity(0)
    with _serving(tmp_path, "--workers", "2") as (server, _):
        pinned = _settled_worker_affinities(server)
    assert len(pinned) == 2
    if len(allowed) >= 2:
        assert all(len(cpus) == 1 for cpus in pinned)
        assert pinned[0] != pinned[1]
        assert pinned[0] | pinned[1] <= allowed
    else:  # nothing to choose on one CPU
        assert pinned == [allowed, allowed]

    with _serving(tmp_path, "--workers", "2", ADMITONE_PIN_WORKERS="false") as (server, _):
        assert _worker_affinities(server) == [allowed, allowed]


@pytest.mark.timeout_sensitive
def test_serve_pins_its_single_process_to_a_cpu(tmp_path):
    allowed = os.sched_getaffinity(0)
    with _serving(tmp_path) as (server, _):
        threads = os.listdir(f"/proc/{server.pid}/task")  # uvicorn's and the app's threads
        pinned = [os.sched_getaffinity(int(thread)) for thread in threads]
    expected = 1 if len(allowed) >= 2 else len(allowed)
    assert all(len(cpus) == expected for cpus in pinned)
    assert len({frozenset(cpus) for cpus in pinned}) == 1  # all on the same CPU

    with _serving(tmp_path, ADMITONE_PIN_WORKERS="false") as (server, _):
        assert os.sched_getaffinity(server.pid) == allowed


def test_verify_organization_marks_it_verified_and_back(tmp_path):
    import sqlite3
    import uuid

    env = _env(tmp_path)
    migrated = subprocess.run(
        [ADMITONE, "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert migrated.returncode == 0, migrated.stderr
    with sqlite3.connect(tmp_path / "cli.db") as connection:
        connection.execute(
            "INSERT INTO organizations (id, name, slug, created_at, updated_at) "
            "VALUES (?, 'Nightfall', 'nightfall', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            (uuid.uuid4().hex,),
        )

    def verified_at() -> str | None:
        with sqlite3.connect(tmp_path / "cli.db") as connection:
            return connection.execute(
                "SELECT verified_at FROM organizations WHERE slug = 'nightfall'"
            ).fetchone()[0]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [ADMITONE, "verify-organization", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert verified_at() is None
    done = run("nightfall")
    assert done.returncode == 0, done.stderr
    assert "nightfall is verified" in done.stdout
    assert verified_at() is not None
    undone = run("nightfall", "--undo")
    assert undone.returncode == 0 and verified_at() is None
    missing = run("no-such-org")
    assert missing.returncode == 1 and "No such organization" in missing.stderr


def test_a_setting_that_cannot_be_read_stops_the_start_naming_it(tmp_path):
    # Not JSON where JSON is expected: no traceback, the variable named, exit 2.
    result = subprocess.run(
        [ADMITONE, "expire-holds"],
        env=_env(tmp_path, ADMITONE_OIDC_PROVIDERS="not json"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "ADMITONE_OIDC_PROVIDERS: cannot be read" in result.stderr
    assert "Traceback" not in result.stderr
