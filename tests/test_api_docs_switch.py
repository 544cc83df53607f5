"""ADMITONE_API_DOCS_ENABLED: /docs, /redoc and /openapi.json on in development and
test, off (404) in production unless turned on."""

from __future__ import annotations

from fastapi.testclient import TestClient

from admitone.config import Settings

DOCS_PATHS = ("/docs", "/redoc", "/openapi.json", "/static-offline-docs/swagger-ui-bundle.js")
PRODUCTION = {
    "env": "production",
    "secret_key": "a-production-secret-of-at-least-32-characters",
    "payment_provider": "stripe",
    "stripe_secret_key": "sk_test_x",
    "stripe_webhook_secret": "whsec_x",
}


def _statuses(make_app, **settings: object) -> list[int]:
    with TestClient(make_app(**settings), raise_server_exceptions=False) as client:
        return [client.get(path).status_code for path in DOCS_PATHS]


def test_the_api_docs_are_served_by_default_outside_production(make_app) -> None:
    assert _statuses(make_app) == [200, 200, 200, 200]


def test_the_api_docs_can_be_turned_off_and_are_then_unknown_paths(make_app) -> None:
    with TestClient(make_app(api_docs_enabled=False), raise_server_exceptions=False) as client:
        for path in DOCS_PATHS:
            answer = client.get(path)
            assert answer.status_code == 404, path
            assert answer.json()["error"]["code"] == "NOT_FOUND"
        # The API itself is untouched.
        assert client.get("/api/v1/events").status_code == 200


def test_production_turns_the_api_docs_off_unless_asked() -> None:
    assert Settings(_env_file=None, **PRODUCTION).api_docs_on is False  # type: ignore[arg-type]
    assert Settings(_env_file=None, api_docs_enabled=True, **PRODUCTION).api_docs_on is True  # type: ignore[arg-type]
    assert Settings(_env_file=None).api_docs_on is True
