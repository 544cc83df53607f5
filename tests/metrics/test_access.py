"""Who may read /metrics: a bearer token and/or allowed networks; off in production
unless one is set; loopback only elsewhere by default. Refusals are JSON errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from admitone.config import Settings
from admitone.metrics.middleware import MetricsMiddleware
from tests.metrics.conftest import TOKEN, parse

PRODUCTION = {
    "env": "production",
    "secret_key": "s" * 40,
    "payment_provider": "stripe",
    "stripe_secret_key": "sk_test_x",
    "stripe_webhook_secret": "whsec_x",
}
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@contextmanager
def client_at(app: FastAPI, host: str) -> Iterator[TestClient]:
    with TestClient(app, client=(host, 50000), raise_server_exceptions=False) as client:
        yield client


def status_from(app: FastAPI, host: str, headers: dict[str, str] | None = None) -> int:
    with client_at(app, host) as client:
        response = client.get("/metrics", headers=headers or {})
    if response.status_code == 200:
        parse(response.text)
    else:
        error = response.json()["error"]
        assert set(error) == {"code", "message", "details"}
    return response.status_code


def test_production_without_a_token_or_networks_serves_no_metrics(
    make_app: Callable[..., FastAPI],
):
    app = make_app(**PRODUCTION)
    assert status_from(app, "127.0.0.1") == 404
    assert status_from(app, "127.0.0.1", BEARER) == 404
    # Off means off: requests are not even counted.
    assert not any(middleware.cls is MetricsMiddleware for middleware in app.user_middleware)


def test_by_default_elsewhere_only_loopback_clients(make_app: Callable[..., FastAPI]):
    app = make_app()
    assert status_from(app, "127.0.0.1") == 200
    assert status_from(app, "::1") == 200
    assert status_from(app, "10.1.2.3") == 403
    assert status_from(app, "testclient") == 403  # not an address: no network has it


def test_a_token_alone_is_required_from_anywhere(make_app: Callable[..., FastAPI]):
    app = make_app(**PRODUCTION, metrics_token=TOKEN)
    assert status_from(app, "203.0.113.9", BEARER) == 200
    assert status_from(app, "127.0.0.1") == 401
    assert status_from(app, "203.0.113.9", {"Authorization": f"Bearer {TOKEN}x"}) == 401
    assert status_from(app, "203.0.113.9", {"Authorization": f"Basic {TOKEN}"}) == 401
    assert status_from(app, "203.0.113.9", {"Authorization": "Bearer"}) == 401
    with client_at(app, "203.0.113.9") as client:
        refused = client.get("/metrics")
    assert refused.json()["error"]["code"] == "NOT_AUTHENTICATED"


def test_networks_alone_decide(make_app: Callable[..., FastAPI]):
    app = make_app(**PRODUCTION, metrics_allowed_networks="10.0.0.0/8, 2001:db8::/32")
    assert status_from(app, "10.20.30.40") == 200
    assert status_from(app, "::ffff:10.20.30.40") == 200  # IPv4 on a dual-stack socket
    assert status_from(app, "2001:db8::7") == 200
    assert status_from(app, "192.168.1.1") == 403
    assert status_from(app, "127.0.0.1") == 403  # the list replaces the loopback default
    with client_at(app, "192.168.1.1") as client:
        assert client.get("/metrics").json()["error"]["code"] == "PERMISSION_DENIED"


def test_a_token_and_networks_both_required(make_app: Callable[..., FastAPI]):
    app = make_app(metrics_token=TOKEN, metrics_allowed_networks="10.0.0.0/8")
    assert status_from(app, "10.0.0.7", BEARER) == 200
    assert status_from(app, "10.0.0.7") == 401
    assert status_from(app, "192.168.1.1", BEARER) == 403


def test_the_metrics_settings_are_checked(make_settings: Callable[..., Settings]):
    with pytest.raises(ValidationError, match="metrics_allowed_networks"):
        make_settings(metrics_allowed_networks="10.0.0.0/33")
    with pytest.raises(ValidationError, match="metrics_allowed_networks"):
        make_settings(metrics_allowed_networks="intranet")
    with pytest.raises(ValidationError, match="16 characters"):
        make_settings(metrics_token="short")
    assert make_settings(metrics_token="").metrics_token is None
    networks = make_settings(metrics_allowed_networks="10.1.2.3/8,::1").metrics_allowed_networks
    assert [str(network) for network in networks] == ["10.0.0.0/8", "::1/128"]
