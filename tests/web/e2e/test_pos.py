"""The cashier's till in headless Chromium against the real server (issue 17, points 5 and
6; docs/cashless.md, "The till page"): a cashier sells with the network (receipt, balance),
reverses a sale, meets a wallet short of money, opens and closes the register; pairs the
browser as a point of sale, sells offline after a reload with no network, then uploads
when the network is back; a sale whose answer is lost on the way back is decided offline
under the same key. The organizer's reconciliation and sales report count every sale
exactly once."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

import httpx
from playwright.sync_api import BrowserContext, Page, Route, expect
from sqlalchemy import select

from admitone.cashless.models import EntryKind, EntryOrigin, JournalEntry
from admitone.db import Database
from tests.cashless.pos_helpers import balance, create_stand, make_wallet, signed_pass
from tests.cashless.wallet_helpers import offline_debt as offline_debt_of
from tests.helpers import events_url
from tests.web.e2e.conftest import PHONE, axe_violations, screenshot
from tests.web.e2e.test_flows import _log_in
from tests.web.pos_setup import till_festival


def _wait_for_worker(page: Page) -> None:
    expect(page.locator("#network-status")).to_have_attribute("data-offline-ready", "true")
    deadline = time.monotonic() + 15
    # (wait_for_function would need 'unsafe-eval', which the page's CSP refuses.)
    while not page.evaluate("navigator.serviceWorker.controller !== null"):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _sell(page: Page, shown: str, *products: str) -> dict[str, str | None]:
    """Puts the products in the cart, charges the pass, reads the result, then next sale."""
    for name in products:
        page.locator(f'.pos-product[data-name="{name}"]').click()
    page.get_by_label("Wallet pass").fill(shown)
    page.get_by_role("button", name="Charge").click()
    result = page.locator("#pos-result")
    expect(result).to_be_visible()
    seen = {
        "kind": result.get_attribute("data-kind"),
        "title": page.locator("#pos-result-title").text_content(),
        "detail": page.locator("#pos-result-detail").text_content(),
        "note": page.locator("#pos-result-note").text_content(),
        "receipt": page.locator("#pos-receipt").inner_text()
        if page.locator("#pos-receipt").is_visible()
        else "",
    }
    return seen


def _next(page: Page) -> None:
    page.get_by_role("button", name="Next sale").click()
    expect(page.locator("#pos-result")).to_be_hidden()
    page.get_by_role("button", name="Clear").click()


def _sales(database: Database, event_id: str) -> list[JournalEntry]:
    with database.session(write=False) as session:
        return list(
            session.scalars(
                select(JournalEntry).where(
                    JournalEntry.event_id == uuid.UUID(event_id),
                    JournalEntry.kind == EntryKind.sale,
                )
            )
        )


def test_a_cashier_sells_online_offline_and_every_sale_is_booked_once(
    api: httpx.Client, new_context: Callable[..., BrowserContext], clean_database: Database
) -> None:
    database = clean_database
    festival = till_festival(api, database)
    rich = make_wallet(database, festival.event_id, funded=5000)
    rich_qr = signed_pass(api, rich)
    poor = make_wallet(database, festival.event_id, funded=300)
    poor_qr = signed_pass(api, poor)

    context = new_context(viewport=PHONE)
    page = context.new_page()
    _log_in(page, festival.cashier["email"])
    page.get_by_role("link", name="Point of sale").click()
    page.get_by_role("link", name="Main bar").click()
    expect(page.get_by_role("heading", name="Main bar")).to_be_visible()
    _wait_for_worker(page)
    root = page.locator("#pos")

    # Paired as a point of sale: the bundle is downloaded.
    page.get_by_label("Device name").fill("Bar till 1")
    page.get_by_role("button", name="Pair this device").click()
    expect(root).to_have_attribute("data-ready", "true")
    expect(page.locator("#pos-status")).to_have_attribute("data-last-sync", re.compile(".+"))
    expect(page.locator("#pos-device")).to_contain_text("Bar till 1")

    # Online: two beers and a water, 10.00; the receipt and the balance after.
    page.locator('.pos-product[data-name="Beer"]').click()
    expect(page.locator("#pos-total")).to_have_attribute("data-total-minor", "450")
    page.get_by_role("button", name="+ Beer").click()
    page.get_by_role("button", name="+ Beer").click()
    page.get_by_role("button", name="\u2212 Beer").click()
    sold = _sell(page, rich_qr, "Water")
    assert sold["kind"] == "paid", sold
    assert "€10.00" in (sold["detail"] or "") and "Jetons" in (sold["detail"] or "")
    receipt = sold["receipt"] or ""
    assert "2 \u00d7 Beer" in receipt and "1 \u00d7 Water" in receipt
    assert "Balance after: €40.00 (Jetons)" in receipt
    # 9.00 of beer at 20 %: 1.50 of VAT; 1.00 of water at 5.5 %: 0.05.
    assert "VAT 20 % included: €1.50" in receipt and "VAT 5.5 % included: €0.05" in receipt
    assert balance(database, rich.account) == 4000
    screenshot(page, "pos-receipt-phone")

    # The last sale reversed: the money back.
    page.get_by_role("button", name="Reverse this sale").click()
    expect(page.locator("#pos-result")).to_have_attribute("data-kind", "reversed")
    expect(page.locator("#pos-result-title")).to_contain_text("€10.00")
    expect(page.locator("#pos-result-detail")).to_contain_text("€50.00")
    assert balance(database, rich.account) == 5000
    _next(page)

    sold = _sell(page, rich_qr, "Beer")
    assert sold["kind"] == "paid" and "€45.50" in (sold["receipt"] or "")
    _next(page)

    # Short of money: what is missing is named; nothing booked.
    short = _sell(page, poor_qr, "Beer")
    assert short["kind"] == "refused"
    assert "Missing: €1.50 (Jetons)" in (short["detail"] or ""), short
    assert balance(database, poor.account) == 300
    _next(page)

    # The register: opened with a float, closed with what was counted.
    page.get_by_label("Float (EUR)").fill("50")
    page.get_by_role("button", name="Open the register").click()
    expect(page.locator("#pos-register-state")).to_contain_text("float €50.00")
    page.get_by_label("Cash counted, float included (EUR)").fill("48.50")
    page.get_by_role("button", name="Close the register").click()
    state = page.locator("#pos-register-state")
    expect(state).to_contain_text("Expected €50.00, counted €48.50, difference -€1.50")
    expect(state).to_have_attribute("data-difference-minor", "-150")

    # Offline: the page comes back from the service worker, the bundle from IndexedDB.
    context.set_offline(True)
    page.reload()
    expect(page.locator("#network-status-text")).to_have_text("Offline")
    expect(root).to_have_attribute("data-ready", "true")
    offline_sale = _sell(page, rich_qr, "Beer", "Water")
    assert offline_sale["kind"] == "paid", offline_sale
    assert "Decided offline" in (offline_sale["note"] or "")
    assert "Balance after: known once uploaded" in (offline_sale["receipt"] or "")
    expect(root).to_have_attribute("data-queue", "1")
    expect(page.locator("#pos-status-queue")).to_have_text("Waiting to upload: 1")
    screenshot(page, "pos-offline-phone")
    _next(page)
    # A typed code cannot be checked offline; a sale above the offline cap is refused.
    typed = _sell(page, rich.code, "Water")
    assert typed["kind"] == "refused" and "typed code needs the network" in (typed["detail"] or "")
    _next(page)
    capped = _sell(page, rich_qr, "Cap")
    assert capped["kind"] == "refused" and "at most €10.00" in (capped["detail"] or "")
    _next(page)
    expect(root).to_have_attribute("data-queue", "1")
    assert len(_sales(database, festival.event_id)) == 2  # nothing reached the server

    # Back online: the queue uploads by itself.
    context.set_offline(False)
    expect(page.locator("#network-status-text")).to_have_text("Online")
    expect(root).to_have_attribute("data-queue", "0")
    assert balance(database, rich.account) == 5000 - 450 - 550

    # A sale whose answer is lost on the way back: decided here under the same key.
    bodies: list[dict[str, str | None]] = []

    def answer_lost(route: Route) -> None:
        bodies.append(
            {"key": route.request.headers.get("idempotency-key"), "body": route.request.post_data}
        )
        route.fetch()  # the server books it...
        route.abort()  # ...and the answer never comes back

    context.route("**/api/v1/pos/charges", answer_lost)
    lost = _sell(page, rich_qr, "Water")
    context.unroute("**/api/v1/pos/charges")
    assert lost["kind"] == "paid" and "Decided offline" in (lost["note"] or ""), lost
    assert len(bodies) == 1
    lost_key = page.locator("#pos").get_attribute("data-last-offline-key")
    assert lost_key == bodies[0]["key"]
    _next(page)
    expect(root).to_have_attribute("data-queue", "0")  # uploaded: a duplicate of the online one

    # Every sale once: online 10.00 (reversed), 4.50, offline 5.50, the lost one 1.00.
    sales = _sales(database, festival.event_id)
    assert sorted(entry.amount_minor for entry in sales) == [100, 450, 550, 1000]
    assert len({entry.idempotency_key for entry in sales}) == 4
    assert [entry.idempotency_key for entry in sales if entry.amount_minor == 100] == [lost_key]
    assert sum(entry.origin == EntryOrigin.offline for entry in sales) == 1
    assert balance(database, rich.account) == 5000 - 450 - 550 - 100

    url = f"/api/v1/organizations/{festival.org}/events/{festival.event_id}/cashless"
    reconciliation = api.get(f"{url}/reconciliation", headers=festival.owner["headers"])
    assert reconciliation.status_code == 200, reconciliation.text
    found = reconciliation.json()["data"]
    assert found["trial_balance"]["balanced"] is True
    assert found["liability"]["sales_minor"] == 450 + 550 + 100
    (device,) = found["devices"]
    assert (device["name"], device["sales_received"], device["duplicates"]) == ("Bar till 1", 1, 1)
    assert device["refused"] == 0
    report = api.get(f"{url}/reports/sales?by=product", headers=festival.owner["headers"])
    assert report.status_code == 200, report.text
    quantities = {row["label"]: row["quantity"] for row in report.json()["data"]}
    assert quantities == {"Beer": 2, "Water": 2}, quantities


def test_the_till_is_accessible_and_refuses_another_stand(
    api: httpx.Client, new_context: Callable[..., BrowserContext], clean_database: Database
) -> None:
    festival = till_festival(api, clean_database)
    page = new_context(viewport=PHONE, bypass_csp=True).new_page()  # axe-core is injected inline
    _log_in(page, festival.cashier["email"])
    page.goto(f"/pos/{festival.bar['id']}")
    expect(page.get_by_role("heading", name="Main bar")).to_be_visible()
    assert axe_violations(page) == []
    # A cashier of the bar is not one of the kitchen.
    response = page.goto(f"/pos/{festival.kitchen['id']}")
    assert response is not None and response.status == 403
    expect(page.locator("#pos")).to_have_count(0)


def test_a_cashier_at_a_desk_tops_up_wallets_in_cash_and_by_card(
    api: httpx.Client, new_context: Callable[..., BrowserContext], clean_database: Database
) -> None:
    """Point 4 at a desk: cash goes into the cashier's open register (and is counted at
    the close), a card payment to the event's terminal; a top-up pays the wallet's debt
    first; with no network a top-up is refused on the page (money coming in is the
    server's to book)."""
    database = clean_database
    festival = till_festival(api, database)
    desk = create_stand(
        api,
        festival.owner["headers"],
        festival.org,
        festival.event_id,
        name="Desk",
        kind="topup_desk",
    )
    cashier_id = api.get("/api/v1/me", headers=festival.cashier["headers"]).json()["data"]["id"]
    assigned = api.put(
        events_url(festival.org, festival.event_id, "stands", desk["id"], "cashiers", cashier_id),
        headers=festival.owner["headers"],
    )
    assert assigned.status_code == 200, assigned.text
    wallet = make_wallet(database, festival.event_id)
    indebted = make_wallet(database, festival.event_id)
    offline_debt_of(database, indebted.id, 300)

    context = new_context(viewport=PHONE, bypass_csp=True)  # axe-core is injected inline
    page = context.new_page()
    _log_in(page, festival.cashier["email"])
    page.goto(f"/pos/{desk['id']}")
    expect(page.get_by_role("heading", name="Top up a wallet")).to_be_visible()
    result = page.locator("#pos-topup-result")
    error = page.locator("#pos-topup-error")

    def top_up(amount: str, code: str, method: str) -> None:
        page.get_by_label("Amount (EUR)").fill(amount)
        page.get_by_label(method).check()
        page.get_by_label("Wallet pass to top up").fill(code)
        page.get_by_role("button", name="Top up").click()

    # Cash needs the register open first.
    top_up("20", wallet.code, "Cash, into this register")
    expect(error).to_have_text("Open the register first: the cash goes into it.")
    assert balance(database, wallet.account) == 0
    page.get_by_label("Float (EUR)").fill("50")
    page.get_by_role("button", name="Open the register").click()
    expect(page.locator("#pos-register-state")).to_contain_text("float €50.00")

    top_up("20", wallet.code, "Cash, into this register")
    expect(result).to_have_text("Topped up €20.00 (Jetons). Balance: €20.00 (Jetons).")
    expect(error).to_have_text("")
    top_up("5.50", wallet.code.lower(), "Card, on the payment terminal")
    expect(result).to_have_attribute("data-balance-minor", "2550")
    assert balance(database, wallet.account) == 2550
    # A wallet owing 3.00 (an offline sale it could not cover): the top-up pays it first.
    top_up("10", indebted.code, "Card, on the payment terminal")
    expect(result).to_contain_text("Balance: €7.00 (Jetons).")
    expect(result).to_contain_text("€3.00 of it paid what the wallet owed.")
    # Above the event's maximum top-up: refused, said in words, nothing booked.
    top_up("500", wallet.code, "Card, on the payment terminal")
    expect(error).not_to_have_text("")
    assert balance(database, wallet.account) == 2550
    assert axe_violations(page) == []
    screenshot(page, "pos-desk-phone")

    context.set_offline(True)
    expect(page.locator("#network-status-text")).to_have_text("Offline")
    top_up("10", wallet.code, "Card, on the payment terminal")
    expect(error).to_have_text("Top-ups need the network: try again when it is back.")
    context.set_offline(False)
    expect(page.locator("#network-status-text")).to_have_text("Online")

    # The close counts the cash top-up: 50.00 float + 20.00 expected.
    page.get_by_label("Cash counted, float included (EUR)").fill("70")
    page.get_by_role("button", name="Close the register").click()
    expect(page.locator("#pos-register-state")).to_contain_text(
        "Expected €70.00, counted €70.00, difference €0.00"
    )
    assert balance(database, wallet.account) == 2550
