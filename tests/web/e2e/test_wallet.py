"""An attendee opens their wallet, tops it up through the test provider and sees the
balance change, in headless Chromium against a real server (issue 17)."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from playwright.sync_api import BrowserContext, expect

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
