"""End-to-end flows in headless Chromium against a real server (see conftest.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.helpers import PASSWORD, add_member, create_org, register
from tests.web.e2e.conftest import DESKTOP, PHONE, LiveServer, axe_violations, screenshot
from tests.web.helpers import create_event


def _log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def _paid_ticket_payload(api: httpx.Client, event: dict, buyer: dict | None = None) -> str:
    """A paid ticket bought through the JSON API; returns its QR text."""
    buyer = buyer or register(api)
    order = api.post(
        "/api/v1/orders",
        json={
            "event_id": event["id"],
            "items": [{"ticket_type_id": event["ticket_types"][0]["id"], "quantity": 1}],
            "buyer": {"name": "Gate Tester", "email": buyer["email"]},
        },
        headers=buyer["headers"],
    )
    assert order.status_code == 201, order.text
    order_id = order.json()["data"]["id"]
    paying = api.post(f"/api/v1/orders/{order_id}/pay", headers=buyer["headers"])
    assert paying.status_code in (200, 201), paying.text
    payment_id = paying.json()["data"]["id"]
    approved = api.post(f"/api/v1/payments/test/{payment_id}/approve", headers=buyer["headers"])
    assert approved.status_code == 200, approved.text
    mine = api.get("/api/v1/me/tickets", headers=buyer["headers"]).json()["data"]
    return mine[0]["qr_payload"]


def test_buyer_goes_from_the_home_page_to_a_ticket_qr(
    api: httpx.Client, new_context: Callable[..., BrowserContext]
) -> None:
    owner = register(api)
    org = create_org(api, owner["headers"])["slug"]
    create_event(api, owner["headers"], org, title="Starlight Parade", city="Lyon")
    # The night theme on a phone, the light palette (prefers-color-scheme) on a desktop.
    for viewport, suffix, scheme in ((PHONE, "phone", "dark"), (DESKTOP, "desktop", "light")):
        page = new_context(viewport=viewport, color_scheme=scheme).new_page()
        # Every click and choice the buyer makes, counted in the page itself.
        page.add_init_script(
            "sessionStorage.clicks = sessionStorage.clicks || '0';"
            "document.addEventListener('click', e => { if (e.isTrusted) "
            "sessionStorage.clicks = String(Number(sessionStorage.clicks) + 1); }, true);"
        )
        page.goto("/")
        expect(page.get_by_role("heading", name="Your next night out starts here")).to_be_visible()
        screenshot(page, f"home-{suffix}")
        page.get_by_role("link", name="Starlight Parade").click()
        expect(page.get_by_role("heading", name="Starlight Parade")).to_be_visible()
        screenshot(page, f"event-{suffix}")
        total = page.locator('[data-role="total"]')
        expect(total).to_be_hidden()  # nothing chosen yet
        quantity = page.get_by_label("Quantity")
        quantity.click()  # the buyer opens the list: a click
        quantity.select_option("2")
        expect(total).to_have_text(re.compile(r"Total:\s*€50\.00"))  # 2 x €25.00, as chosen
        page.get_by_label("Full name").fill("Camille Durand")
        page.get_by_label("E-mail").fill(f"camille-{suffix}@example.com")
        screenshot(page, f"checkout-{suffix}")
        # Leaving the event page holds the seats: the countdown starts on the next page.
        page.get_by_role("button", name="Hold my tickets").click()
        countdown = page.locator("[data-countdown]")
        # The short hold before payment (ADMITONE_UNPAID_HOLD_MINUTES, issue 13).
        expect(countdown).to_have_text(re.compile(r"^[45]:\d\d$"))
        screenshot(page, f"hold-{suffix}")
        page.get_by_role("button", name=re.compile(r"^Pay ")).click()
        expect(page.get_by_text("Test mode: no money moves")).to_be_visible()
        screenshot(page, f"test-provider-{suffix}")
        page.get_by_role("button", name="Approve payment").click()
        # Straight to the tickets: no page in between.
        expect(page.get_by_role("heading", name="You're in! Here are your tickets")).to_be_visible()
        clicks = int(page.evaluate("sessionStorage.clicks"))
        # Event, quantity, Hold, Pay, Approve (typing the name and e-mail aside).
        print(f"clicks from the home page to paid tickets ({suffix}): {clicks}")
        assert clicks <= 5, clicks  # the issue allows 7
        qr_codes = page.locator("img.qr")
        expect(qr_codes).to_have_count(2)
        box = qr_codes.first.bounding_box()
        assert box is not None and box["width"] >= 250, box  # big enough to scan from a phone
        assert qr_codes.first.evaluate("img => img.complete && img.naturalWidth > 0")
        screenshot(page, f"tickets-{suffix}")
        # The guest's documents, with the secret link this browser remembered.
        ticket_links = page.get_by_role("link", name=re.compile(r"^Download ticket \(PDF\)"))
        expect(ticket_links).to_have_count(2)
        expect(page.get_by_role("link", name=re.compile(r"^Add to calendar"))).to_be_visible()
        with page.expect_download() as receipt:
            page.get_by_role("link", name=re.compile(r"^Receipt \(PDF\)")).click()
        assert receipt.value.suggested_filename.startswith("receipt-")
        assert Path(receipt.value.path()).read_bytes().startswith(b"%PDF")
        with page.expect_download() as ticket:
            ticket_links.first.click()
        assert Path(ticket.value.path()).read_bytes().startswith(b"%PDF")


def test_organizer_creates_publishes_sells_and_refunds(
    api: httpx.Client, new_context: Callable[..., BrowserContext], live_server: LiveServer
) -> None:
    owner = register(api, full_name="Olivia Organizer")
    org = create_org(api, owner["headers"], name="Nightfall Productions")["slug"]
    page = new_context(color_scheme="dark").new_page()
    _log_in(page, owner["email"])
    page.goto(f"/organizer/{org}")
    page.get_by_role("link", name="New event").click()
    page.get_by_label("Title").fill("Aurora Borealis Live")
    page.get_by_label("Category").select_option("concert")
    page.get_by_label("Description").fill("Northern lights and synths.")
    page.get_by_label("Starts").fill("2031-09-12T20:00")
    page.get_by_label("Ends").fill("2031-09-12T23:00")
    page.get_by_label("Venue").fill("Le Trianon")
    page.get_by_label("City").fill("Paris")
    page.get_by_role("button", name="Create the event").click()
    expect(page.get_by_text("Event created.")).to_be_visible()
    page.get_by_role("link", name="Add a ticket type").click()
    page.get_by_label("Name", exact=True).fill("Standing")
    page.get_by_label("Price (EUR)").fill("abc")
    page.get_by_label("Capacity").fill("150")
    page.get_by_role("button", name="Save the ticket type").click()
    expect(page.locator("#f-price-error")).to_have_text("Enter an amount, such as 25.00.")
    page.get_by_label("Price (EUR)").fill("32.50")
    page.get_by_role("button", name="Save the ticket type").click()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Event published: it is now in the catalogue.")).to_be_visible()

    visitor = new_context().new_page()
    visitor.goto("/events?q=aurora")
    visitor.get_by_role("link", name="Aurora Borealis Live").click()
    visitor.get_by_label("Quantity").select_option("1")
    visitor.get_by_label("Full name").fill("Théo Buyer")
    visitor.get_by_label("E-mail").fill("theo@example.com")
    visitor.get_by_role("button", name="Hold my tickets").click()
    visitor.get_by_role("button", name=re.compile(r"^Pay ")).click()
    visitor.get_by_role("button", name="Approve payment").click()
    expect(visitor.get_by_role("heading", name="You're in! Here are your tickets")).to_be_visible()

    page.goto(f"/organizer/{org}")
    screenshot(page, "dashboard-desktop")
    page.get_by_role("link", name="Aurora Borealis Live").click()
    sold = page.locator(".stat", has_text="Tickets sold")
    expect(sold).to_contain_text("1")
    expect(page.locator(".stat", has_text="Revenue")).to_contain_text("€32.50")
    expect(page.locator("svg.chart rect.bar")).not_to_have_count(0)
    screenshot(page, "organizer-event-desktop")
    page.get_by_role("link", name="Orders", exact=True).click()
    page.get_by_label("Search by name, e-mail or order code").fill("theo")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("Théo Buyer")).to_be_visible()
    page.get_by_role("link", name=re.compile("^Refund")).click()
    expect(page.get_by_role("heading", name=re.compile(r"^Refund order"))).to_be_visible()
    page.get_by_role("button", name=re.compile("^Yes, refund")).click()
    expect(page.get_by_text("The order was refunded and its tickets revoked.")).to_be_visible()
    expect(page.locator("table.data")).to_contain_text("Refunded")
    event = api.get("/api/v1/events?q=aurora").json()["data"][0]
    details = api.get(f"/api/v1/events/{event['slug']}").json()["data"]
    assert details["ticket_types"][0]["available"] == 150


def test_gate_staff_admit_a_ticket_then_refuse_it_the_second_time(
    api: httpx.Client, new_context: Callable[..., BrowserContext]
) -> None:
    owner = register(api)
    org = create_org(api, owner["headers"])["slug"]
    event = create_event(api, owner["headers"], org, title="Gate Test Night")
    payload = _paid_ticket_payload(api, event)
    staff = register(api, full_name="Sam Staff")
    add_member(api, owner["headers"], org, staff["email"], "staff")
    for viewport, suffix in ((PHONE, "phone"), (DESKTOP, "desktop")):
        page = new_context(viewport=viewport, color_scheme="dark").new_page()
        _log_in(page, staff["email"])
        page.goto("/scan")
        page.get_by_role("link", name="Gate Test Night").click()
        expect(page.get_by_role("heading", name="Gate Test Night")).to_be_visible()
        screenshot(page, f"scanner-{suffix}")
        if suffix == "phone":
            page.get_by_label("Ticket code").fill(payload)
            page.get_by_role("button", name="Check the ticket").click()
            result = page.locator("#scan-result")
            expect(result).to_be_visible()
            expect(result).to_have_class(re.compile("admitted"))
            expect(page.locator("#scan-result-title")).to_have_text("Admitted")
            expect(page.locator("#scan-result-detail")).to_contain_text("Gate Tester")
            screenshot(page, "scan-admitted-phone", full_page=False)
            page.get_by_role("button", name="Scan the next ticket").click()
            expect(result).to_be_hidden()
            expect(page.locator('[data-count="admitted"]')).to_have_text("1")
        page.get_by_label("Ticket code").fill(payload)
        page.get_by_role("button", name="Check the ticket").click()
        result = page.locator("#scan-result")
        expect(result).to_have_class(re.compile("already"))
        expect(page.locator("#scan-result-title")).to_have_text("Already admitted")
        expect(page.locator("#scan-result-detail")).to_contain_text("Gate Tester")
        expect(page.locator("#scan-result-extra")).to_contain_text("Sam Staff")
        screenshot(page, f"scan-refused-{suffix}", full_page=False)
    stats = api.get(f"/api/v1/events/{event['id']}/checkins/stats", headers=owner["headers"])
    assert stats.json()["data"]["admitted"] == 1


def test_a_forged_code_is_refused_with_its_reason(
    api: httpx.Client, new_context: Callable[..., BrowserContext]
) -> None:
    owner = register(api)
    org = create_org(api, owner["headers"])["slug"]
    event = create_event(api, owner["headers"], org, title="Forgery Night")
    page = new_context(viewport=PHONE).new_page()
    _log_in(page, owner["email"])
    page.goto(f"/scan/{event['id']}")
    page.get_by_label("Ticket code").fill("not-a-real-ticket")
    page.keyboard.press("Enter")
    expect(page.locator("#scan-result")).to_have_class(re.compile("refused"))
    expect(page.locator("#scan-result-title")).to_have_text("Not a valid ticket")


def test_language_switch_in_the_browser(new_context: Callable[..., BrowserContext]) -> None:
    page = new_context(locale="fr-FR").new_page()
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Votre prochaine sortie commence ici")).to_be_visible()
    page.get_by_label("Langue").select_option("en")  # submits itself (app.js)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Your next night out starts here")).to_be_visible()


def test_a_french_buyer_holds_from_the_event_page_every_mistake_said_at_once(
    api: httpx.Client, new_context: Callable[..., BrowserContext]
) -> None:
    owner = register(api)
    org = create_org(api, owner["headers"])["slug"]
    event = create_event(api, owner["headers"], org, title="Nuit Blanche")
    for viewport, suffix in ((PHONE, "phone"), (DESKTOP, "desktop")):
        page = new_context(locale="fr-FR", viewport=viewport).new_page()
        page.goto(f"/events/{event['slug']}")
        expect(page.get_by_role("group", name="Vos coordonnées")).to_be_visible()
        expect(page.get_by_text("Vos billets sont alors réservés")).to_be_visible()
        # Nothing chosen and a wrong address: both said on the same page, the name kept.
        page.get_by_label("Nom complet").fill("Camille Durand")
        page.get_by_label("E-mail").fill("camille-sans-arobase")
        page.get_by_role("button", name="Réserver mes billets").click()
        expect(page.get_by_text("Choisissez au moins un billet.")).to_be_visible()
        expect(page.locator("#f-buyer_email-error")).to_be_visible()
        expect(page.get_by_label("Nom complet")).to_have_value("Camille Durand")
        page.get_by_label("Quantité").select_option("2")
        page.get_by_label("E-mail").fill(f"camille-{suffix}@example.com")
        page.get_by_role("button", name="Réserver mes billets").click()
        # The seats are held: the countdown runs on the very next page.
        expect(page.locator("[data-countdown]")).to_have_text(re.compile(r"^[45]:\d\d$"))
        screenshot(page, f"hold-fr-{suffix}")
    details = api.get(f"/api/v1/events/{event['slug']}").json()["data"]
    assert details["ticket_types"][0]["available"] == event["ticket_types"][0]["capacity"] - 4


def test_no_serious_accessibility_violations(
    api: httpx.Client, new_context: Callable[..., BrowserContext]
) -> None:
    owner = register(api)
    org = create_org(api, owner["headers"])["slug"]
    event = create_event(api, owner["headers"], org, title="Accessible Evening")
    buyer = register(api)
    _paid_ticket_payload(api, event, buyer)
    # axe-core is injected as a script: the page's CSP would block it, so bypass it here.
    # The night theme (dark) on a phone, the light palette on a desktop.
    for viewport, scheme in ((PHONE, "dark"), (DESKTOP, "light")):
        page = new_context(viewport=viewport, color_scheme=scheme, bypass_csp=True).new_page()
        checked: dict[str, list[dict]] = {}
        page.goto("/")
        checked["home"] = axe_violations(page)
        page.goto(f"/events/{event['slug']}")
        checked["event"] = axe_violations(page)
        page.get_by_label("Quantity").select_option("1")
        page.get_by_label("Full name").fill("Alex Access")
        page.get_by_label("E-mail").fill(buyer["email"])
        page.get_by_role("button", name="Hold my tickets").click()
        checked["hold"] = axe_violations(page)
        _log_in(page, owner["email"])
        page.goto("/account/tickets")
        checked["my-tickets-empty"] = axe_violations(page)
        page.goto(f"/organizer/{org}")
        checked["dashboard"] = axe_violations(page)
        page.goto(f"/organizer/{org}/events/{event['id']}")
        checked["organizer-event"] = axe_violations(page)
        page.goto(f"/scan/{event['id']}")
        checked["scanner"] = axe_violations(page)
        page.goto("/login")
        page.get_by_role("button", name="Log out").click()
        _log_in(page, buyer["email"])
        page.goto("/account/tickets")
        checked["my-tickets"] = axe_violations(page)
        problems = {name: found for name, found in checked.items() if found}
        assert problems == {}, json.dumps(problems, indent=1)
