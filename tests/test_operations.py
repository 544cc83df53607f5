"""Health probes, security headers, request ids, structured logs, API docs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fastapi.testclient import TestClient

from admitone.app import create_app
from admitone.db import Database


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_the_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


def test_readyz_reports_an_unreachable_database(make_settings, tmp_path):
    # A PostgreSQL port where nothing listens: not ready, and no stack trace.
    settings = make_settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    database = Database(settings.database_url, pool_size=1)
    app = create_app(settings, database=database)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/readyz")
    database.dispose()
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert "Traceback" not in response.text


def test_security_headers_on_every_response(client):
    for path in ("/healthz", "/api/v1/me", "/api/v1/does-not-exist"):
        response = client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_request_id_is_echoed_or_generated(client):
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    # Anything odd is not reflected back (header injection, log forging).
    odd = client.get("/healthz", headers={"X-Request-ID": "a b\tc" + "x" * 100})
    assert odd.headers["x-request-id"] != "a b\tc" + "x" * 100


def test_access_log_is_json_with_request_id(make_app, capfd):
    app = make_app(log_level="INFO")
    with TestClient(app) as client:
        capfd.readouterr()
        client.get("/healthz", headers={"X-Request-ID": "trace-me-42"})
    lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    request_lines = [
        r for r in records if r.get("event") == "request" and r.get("path") == "/healthz"
    ]
    assert request_lines, lines
    assert request_lines[0]["request_id"] == "trace-me-42"
    assert request_lines[0]["status"] == 200
    assert "duration_ms" in request_lines[0]


def test_unknown_route_is_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_wrong_method_is_json_405(client):
    response = client.delete("/api/v1/auth/login")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_openapi_describes_every_route_with_errors(client):
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "Admit One"
    operations = [
        (path, method, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
        if path.startswith("/api/v1")
    ]
    assert len(operations) >= 10
    for path, method, operation in operations:
        assert operation.get("summary"), f"{method.upper()} {path} has no summary"
        error_statuses = [code for code in operation["responses"] if code.startswith(("4", "5"))]
        assert error_statuses, f"{method.upper()} {path} declares no error response"
    assert "ErrorResponse" in spec["components"]["schemas"]


def test_docs_page_served_without_any_cdn(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert "cdn" not in response.text.lower()
    assert "https://" not in response.text
    asset = client.get("/static-offline-docs/swagger-ui-bundle.js")
    assert asset.status_code == 200


def test_nul_characters_are_refused_everywhere(client):
    # PostgreSQL cannot store NUL in text: it must be a 400/422, never a 500.
    register = client.post(
        "/api/v1/auth/register",
        json={"email": "nul@example.com", "password": "a-long-password", "full_name": "A\u0000B"},
    )
    assert register.status_code == 422
    assert "NUL" in str(register.json()["error"]["details"])
    for path in (
        "/api/v1/organizations/a%00b/events",
        "/api/v1/events?q=a%00b",
        "/api/v1/events/x%00",
    ):
        response = client.get(path)
        assert response.status_code == 400, path
        assert response.json()["error"]["code"] == "BAD_REQUEST"
    assert (
        client.post(
            "/api/v1/auth/login", json={"email": "nul@example.com", "password": "a-long-password"}
        ).status_code
        == 401
    )


def test_the_concurrency_gate_queues_requests_but_not_health_checks():
    import anyio

    from admitone.middleware import ConcurrencyGateMiddleware

    answered: list[str] = []

    async def inner(scope, receive, send):
        answered.append(scope["path"])

    gate = ConcurrencyGateMiddleware(inner, limit=1)

    async def scenario() -> None:
        async with gate.semaphore:  # the one slot is taken by a request in flight
            with anyio.move_on_after(0.2):
                await gate({"type": "http", "path": "/api/v1/events"}, None, None)
            assert answered == []  # it waited at the gate
            await gate({"type": "http", "path": "/healthz"}, None, None)
            await gate({"type": "http", "path": "/readyz"}, None, None)
            assert answered == ["/healthz", "/readyz"]  # health checks went through
        await gate({"type": "http", "path": "/api/v1/events"}, None, None)
        assert answered[-1] == "/api/v1/events"  # the slot is free again

    anyio.run(scenario)


def test_a_serving_process_freezes_its_start_up_objects_out_of_garbage_collection(tmp_path):
    # What uvicorn imports in each worker process (admitone serve): admitone.main.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADMITONE_")}
    env["ADMITONE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'serve.db'}"
    probe = "import gc, admitone.main; print(gc.get_threshold()[0], gc.get_freeze_count())"
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    threshold, frozen = map(int, result.stdout.split())
    assert threshold == 10_000
    assert frozen > 10_000  # the modules, the app and its routes
