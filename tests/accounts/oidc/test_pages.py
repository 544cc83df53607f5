"""The sign-in pages against a real local OpenID Connect provider (see fake_provider.py):
start -> provider -> callback, and every way the callback must refuse."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from admitone.accounts.models import User
from admitone.accounts.oidc.models import IdentityLink
from admitone.db import Database
from admitone.web.pages.oidc import STATE_COOKIE
from admitone.web.security import SESSION_COOKIE
from tests.accounts.oidc.fake_provider import FakeProvider, provider_settings
from tests.helpers import PASSWORD, register
from tests.web.helpers import HTML, get_page


@pytest.fixture
def app(make_app: Callable[..., FastAPI], oidc_provider: FakeProvider) -> FastAPI:
    return make_app(oidc_providers=[provider_settings(oidc_provider.url)])


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _start(client: TestClient, next_url: str | None = None) -> str:
    """Start a sign-in; returns the provider's authorization URL."""
    query = {"next": next_url} if next_url else None
    response = get_page(client, "/auth/oidc/mock/start", params=query, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert client.cookies.get(STATE_COOKIE)
    return response.headers["location"]


def _callback(client: TestClient, provider_redirect: str, **headers: str):
    """Follow the provider's redirect back to us (its host is our public_url)."""
    parts = urlsplit(provider_redirect)
    assert parts.path == "/auth/oidc/mock/callback"
    return client.get(
        f"{parts.path}?{parts.query}", headers={**HTML, **headers}, follow_redirects=False
    )


def _new_subject(provider: FakeProvider, **claims: object) -> tuple[str, str]:
    subject = f"sub-{uuid.uuid4().hex[:12]}"
    email = f"{subject}@example.com"
    provider.set_user(subject, **{"email": email, "email_verified": True, "name": "Ada", **claims})
    return subject, email


def _count(database: Database, model: type) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_the_login_page_offers_the_provider(client: TestClient) -> None:
    page = get_page(client, "/login?next=/account/tickets")
    assert "Sign in with Mock ID" in page.text
    assert 'href="/auth/oidc/mock/start?next=%2Faccount%2Ftickets"' in page.text


def test_the_authorization_request_uses_pkce_s256_a_nonce_and_our_callback(
    client: TestClient, app: FastAPI
) -> None:
    query = parse_qs(urlsplit(_start(client)).query)
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert len(query["nonce"][0]) >= 32 and len(query["state"][0]) >= 32
    assert "openid" in query["scope"][0].split()
    assert query["redirect_uri"] == [f"{app.state.settings.public_url}/auth/oidc/mock/callback"]


def test_a_new_person_signs_in_and_lands_where_they_came_from(
    client: TestClient, oidc_provider: FakeProvider, clean_database: Database
) -> None:
    subject, email = _new_subject(oidc_provider)
    redirect = oidc_provider.authorize(_start(client, "/account/tickets"), subject)

    response = _callback(client, redirect)

    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/account/tickets?flash=welcome"
    assert client.cookies.get(SESSION_COOKIE)
    # The code was exchanged with the right PKCE verifier (the provider checked it).
    assert oidc_provider.pkce.exchanges[-1][1] is True
    account = get_page(client, "/account")
    assert account.status_code == 200
    assert email in account.text
    with clean_database.session() as session:
        link = session.scalar(select(IdentityLink).where(IdentityLink.subject == subject))
        assert link is not None and link.provider == "mock"


def test_a_verified_email_signs_in_to_the_existing_account(
    client: TestClient, oidc_provider: FakeProvider, clean_database: Database
) -> None:
    subject, email = _new_subject(oidc_provider)
    existing = register(client, email)
    redirect = oidc_provider.authorize(_start(client), subject)

    response = _callback(client, redirect)

    assert response.status_code == 303
    assert response.headers["location"] == "/?flash=logged_in"
    assert _count(clean_database, User) == 1
    with clean_database.session() as session:
        link = session.scalar(select(IdentityLink).where(IdentityLink.subject == subject))
        assert link is not None and str(link.user_id) == existing["user"]["id"]


def test_an_unverified_email_is_refused_with_an_explanation(
    client: TestClient, oidc_provider: FakeProvider, clean_database: Database
) -> None:
    subject, email = _new_subject(oidc_provider, email_verified=False)
    register(client, email, password=PASSWORD)
    redirect = oidc_provider.authorize(_start(client), subject)

    response = _callback(client, redirect)

    assert response.status_code == 403
    assert "has not verified your e-mail address" in response.text
    assert not client.cookies.get(SESSION_COOKIE)
    assert _count(clean_database, IdentityLink) == 0


def test_a_forged_state_is_refused_and_changes_nothing(
    client: TestClient, oidc_provider: FakeProvider, clean_database: Database
) -> None:
    subject, _email = _new_subject(oidc_provider)
    redirect = oidc_provider.authorize(_start(client), subject)
    parts = urlsplit(redirect)
    query = parse_qs(parts.query)
    forged = f"{parts.path}?code={query['code'][0]}&state=forged-{query['state'][0]}"

    response = client.get(forged, headers=HTML, follow_redirects=False)

    assert response.status_code == 400
    assert "This sign-in link is invalid or has expired" in response.text
    assert not client.cookies.get(SESSION_COOKIE)
    assert _count(clean_database, User) == 0
    # The code was never exchanged.
    assert all(code != query["code"][0] for code, _ok in oidc_provider.pkce.exchanges)


def test_a_callback_from_another_browser_is_refused(
    app: FastAPI, client: TestClient, oidc_provider: FakeProvider, clean_database: Database
) -> None:
    # Login CSRF: the attacker starts a sign-in with their own provider account and
    # sends the callback link to the victim, whose browser has no matching state.
    subject, _email = _new_subject(oidc_provider)
    redirect = oidc_provider.authorize(_start(client), subject)
    with TestClient(app, raise_server_exceptions=False) as victim:
        response = _callback(victim, redirect)
        assert response.status_code == 400
        assert not victim.cookies.get(SESSION_COOKIE)
    assert _count(clean_database, User) == 0


def test_a_callback_cannot_be_replayed(client: TestClient, oidc_provider: FakeProvider) -> None:
    subject, _email = _new_subject(oidc_provider)
    redirect = oidc_provider.authorize(_start(client), subject)
    assert _callback(client, redirect).status_code == 303

    again = _callback(client, redirect)

    assert again.status_code == 400
    assert "IDENTITY_LOGIN_STATE_INVALID" in again.text


def test_a_refusal_at_the_provider_says_so_in_french(
    client: TestClient, oidc_provider: FakeProvider
) -> None:
    redirect = oidc_provider.deny(_start(client))

    response = _callback(client, redirect, **{"accept-language": "fr"})

    assert response.status_code == 400
    assert "La connexion a été annulée ou refusée" in response.text
    assert not client.cookies.get(SESSION_COOKIE)


def test_an_address_elsewhere_is_not_followed_after_sign_in(
    client: TestClient, oidc_provider: FakeProvider
) -> None:
    subject, _email = _new_subject(oidc_provider)
    redirect = oidc_provider.authorize(_start(client, "//evil.example/phish"), subject)

    response = _callback(client, redirect)

    assert response.status_code == 303
    assert response.headers["location"] == "/?flash=welcome"


def test_an_unknown_provider_is_a_404_page(client: TestClient) -> None:
    for path in ("/auth/oidc/nope/start", "/auth/oidc/nope/callback?code=x&state=y"):
        response = get_page(client, path, follow_redirects=False)
        assert response.status_code == 404
        assert "This sign-in method is not available." in response.text


def test_a_provider_that_is_down_is_a_clear_503_page(
    make_app: Callable[..., FastAPI],
) -> None:
    # A port nothing listens on: connection refused.
    down = provider_settings("http://127.0.0.1:9", name="down", display_name="Down ID")
    with TestClient(make_app(oidc_providers=[down]), raise_server_exceptions=False) as client:
        response = get_page(client, "/auth/oidc/down/start", follow_redirects=False)
        french = get_page(client, "/auth/oidc/down/start", headers={"accept-language": "fr"})
    assert response.status_code == 503
    assert "We cannot reach the identity provider right now" in response.text
    assert french.status_code == 503
    assert "Nous ne pouvons pas joindre le fournisseur" in french.text


def test_odd_callback_input_is_a_4xx_page_never_a_500(
    client: TestClient, oidc_provider: FakeProvider
) -> None:
    _start(client)
    for query in ("", "?state=", "?code=" + "x" * 5000, "?error=" + "e" * 300, "?code=a&state=b"):
        response = client.get(f"/auth/oidc/mock/callback{query}", headers=HTML)
        assert 400 <= response.status_code < 500, (query, response.status_code)


def test_callbacks_count_against_the_login_rate_limit(
    make_app: Callable[..., FastAPI], oidc_provider: FakeProvider
) -> None:
    app = make_app(
        oidc_providers=[provider_settings(oidc_provider.url)], rate_limit_login="2/minute"
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        statuses = [
            client.get("/auth/oidc/mock/callback?code=a&state=b", headers=HTML).status_code
            for _ in range(3)
        ]
    assert statuses == [400, 400, 429]


DISCOVERY = "/.well-known/openid-configuration"


@pytest.mark.parametrize(("cache_seconds", "fetches"), [(3600, 1), (0, 2)])
def test_discovery_is_cached_for_the_configured_time(
    make_app: Callable[..., FastAPI],
    oidc_provider: FakeProvider,
    cache_seconds: int,
    fetches: int,
) -> None:
    app = make_app(
        oidc_providers=[provider_settings(oidc_provider.url)],
        oidc_discovery_cache_seconds=cache_seconds,
    )
    before = oidc_provider.pkce.paths.count(DISCOVERY)
    with TestClient(app, raise_server_exceptions=False) as client:
        _start(client)
        _start(client)
    assert oidc_provider.pkce.paths.count(DISCOVERY) - before == fetches


def test_an_account_with_a_second_factor_is_asked_for_it_after_the_provider(
    client: TestClient, oidc_provider: FakeProvider, clean_database: Database
) -> None:
    subject, email = _new_subject(oidc_provider)
    register(client, email)
    with clean_database.session() as session:
        user = session.scalar(select(User).where(User.email == email))
        assert user is not None
        user.two_factor_enabled = True
    redirect = oidc_provider.authorize(_start(client, "/account/tickets"), subject)

    response = _callback(client, redirect)

    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/login/second-factor")
    # No login yet: the second step opens it.
    assert not client.cookies.get(SESSION_COOKIE)
    assert get_page(client, "/account", follow_redirects=False).status_code in (303, 401)
