"""Sign in with an identity provider in headless Chromium, against a real local OpenID
Connect provider (oidc-provider-mock on 127.0.0.1, PKCE checked; see
tests/accounts/oidc/fake_provider.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from playwright.sync_api import BrowserContext, expect

from admitone.accounts.oidc import client as oidc_client
from tests.accounts.oidc.fake_provider import FakeProvider, provider_settings, running_provider
from tests.web.e2e.conftest import LiveServer, _free_port, axe_violations, screenshot


@pytest.fixture
def oidc_provider() -> Iterator[FakeProvider]:
    oidc_client.clear_cache()
    with running_provider() as provider:
        yield provider
    oidc_client.clear_cache()


@pytest.fixture
def live_server(
    make_app: Callable[..., FastAPI], oidc_provider: FakeProvider
) -> Iterator[LiveServer]:
    """The suite's live server, with the local provider configured."""
    port = _free_port()
    app = make_app(
        public_url=f"http://127.0.0.1:{port}",
        hold_sweep_enabled=False,
        oidc_providers=[provider_settings(oidc_provider.url)],
    )
    server = LiveServer(app, port)
    server.start()
    yield server
    server.stop()


def test_a_person_signs_in_with_the_provider_and_lands_on_their_account(
    oidc_provider: FakeProvider, new_context: Callable[..., BrowserContext]
) -> None:
    oidc_provider.set_user(
        "ada-42", email="ada.oidc@example.com", email_verified=True, name="Ada Lovelace"
    )
    # bypass_csp: axe-core is injected as an inline script (as in test_flows.py).
    page = new_context(bypass_csp=True).new_page()
    page.goto("/account")
    # Not logged in: the account page sends to the login page, which remembers it.
    expect(page).to_have_url("/login?next=%2Faccount")
    button = page.get_by_role("link", name="Sign in with Mock ID")
    expect(button).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "oidc-login-page")

    button.click()
    # At the provider's own page (another origin): who signs in.
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    assert page.url.startswith(oidc_provider.url + "/oauth2/authorize?")
    page.get_by_placeholder("sub").fill("ada-42")
    page.get_by_role("button", name="Authorize").click()

    # Back on the account page, logged in as the new account.
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    assert page.url.split("?")[0].endswith("/account")
    expect(page.get_by_text("ada.oidc@example.com")).to_be_visible()
    expect(page.get_by_label("Full name")).to_have_value("Ada Lovelace")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    assert oidc_provider.pkce.exchanges[-1][1] is True
    screenshot(page, "oidc-logged-in")


def test_a_refusal_at_the_provider_lands_on_a_clear_page_in_french(
    oidc_provider: FakeProvider, new_context: Callable[..., BrowserContext]
) -> None:
    page = new_context(locale="fr-FR", bypass_csp=True).new_page()
    page.goto("/login")
    page.get_by_role("link", name="Se connecter avec Mock ID").click()
    page.get_by_role("button", name="Deny").click()

    expect(page.get_by_role("heading", name="La connexion a échoué")).to_be_visible()
    expect(page.get_by_text("La connexion a été annulée ou refusée")).to_be_visible()
    expect(page.get_by_role("link", name="Retour à la page de connexion")).to_be_visible()
    assert axe_violations(page) == []
