"""Issue 15: the organizer's pages do what the API does, in a real browser (desktop and
phone): the event image, a partial refund, the draft preview; axe-core on the new pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.helpers import create_org, png_bytes, register
from tests.web.e2e.conftest import DESKTOP, PHONE, axe_violations, screenshot
from tests.web.e2e.test_flows import _log_in
from tests.web.helpers import create_event


def _buy(api: httpx.Client, event: dict, quantity: int, email: str) -> None:
    order = api.post(
        "/api/v1/orders",
        json={
            "event_id": event["id"],
            "items": [{"ticket_type_id": event["ticket_types"][0]["id"], "quantity": quantity}],
            "buyer": {"name": "Nina Partial", "email": email},
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


def _no_serious_violations(page: Page) -> None:
    violations = axe_violations(page)
    assert violations == [], violations


def test_image_upload_partial_refund_and_draft_preview(
    api: httpx.Client, new_context: Callable[..., BrowserContext], tmp_path: Path
) -> None:
    owner = register(api, full_name="Olivia Organizer")
    org = create_org(api, owner["headers"], name="Nightfall Productions")["slug"]
    poster = tmp_path / "poster.png"
    poster.write_bytes(png_bytes((320, 180)))
    not_image = tmp_path / "notes.png"
    not_image.write_bytes(b"plain text, not a picture")
    for viewport, suffix in ((DESKTOP, "desktop"), (PHONE, "phone")):
        title = f"Aurora {suffix.title()} Night"
        event = create_event(api, owner["headers"], org, title=title, publish=True)
        _buy(api, event, 3, f"nina-{suffix}@example.com")
        draft = create_event(api, owner["headers"], org, title=f"Secret {suffix}", publish=False)
        # axe-core is injected inline
        page = new_context(viewport=viewport, bypass_csp=True).new_page()
        _log_in(page, owner["email"])

        # The image: a bad file is a clear error on the page, then a real one is shown.
        page.goto(f"/organizer/{org}/events/{event['id']}/edit")
        page.get_by_label("Upload an image").set_input_files(str(not_image))
        page.get_by_role("button", name="Save the image").click()
        expect(page.get_by_role("alert")).to_have_text("This file type is not accepted.")
        page.get_by_label("Upload an image").set_input_files(str(poster))
        page.get_by_role("button", name="Save the image").click()
        expect(page.get_by_text("Image saved: the catalogue shows it now.")).to_be_visible()
        image = page.get_by_role("img", name=f"Current image of {title}")
        expect(image).to_be_visible()
        assert image.evaluate("img => img.complete && img.naturalWidth === 320")
        _no_serious_violations(page)
        screenshot(page, f"event-image-{suffix}")
        page.goto(f"/events?q={title.split()[1].lower()}")
        card = page.locator("article.event-card", has_text=title)
        expect(card.locator("img.event-image")).to_be_visible()
        expect(card.locator(".event-art")).to_have_count(0)

        # A partial refund: two of the three tickets.
        page.goto(f"/organizer/{org}/events/{event['id']}")
        expect(page.get_by_role("heading", name="Payout")).to_be_visible()
        _no_serious_violations(page)
        page.get_by_role("link", name="Orders", exact=True).click()
        page.get_by_role("link", name=re.compile(r"^[A-Z0-9]{4,}")).first.click()
        expect(page.get_by_role("heading", name=re.compile(r"^Order "))).to_be_visible()
        _no_serious_violations(page)
        page.get_by_role("link", name="Refund", exact=True).click()
        boxes = page.get_by_role("checkbox")
        expect(boxes).to_have_count(3)
        _no_serious_violations(page)
        screenshot(page, f"partial-refund-{suffix}")
        boxes.nth(0).check()
        boxes.nth(1).check()
        page.get_by_role("button", name="Refund the ticked tickets").click()
        expect(page.get_by_text("The ticked tickets were refunded and revoked.")).to_be_visible()
        tickets = page.get_by_role("table", name="Tickets of this order")
        expect(tickets.get_by_text("Revoked", exact=True)).to_have_count(2)
        expect(tickets.get_by_text("Valid", exact=True)).to_have_count(1)
        expect(page.get_by_role("table", name="Refunds of this order")).to_contain_text("€50.00")
        screenshot(page, f"order-{suffix}")
        details = api.get(f"/api/v1/events/{event['slug']}").json()["data"]
        assert details["ticket_types"][0]["available"] == 99

        # The draft: its organizer previews it, with the banner and no way to buy.
        page.goto(f"/organizer/{org}/events/{draft['id']}")
        page.get_by_role("link", name="Preview").click()
        expect(page.get_by_text("Draft — buyers cannot see this yet.")).to_be_visible()
        expect(page.get_by_role("heading", name=f"Secret {suffix}")).to_be_visible()
        expect(page.get_by_role("button", name="Hold my tickets")).to_have_count(0)
        expect(page.get_by_label("Quantity")).to_have_count(0)
        _no_serious_violations(page)
        screenshot(page, f"draft-preview-{suffix}")
        visitor = new_context(viewport=viewport).new_page()
        response = visitor.goto(f"/events/{draft['slug']}")
        assert response is not None and response.status == 404
