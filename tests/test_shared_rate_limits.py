"""Rate limits of a multi-process server: one count for all its workers (Redis), or a
clear warning at start-up (memory), and a refusal in production."""

from __future__ import annotations

import random
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from admitone.config import Settings
from tests.serving import ADMITONE, server_env, serving

REDIS_URL = "redis://127.0.0.1:6379/0"
LOGIN_LIMIT = 5
ATTEMPTS = 40


def _login_attempts(base: str) -> list[int]:
    """ATTEMPTS failed logins from one client address of its own (127.x.y.z: loopback
    takes the whole 127/8), each on a new connection, several at once, so that the
    kernel hands them to both workers; their statuses."""
    source = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"

    def attempt(_: int) -> int:
        transport = httpx.HTTPTransport(local_address=source)
        with httpx.Client(base_url=base, transport=transport, timeout=20) as client:
            return client.post(
                "/api/v1/auth/login",
                json={"email": "nobody@example.com", "password": "not-the-password"},
            ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(attempt, range(ATTEMPTS)))


@pytest.mark.timeout_sensitive
def test_the_login_limit_holds_across_two_workers_with_redis(tmp_path: Path) -> None:
    limits = {"ADMITONE_RATE_LIMIT_LOGIN": f"{LOGIN_LIMIT}/minute", "ADMITONE_PIN_WORKERS": "false"}
    # ADMITONE_REDIS_URL alone: the limits follow it (no ADMITONE_RATE_LIMIT_STORAGE_URL).
    with serving(tmp_path, "--workers", "2", ADMITONE_REDIS_URL=REDIS_URL, **limits) as (_, base):
        shared = _login_attempts(base)
    assert "WARNING" not in (tmp_path / "serve.log").read_text()
    assert shared.count(401) == LOGIN_LIMIT  # the limit, not once per worker
    assert shared.count(429) == ATTEMPTS - LOGIN_LIMIT

    # Negative control: memory counters, one per worker, let more through, and the
    # server says so when it starts.
    with serving(
        tmp_path, "--workers", "2", ADMITONE_RATE_LIMIT_STORAGE_URL="memory://", **limits
    ) as (_, base):
        unshared = _login_attempts(base)
    log = (tmp_path / "serve.log").read_text()
    assert "WARNING: 2 workers count the rate limits in memory" in log
    assert "ADMITONE_REDIS_URL" in log
    assert unshared.count(401) > LOGIN_LIMIT


def test_production_refuses_several_workers_with_unshared_rate_limits(tmp_path: Path) -> None:
    production = {
        "ADMITONE_ENV": "production",
        "ADMITONE_SECRET_KEY": "a-production-secret-of-at-least-32-characters",
        "ADMITONE_REDIS_URL": "",
        "ADMITONE_PAYMENT_PROVIDER": "stripe",
        "ADMITONE_STRIPE_SECRET_KEY": "sk_test_x",
        "ADMITONE_STRIPE_WEBHOOK_SECRET": "whsec_x",
    }
    refused = subprocess.run(
        [ADMITONE, "serve", "--workers", "2", "--port", "1"],
        env=server_env(tmp_path, **production),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "Refusing to start" in refused.stderr
    assert "ADMITONE_ALLOW_UNSHARED_RATE_LIMITS" in refused.stderr


def test_the_rate_limit_storage_follows_redis_unless_set() -> None:
    def settings(**values: object) -> Settings:
        return Settings(_env_file=None, **values)  # type: ignore[arg-type]

    assert settings().rate_limit_storage == "memory://"
    assert not settings().rate_limits_shared
    assert settings(redis_url=REDIS_URL).rate_limit_storage == REDIS_URL
    assert settings(redis_url="unix:///run/redis.sock").rate_limit_storage == (
        "redis+unix:///run/redis.sock"
    )
    explicit = settings(redis_url=REDIS_URL, rate_limit_storage_url="memory://")
    assert explicit.rate_limit_storage == "memory://"
    assert settings(rate_limits_enabled=False).rate_limits_shared


def test_an_unreachable_rate_limit_store_is_a_503_not_a_500(make_app) -> None:
    from fastapi.testclient import TestClient

    app = make_app(rate_limit_storage_url="redis://127.0.0.1:1/0")  # nothing listens
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.post(
            "/api/v1/auth/login", json={"email": "a@example.com", "password": "x" * 12}
        )
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert answer.headers["Retry-After"] == "2"
