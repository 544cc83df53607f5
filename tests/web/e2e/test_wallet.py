"""An attendee opens their wallet, tops it up through the test provider and sees the
balance change, in headless Chromium against a real server (issue 17)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import pytest
from playwright.sync_api import BrowserContext, expect
from playwright.sync_api import Error as PlaywrightError

from tests.cashless.wallet_helpers import SETTINGS
from tests.helpers import PASSWORD, create_org, register
from tests.web.e2e.conftest import PHONE, axe_violations, screenshot
from tests.web.helpers import create_event


def test_an_attendee_tops_up_their_wallet_and_sees_the_balance(
    api: httpx.Client, new_context: Callable[..., BrowserContext]
) -> None:
    owner = register(api)
    org = create_org(api, owner["headers"])["slug"]
    event = create_event(api, owner["headers"], org, title="Summer Fields Festival")
    settings = api.put(
        f"/api/v1/organizations/{org}/events/{event['id']}/cashless",
        json=SETTINGS,
        headers=owner["headers"],
    )
    assert settings.status_code == 200, settings.text
    attendee = register(api, full_name="Camille Durand")

    page = new_context(viewport=PHONE, bypass_csp=True).new_page()  # axe-core is injected inline
    page.goto("/login")
    page.get_by_label("E-mail").fill(attendee["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    # The wallet opens on the first look: nothing in it yet, its pass ready to show.
    page.goto(f"/wallets/{event['id']}")
    expect(page.get_by_role("heading", name="My wallet")).to_be_visible()
    balance = page.locator(".wallet-balance")
    expect(balance).to_contain_text("€0.00")
    expect(balance).to_contain_text("Jetons")
    expect(page.get_by_role("img", name=re.compile("QR code of your wallet pass"))).to_be_visible()
    assert len(page.locator("[data-pass-qr]").get_attribute("data-pass-qr") or "") == 175
    code = page.locator(".pass-code").inner_text()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{2}", code), code
    assert axe_violations(page) == []
    screenshot(page, "wallet-empty-phone")

    # Top up 20.00 through the test provider's page, and back to the wallet.
    page.get_by_label("Amount (EUR)").fill("20")
    page.get_by_role("button", name="Top up").click()
    expect(page.get_by_role("heading", name="Test payment")).to_be_visible()
    expect(page.get_by_text("Wallet top-up for Summer Fields Festival")).to_be_visible()
    page.get_by_role("button", name="Approve payment").click()
    expect(page).to_have_url(re.compile(rf"/wallets/{event['id']}$"))
    expect(balance).to_contain_text("€20.00")
    history = page.get_by_role("table", name="History")
    expect(history).to_contain_text("Top-up")
    expect(history).to_contain_text("+€20.00")
    # The pass now carries an offline cap: up to the event's, never more than the balance.
    expect(page.get_by_text(re.compile(r"up to €20\.00"))).to_be_visible()
    assert page.locator(".pass-code").inner_text() == code  # the same pass
    screenshot(page, "wallet-topped-up-phone")

    # The account menu leads to the wallets.
    page.get_by_role("link", name="My wallets").click()
    expect(page.get_by_role("link", name="Summer Fields Festival")).to_be_visible()
    expect(page.locator(".wallet-list")).to_contain_text("€20.00")


def test_the_pass_opens_with_no_network_once_loaded(
    api: httpx.Client, new_context: Callable[..., BrowserContext]
) -> None:
    """Point 9: the wallet page, loaded once, opens again offline with its pass and says
    it is a copy; a copy whose pass has expired says the stands without a network will
    refuse it; signing out deletes the kept copies."""
    owner = register(api)
    org = create_org(api, owner["headers"])["slug"]
    event = create_event(api, owner["headers"], org, title="Lakeside Festival")
    settings = api.put(
        f"/api/v1/organizations/{org}/events/{event['id']}/cashless",
        json=SETTINGS,
        headers=owner["headers"],
    )
    assert settings.status_code == 200, settings.text
    attendee = register(api, full_name="Noor Haddad")

    context = new_context(viewport=PHONE)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("E-mail").fill(attendee["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    page.goto(f"/wallets/{event['id']}")
    expect(page.locator("#wallet-app")).to_have_attribute("data-offline-ready", "true")
    # The page that registered the worker was loaded before it: once more, now controlled.
    page.reload()
    qr = page.locator("[data-pass-qr]").get_attribute("data-pass-qr")
    code = page.locator(".pass-code").inner_text()
    not_after = page.locator("[data-pass-not-after]").get_attribute("data-pass-not-after")
    expect(page.locator("#wallet-offline")).to_be_hidden()

    context.set_offline(True)
    page.reload()
    expect(page.get_by_role("heading", name="My wallet")).to_be_visible()
    expect(page.locator("#wallet-offline")).to_be_visible()
    expect(page.locator("#wallet-offline")).to_contain_text("No network")
    assert page.locator("[data-pass-qr]").get_attribute("data-pass-qr") == qr
    assert page.locator(".pass-code").inner_text() == code
    expect(page.get_by_role("img", name=re.compile("QR code of your wallet pass"))).to_be_visible()
    expect(page.locator("#pass-too-old")).to_be_hidden()
    screenshot(page, "wallet-offline-phone")

    # The same copy opened after its pass's validity: the stands offline would refuse it.
    page.clock.install(time=datetime.fromisoformat(str(not_after)) + timedelta(minutes=1))
    page.reload()
    expect(page.locator("#pass-too-old")).to_be_visible()

    context.set_offline(False)
    page.goto(f"/wallets/{event['id']}")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    page.wait_for_function(
        """() => caches.keys().then(names =>
            !names.some(name => name.startsWith("admitone-wallet-")))"""
    )
    # Offline now, nothing is left to show: no copy of the page (nor of the list).
    context.set_offline(True)
    with pytest.raises(PlaywrightError, match="ERR_FAILED"):
        page.goto(f"/wallets/{event['id']}")
