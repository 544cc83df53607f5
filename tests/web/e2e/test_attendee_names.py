"""Issue 15 (point 5): the organizer asks for attendee names, the buyer gives one per
ticket on the order page, and the ticket list shows them; in a real browser, on a desktop
in English and on a phone in French, with axe-core on the pages that changed."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.helpers import create_org, register
from tests.web.e2e.conftest import DESKTOP, PHONE, axe_violations, screenshot
from tests.web.e2e.test_flows import _log_in
from tests.web.helpers import create_event

TEXTS = {
    "en-GB": {
        "ask": "Ask for the name of each attendee",
        "save_event": "Save the event",
        "section": "Attendee names",
        "field": "Name on ticket {n} (Standing)",
        "save": "Save the names",
        "saved": "Names saved: the tickets show them now.",
        "required": "This field is required.",
    },
    "fr-FR": {
        "ask": "Demander le nom de chaque participant",
        "save_event": "Enregistrer l'événement",
        "section": "Noms des participants",
        "field": "Nom sur le billet {n} (Standing)",
        "save": "Enregistrer les noms",
        "saved": "Noms enregistrés : les billets les affichent désormais.",
        "required": "Ce champ est obligatoire.",
    },
}


def _guest_order_link(api: httpx.Client, event: dict, email: str) -> str:
    """A guest's paid order of two tickets, through the JSON API: its secret link's path."""
    order = api.post(
        "/api/v1/orders",
        json={
            "event_id": event["id"],
            "items": [{"ticket_type_id": event["ticket_types"][0]["id"], "quantity": 2}],
            "buyer": {"name": "Camille Durand", "email": email},
        },
    )
    assert order.status_code == 201, order.text
    data = order.json()["data"]
    headers = {"X-Order-Token": data["access_token"]}
    paying = api.post(f"/api/v1/orders/{data['id']}/pay", headers=headers)
    assert paying.status_code in (200, 201), paying.text
    approved = api.post(
        f"/api/v1/payments/test/{paying.json()['data']['id']}/approve", headers=headers
    )
    assert approved.status_code == 200, approved.text
    return f"/orders/{data['id']}?token={data['access_token']}"


def _no_serious_violations(page: Page, label: str) -> None:
    violations = axe_violations(page)
    assert violations == [], (label, violations)


def test_the_buyer_names_two_tickets_and_the_list_shows_them(
    api: httpx.Client, new_context: Callable[..., BrowserContext]
) -> None:
    owner = register(api, full_name="Olivia Organizer")
    org = create_org(api, owner["headers"], name="Nightfall Productions")["slug"]
    for viewport, suffix, locale in ((DESKTOP, "desktop", "en-GB"), (PHONE, "phone", "fr-FR")):
        text = TEXTS[locale]
        event = create_event(api, owner["headers"], org, title=f"Named {suffix.title()} Night")
        # The organizer ticks the box on the event's form (axe-core is injected inline).
        organizer = new_context(viewport=viewport, locale=locale, bypass_csp=True).new_page()
        if locale == "en-GB":
            _log_in(organizer, owner["email"])
        else:
            _log_in_fr(organizer, owner["email"])
        organizer.goto(f"/organizer/{org}/events/{event['id']}/edit")
        box = organizer.get_by_label(text["ask"])
        expect(box).not_to_be_checked()
        box.check()
        _no_serious_violations(organizer, f"event form {suffix}")
        screenshot(organizer, f"attendee-names-setting-{suffix}")
        organizer.get_by_role("button", name=text["save_event"]).click()
        expect(organizer.locator(".notice-success")).to_be_visible()

        # The buyer, a guest, opens the order from its secret link.
        link = _guest_order_link(api, event, f"camille-{suffix}@example.com")
        page = new_context(viewport=viewport, locale=locale, bypass_csp=True).new_page()
        page.goto(link)
        expect(page.get_by_role("heading", name=text["section"])).to_be_visible()
        first = page.get_by_label(text["field"].format(n=1))
        second = page.get_by_label(text["field"].format(n=2))
        expect(first).to_have_value("Camille Durand")
        expect(second).to_have_value("Camille Durand")
        _no_serious_violations(page, f"order page {suffix}")
        # A name left empty: said next to its field, nothing saved.
        first.fill("Grace Hopper")
        second.fill("")
        page.get_by_role("button", name=text["save"]).click()
        expect(page.get_by_text(text["required"])).to_be_visible()
        expect(page.get_by_label(text["field"].format(n=2))).to_have_attribute(
            "aria-invalid", "true"
        )
        _no_serious_violations(page, f"refused names {suffix}")
        # Both names, then saved.
        page.get_by_label(text["field"].format(n=1)).fill("Grace Hopper")
        page.get_by_label(text["field"].format(n=2)).fill("Alan Turing")
        page.get_by_role("button", name=text["save"]).click()
        expect(page.get_by_text(text["saved"])).to_be_visible()
        tickets = page.locator(".ticket-list .ticket-head")
        expect(tickets).to_have_count(2)
        expect(tickets.nth(0)).to_contain_text("Grace Hopper")
        expect(tickets.nth(1)).to_contain_text("Alan Turing")
        expect(tickets.filter(has_text="Camille Durand")).to_have_count(0)
        expect(page.get_by_label(text["field"].format(n=2))).to_have_value("Alan Turing")
        _no_serious_violations(page, f"names saved {suffix}")
        screenshot(page, f"attendee-names-{suffix}")
        box = page.locator(".ticket-list .ticket-head").nth(1).bounding_box()
        assert box is not None and box["width"] <= viewport["width"], box


def _log_in_fr(page: Page, email: str) -> None:
    from tests.helpers import PASSWORD

    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter", exact=True).click()
    expect(page.get_by_role("button", name="Se déconnecter", exact=True)).to_be_visible()
