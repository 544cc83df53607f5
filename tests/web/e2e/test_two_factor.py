"""Two-factor in headless Chromium: an authenticator app set up from the QR page, and a
passkey registered and used with Chromium's virtual authenticator (CDP WebAuthn domain).

WebAuthn needs a relying-party id that is a domain: the server is reached as
http://localhost:PORT (browsers allow WebAuthn over http on localhost only) and its
public_url says so, which makes ``localhost`` the RP id and that origin the expected one.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import httpx
import pyotp
import pytest
import zxingcpp
from fastapi import FastAPI
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.helpers import PASSWORD, register
from tests.twofactor.helpers import Authenticator
from tests.web.e2e.conftest import DESKTOP, LiveServer, _free_port, axe_violations


@pytest.fixture
def localhost_server(make_app: Callable[..., FastAPI]) -> Iterator[LiveServer]:
    port = _free_port()
    app = make_app(public_url=f"http://localhost:{port}", hold_sweep_enabled=False)
    server = LiveServer(app, port)
    server.start()
    server.url = f"http://localhost:{port}"
    yield server
    server.stop()


@pytest.fixture
def site(browser: Browser, localhost_server: LiveServer) -> Iterator[BrowserContext]:
    """A browser on the site, its Content-Security-Policy enforced (passkeys.js must work
    under it)."""
    context = browser.new_context(base_url=localhost_server.url, viewport=DESKTOP, locale="en-GB")
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def checked_site(browser: Browser, localhost_server: LiveServer) -> Iterator[BrowserContext]:
    """The same, with the CSP bypassed so that axe-core can be injected."""
    context = browser.new_context(
        base_url=localhost_server.url, viewport=DESKTOP, locale="en-GB", bypass_csp=True
    )
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def api(localhost_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=localhost_server.url, timeout=20) as client:
        # tests.helpers.register verifies an address through the app's database.
        client.app = localhost_server.server.config.app  # type: ignore[attr-defined]
        yield client


def log_in_with_password(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()


def test_authenticator_app_set_up_from_the_qr_page_then_used_to_log_in(
    checked_site: BrowserContext, api: httpx.Client
):
    account = register(api)
    page = checked_site.new_page()
    log_in_with_password(page, account["email"])
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    page.goto("/account/security")
    page.get_by_role("button", name="Set up an authenticator app").click()
    secret = page.locator("[data-totp-secret]").inner_text().strip()
    # The QR code on the page carries the same secret, for the app to scan.
    picture = Image.open(io.BytesIO(page.locator("[data-totp-qr]").screenshot()))
    decoded = zxingcpp.read_barcodes(picture)
    assert decoded, "no QR code found in the set-up page's image"
    assert pyotp.parse_uri(decoded[0].text).secret == secret
    assert not axe_violations(page)

    app = Authenticator(secret)
    page.get_by_label("Code from the app").fill(app.code())
    page.get_by_role("button", name="Turn on").click()
    codes = page.locator("[data-recovery-codes] li")
    expect(codes).to_have_count(10)
    page.get_by_role("link", name="I have saved them").click()
    expect(page.locator("[data-two-factor-state=on]")).to_be_visible()

    log_out(page)
    log_in_with_password(page, account["email"])
    # The password alone opens nothing: the second step asks for a code.
    assert "/login/second-factor" in page.url
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    assert not axe_violations(page)
    page.get_by_label("Code").fill(app.wrong_code())
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("The code is incorrect or was already used.")).to_be_visible()
    page.get_by_label("Code").fill(app.code())
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("You are logged in.")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def add_virtual_authenticator(context: BrowserContext, page: Page) -> None:
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


def test_passkey_registered_then_used_to_sign_in_and_as_second_factor(
    site: BrowserContext, api: httpx.Client
):
    account = register(api)
    page = site.new_page()
    add_virtual_authenticator(site, page)
    log_in_with_password(page, account["email"])
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    page.goto("/account/security")
    page.get_by_label("Name of the new passkey").fill("Test laptop")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_text("Passkey added.")).to_be_visible()
    expect(page.locator("[data-passkey-list] li")).to_have_count(1)
    expect(page.locator("[data-passkey-list]")).to_contain_text("Test laptop")

    # Without a password: the passkey alone signs in.
    log_out(page)
    page.goto("/login")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_text("You are logged in.")).to_be_visible()
    page.goto("/account")
    expect(page.get_by_text(account["email"])).to_be_visible()

    # The account now has a second factor: a password login asks for the passkey too.
    log_out(page)
    log_in_with_password(page, account["email"])
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_text("You are logged in.")).to_be_visible()

    # Removed, the passkey no longer signs in.
    page.goto("/account/security")
    page.get_by_label("Your password, to remove the passkey Test laptop").fill(PASSWORD)
    page.get_by_role("button", name="Remove the passkey Test laptop").click()
    expect(page.get_by_text("Passkey removed.")).to_be_visible()
    log_out(page)
    page.goto("/login")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.locator("[data-passkey-error]")).to_contain_text("could not be used")
