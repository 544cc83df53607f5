"""ADMITONE_OIDC_PROVIDERS is checked at start-up."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from admitone.config import Settings

GOOGLE = {
    "name": "google",
    "display_name": "Google",
    "issuer": "https://accounts.google.com",
    "client_id": "client",
    "client_secret": "s3cr3t-value",
}
PRODUCTION = {"env": "production", "secret_key": "x" * 40}


def test_providers_are_read_as_json_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMITONE_OIDC_PROVIDERS", json.dumps([GOOGLE]))
    settings = Settings(_env_file=None)
    provider = settings.oidc_provider("google")
    assert provider is not None
    assert provider.client_secret is not None
    assert provider.client_secret.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(settings)
    assert settings.oidc_provider("other") is None


@pytest.mark.parametrize(
    ("providers", "extra"),
    [
        pytest.param([GOOGLE, GOOGLE], {}, id="two with one name"),
        pytest.param([{**GOOGLE, "name": "Google!"}], {}, id="name not url-safe"),
        pytest.param([{**GOOGLE, "issuer": "accounts.google.com"}], {}, id="issuer not a URL"),
        pytest.param([{**GOOGLE, "scopes": "email profile"}], {}, id="no openid scope"),
        pytest.param([{**GOOGLE, "unknown": 1}], {}, id="unknown field"),
        pytest.param(
            [{**GOOGLE, "issuer": "http://sso.example.com"}], PRODUCTION, id="http in production"
        ),
    ],
)
def test_a_wrong_provider_list_stops_the_start(providers: list[dict], extra: dict) -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, oidc_providers=providers, **extra)


def test_a_local_http_issuer_is_fine_outside_production() -> None:
    settings = Settings(
        _env_file=None, oidc_providers=[{**GOOGLE, "issuer": "http://127.0.0.1:9400"}]
    )
    assert settings.oidc_providers[0].issuer == "http://127.0.0.1:9400"
