"""The organizer sets up a bar in a real browser (issue 17): a stand, a product with
its price typed, a cashier assigned; after a real sale at the till (the API), the
reports page shows it. Headless Chromium against a real server; axe-core on each page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.cashless.wallet_helpers import SETTINGS
from tests.helpers import add_member, create_org, register
from tests.web.e2e.conftest import DESKTOP, axe_violations, screenshot
from tests.web.e2e.test_flows import _log_in
from tests.web.helpers import create_event


def _no_serious_violations(page: Page) -> None:
    violations = axe_violations(page)
    assert violations == [], violations


def _key(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": f"e2e-{uuid.uuid4()}"}


def test_an_organizer_sets_up_a_bar_and_sees_its_sales(
    api: httpx.Client, new_context: Callable[..., BrowserContext]
) -> None:
    owner = register(api, full_name="Olivia Organizer")
    org = create_org(api, owner["headers"], name="Summer Fields")["slug"]
    event = create_event(api, owner["headers"], org, title="Summer Fields Festival")
    base = f"/api/v1/organizations/{org}/events/{event['id']}"
    assert api.put(f"{base}/cashless", json=SETTINGS, headers=owner["headers"]).status_code == 200
    cashier = register(api, full_name="Camille Caisse")
    add_member(api, owner["headers"], org, cashier["email"], "cashier")

    page = new_context(viewport=DESKTOP, bypass_csp=True).new_page()  # axe-core inline
    _log_in(page, owner["email"])
    page.goto(f"/organizer/{org}/events/{event['id']}")
    page.get_by_role("link", name="Stands", exact=True).first.click()
    expect(page.get_by_role("heading", name="Stands")).to_be_visible()

    # A stand.
    page.get_by_label("Name").fill("Main bar")
    page.get_by_label("Kind").select_option(label="Bar")
    page.get_by_role("button", name="Add the stand").click()
    expect(page.get_by_role("heading", name="Main bar", level=1)).to_be_visible()
    expect(page.get_by_text("Stand saved.")).to_be_visible()

    # A product: a bad price first, said next to the field; then right.
    page.get_by_label("Name", exact=True).fill("Beer")
    page.get_by_label(re.compile("Price, VAT included")).fill("four fifty")
    page.get_by_label("VAT rate").select_option(value="2000")
    page.get_by_role("button", name="Add the product").click()
    expect(page.locator("#f-price-error")).to_contain_text("Enter an amount")
    page.get_by_label(re.compile("Price, VAT included")).fill("4.50")
    page.get_by_role("button", name="Add the product").click()
    expect(page.get_by_text("Product saved.")).to_be_visible()
    products = page.get_by_role("table", name="Products")
    expect(products).to_contain_text("Beer")
    expect(products).to_contain_text("€4.50")

    # A cashier.
    page.get_by_label("Team member").select_option(label=f"Camille Caisse ({cashier['email']})")
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_text("Cashier assigned")).to_be_visible()
    expect(
        page.locator("section", has=page.get_by_role("heading", name="Cashiers"))
    ).to_contain_text("Camille Caisse")
    _no_serious_violations(page)
    screenshot(page, "cashless-stand-desktop")

    # A sale at the till, by that cashier, on an attendee's wallet topped up at a desk.
    stands = api.get(f"{base}/stands", headers=owner["headers"]).json()["data"]
    bar = next(stand for stand in stands if stand["name"] == "Main bar")
    beer = api.get(f"{base}/stands/{bar['id']}/products", headers=owner["headers"]).json()["data"][
        0
    ]
    desk = api.post(
        f"{base}/stands", json={"name": "Desk", "kind": "topup_desk"}, headers=owner["headers"]
    ).json()["data"]
    attendee = register(api)
    wallet = api.get(f"/api/v1/me/wallets/{event['id']}", headers=attendee["headers"])
    assert wallet.status_code == 200, wallet.text
    code = wallet.json()["data"]["current_pass"]["code"]
    topup = api.post(
        "/api/v1/pos/topups",
        json={"stand_id": desk["id"], "pass": code, "amount_minor": 2000, "method": "card"},
        headers=_key(owner["headers"]),
    )
    assert topup.status_code == 201, topup.text
    sale = api.post(
        "/api/v1/pos/charges",
        json={
            "stand_id": bar["id"],
            "pass": code,
            "lines": [{"product_id": beer["id"], "quantity": 2}],
        },
        headers=_key(cashier["headers"]),
    )
    assert sale.status_code == 201, sale.text

    # The reports page shows it, live.
    page.get_by_role("link", name="Cashless reports").first.click()
    expect(page.get_by_role("heading", name="Cashless reports")).to_be_visible()
    by_stand = page.get_by_role("table", name="Sales by stand")
    expect(by_stand).to_contain_text("Main bar")
    expect(by_stand).to_contain_text("€9.00")
    expect(page.get_by_role("table", name="Top-ups by channel")).to_contain_text("€20.00")
    expect(page.locator('[data-figure="wallets_minor"]')).to_have_text("€11.00")
    _no_serious_violations(page)
    screenshot(page, "cashless-reports-desktop")

    # The reconciliation sums to zero.
    page.get_by_role("link", name="Reconciliation").click()
    expect(page.locator("#trial-balance")).to_contain_text("sum to €0.00")
    _no_serious_violations(page)
