"""The gate in a hurry (issue 15) in headless Chromium, on a phone and a desktop: gate
staff land on the scanner, type the code printed under the QR, find a ticket by name
and admit it; the three result screens differ in colour, symbol, text and tone; the
scanner comes back by itself; a supervisor undoes an admission; axe finds nothing
serious."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.helpers import add_member, create_org, register
from tests.web.e2e.conftest import DESKTOP, PHONE, axe_violations, screenshot
from tests.web.e2e.test_flows import _log_in
from tests.web.helpers import create_event

# Every tone the page plays, recorded: (wave, frequency) per oscillator started.
RECORD_TONES = """
window.__tones = [];
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.__tones.push([this.type, this.frequency.value]);
  return start.apply(this, args);
};
"""


def _paid_ticket(api: httpx.Client, event: dict, holder: str) -> dict[str, str]:
    """A paid ticket bought through the JSON API: its id (printed under the QR), its QR
    text and its order's id."""
    buyer = register(api)
    order = api.post(
        "/api/v1/orders",
        json={
            "event_id": event["id"],
            "items": [{"ticket_type_id": event["ticket_types"][0]["id"], "quantity": 1}],
            "buyer": {"name": holder, "email": buyer["email"]},
        },
        headers=buyer["headers"],
    )
    assert order.status_code == 201, order.text
    order_id = order.json()["data"]["id"]
    payment = api.post(f"/api/v1/orders/{order_id}/pay", headers=buyer["headers"]).json()
    approved = api.post(
        f"/api/v1/payments/test/{payment['data']['id']}/approve", headers=buyer["headers"]
    )
    assert approved.status_code == 200, approved.text
    ticket = api.get("/api/v1/me/tickets", headers=buyer["headers"]).json()["data"][0]
    return {"id": ticket["id"], "qr": ticket["qr_payload"], "order_id": order_id}


def _type_code(page: Page, code: str) -> None:
    page.get_by_label("Ticket code").fill(code)
    page.get_by_role("button", name="Check the ticket").click()


def _look(page: Page) -> dict[str, str]:
    """What the result screen shows: its kind, colour, symbol, title and tones so far."""
    return page.evaluate(
        """() => {
            const result = document.getElementById('scan-result');
            return {
                kind: result.getAttribute('data-kind'),
                classes: result.className,
                background: getComputedStyle(result).backgroundColor,
                symbol: document.getElementById('scan-result-symbol').textContent,
                title: document.getElementById('scan-result-title').textContent,
                tones: JSON.stringify(window.__tones),
            };
        }"""
    )


def test_gate_in_a_hurry(api: httpx.Client, new_context: Callable[..., BrowserContext]) -> None:
    owner = register(api)
    org = create_org(api, owner["headers"])["slug"]
    staff = register(api, full_name="Sam Staff")
    add_member(api, owner["headers"], org, staff["email"], "staff")
    for viewport, suffix in ((PHONE, "phone"), (DESKTOP, "desktop")):
        event = create_event(api, owner["headers"], org, title=f"Hurry Night {suffix}")
        printed = _paid_ticket(api, event, "Ada Lovelace")["id"]
        _paid_ticket(api, event, "Grace Hopper")
        context = new_context(viewport=viewport, bypass_csp=True)
        context.add_init_script(RECORD_TONES)
        page = context.new_page()
        _log_in(page, staff["email"])
        # Gate staff land on their scanner, and the header has a Scan link.
        expect(page).to_have_url(re.compile(r"/scan(\?|$)"))
        expect(page.get_by_role("link", name="Scan", exact=True)).to_be_visible()
        page.get_by_role("link", name=f"Hurry Night {suffix}").click()
        page.wait_for_load_state("load")  # the script has read the remembered gate name
        page.get_by_label("Gate name (optional)").fill("North gate")
        page.get_by_label("Gate name (optional)").dispatch_event("change")
        assert axe_violations(page) == [], "scanner"

        # The code printed under the QR, typed the way people do.
        _type_code(page, "ticket " + printed.upper().replace("-", " "))
        result = page.locator("#scan-result")
        expect(result).to_be_visible()
        expect(result).to_have_attribute("data-kind", "admitted")
        expect(page.locator("#scan-result-title")).to_have_text("Admitted")
        expect(page.locator("#scan-result-detail")).to_contain_text("Ada Lovelace")
        admitted = _look(page)
        # Back to scanning by itself.
        expect(result).to_be_hidden(timeout=8_000)

        # Again, without its dashes: already admitted, by whom, when and where.
        # From here each screen is held (a slow test machine polls for seconds).
        hold = "node => node.setAttribute('data-return-seconds', '120')"
        page.locator("#scanner").evaluate(hold)
        _type_code(page, printed.replace("-", ""))
        expect(result).to_have_attribute("data-kind", "already")
        expect(page.locator("#scan-result-title")).to_have_text("Already admitted")
        expect(page.locator("#scan-result-detail")).to_contain_text("Ada Lovelace")
        extra = page.locator("#scan-result-extra")
        expect(extra).to_contain_text("First admitted at")
        expect(extra).to_contain_text("North gate")
        expect(extra).to_contain_text("Sam Staff")
        expect(page.locator("#scan-undo")).to_be_hidden()  # gate staff do not undo
        already = _look(page)
        # A tap returns at once.
        page.locator("#scan-result-title").click()
        expect(result).to_be_hidden(timeout=1_000)

        # Forged.
        _type_code(page, "A" * 181)
        expect(result).to_have_attribute("data-kind", "refused")
        expect(page.locator("#scan-result-title")).to_have_text("Not a valid ticket")
        forged = _look(page)
        page.get_by_role("button", name="Scan the next ticket").click()

        # Each result screen, for axe (and a screenshot).
        for code, kind in ((printed, "already"), ("A" * 181, "refused")):
            _type_code(page, code)
            expect(result).to_have_attribute("data-kind", kind)
            assert axe_violations(page) == [], kind
            screenshot(page, f"gate-{kind}-{suffix}", full_page=False)
            page.get_by_role("button", name="Scan the next ticket").click()

        # Three different screens: class, colour, symbol, title, and tones.
        looks = (admitted, already, forged)
        for key in ("classes", "background", "symbol", "title"):
            assert len({look[key] for look in looks}) == 3, (key, looks)
        tones = [admitted["tones"], already["tones"], forged["tones"]]
        assert len(set(tones)) == 3 and tones[0] != "[]", tones

        # Found by name and admitted from the result.
        page.get_by_label("Holder name, e-mail or order code").fill("grace")
        page.get_by_role("button", name="Search").click()
        found = page.locator(".search-result")
        expect(found).to_have_count(1)
        expect(found).to_contain_text("Grace Hopper")
        assert axe_violations(page) == [], "search results"
        found.get_by_role("button", name="Admit").click()
        expect(result).to_have_attribute("data-kind", "admitted")
        expect(page.locator("#scan-result-detail")).to_contain_text("Grace Hopper")
        page.get_by_role("button", name="Scan the next ticket").click()
        expect(page.locator('[data-count="admitted"]')).to_have_text("2")


def test_a_supervisor_undoes_an_admission(
    api: httpx.Client, new_context: Callable[..., BrowserContext]
) -> None:
    owner = register(api, full_name="Olga Owner")
    org = create_org(api, owner["headers"])["slug"]
    event = create_event(api, owner["headers"], org, title="Undo Night")
    printed = _paid_ticket(api, event, "Ada Lovelace")["id"]
    for viewport in (PHONE, DESKTOP):
        page = new_context(viewport=viewport).new_page()
        _log_in(page, owner["email"])
        expect(page).not_to_have_url(re.compile(r"/scan(\?|$)"))  # an owner keeps their landing
        page.get_by_role("link", name="Scan", exact=True).click()
        page.get_by_role("link", name="Undo Night").click()
        _type_code(page, printed)
        result = page.locator("#scan-result")
        expect(result).to_have_attribute("data-kind", "admitted")
        page.get_by_role("button", name="Scan the next ticket").click()
        _type_code(page, printed)
        expect(result).to_have_attribute("data-kind", "already")
        page.get_by_role("button", name="Undo this admission").click()
        expect(page.locator("#scan-result-title")).to_have_text("Admission undone")
        page.get_by_role("button", name="Scan the next ticket").click()
    stats = api.get(f"/api/v1/events/{event['id']}/checkins/stats", headers=owner["headers"])
    assert stats.json()["data"]["admitted"] == 0


def test_exits_and_reentries_on_a_chosen_list(
    api: httpx.Client, new_context: Callable[..., BrowserContext]
) -> None:
    owner = register(api, full_name="Olga Owner")
    org = create_org(api, owner["headers"])["slug"]
    event = create_event(api, owner["headers"], org, title="Pass-out Night")
    made = api.post(
        f"/api/v1/organizations/{org}/events/{event['id']}/checkin-lists",
        json={"name": "Pass-out door", "allow_reentry": True},
        headers=owner["headers"],
    )
    assert made.status_code == 201, made.text
    printed = _paid_ticket(api, event, "Ada Lovelace")["id"]
    page = new_context(viewport=DESKTOP, bypass_csp=True).new_page()
    _log_in(page, owner["email"])
    page.get_by_role("link", name="Scan", exact=True).click()
    page.get_by_role("link", name="Pass-out Night").click()
    page.get_by_label("List scanned for").select_option(label="Pass-out door")
    result = page.locator("#scan-result")
    title = page.locator("#scan-result-title")
    # An exit before any entry is refused; then in, out, and in again.
    page.get_by_label("Exits").check()
    _type_code(page, printed)
    expect(result).to_have_attribute("data-result", "not_inside")
    expect(title).to_have_text("This ticket is not inside: no entry to exit from")
    page.get_by_role("button", name="Scan the next ticket").click()
    for kind, expected, label in (
        ("Entries", "admitted", "Admitted"),
        ("Exits", "exited", "Exit recorded"),
        ("Entries", "admitted", "Admitted"),
    ):
        page.get_by_label(kind).check()
        _type_code(page, printed)
        expect(result).to_have_attribute("data-result", expected)
        expect(title).to_have_text(label)
        page.get_by_role("button", name="Scan the next ticket").click()
    assert axe_violations(page) == [], "lists and kinds"
    stats = api.get(
        f"/api/v1/organizations/{org}/events/{event['id']}/checkin-lists/"
        f"{made.json()['data']['id']}/stats",
        headers=owner["headers"],
    ).json()["data"]
    assert (stats["inside"], stats["admitted"]) == (1, 1)
    assert stats["by_gate"][0]["entries"] == 2 and stats["by_gate"][0]["exits"] == 1
    # The default list saw none of it.
    default = api.get(f"/api/v1/events/{event['id']}/checkins/stats", headers=owner["headers"])
    assert default.json()["data"]["admitted"] == 0
