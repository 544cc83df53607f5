"""An attendee reads a festival's programme on a phone, in headless Chromium against a
real server (issue 18, point 2): the stage columns scroll sideways, a starred slot shows
as starred, two overlapping starred slots bring the warning; no serious axe violation."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.sync_api import BrowserContext, expect

from tests.helpers import PASSWORD, register
from tests.lineup.helpers import make_lineup
from tests.web.e2e.conftest import PHONE, axe_violations, screenshot


def test_an_attendee_stars_slots_on_a_phone_and_sees_the_overlap(
    api: httpx.Client, new_context: Callable[..., BrowserContext]
) -> None:
    assert PHONE == {"width": 390, "height": 844}
    lineup = make_lineup(api, stages=("Main stage", "Forest tent", "Lake stage"))  # type: ignore[arg-type]
    owls = lineup.slot("Main stage", "The Night Owls", 20, 21.5, status="confirmed")
    larks = lineup.slot("Forest tent", "Morning Larks", 21, 22, status="confirmed")
    lineup.slot("Lake stage", "Quiet Pines", 18, 19, status="confirmed")
    lineup.publish()
    attendee = register(api, full_name="Camille Durand")

    page = new_context(viewport=PHONE, bypass_csp=True).new_page()  # axe-core is injected inline
    page.goto("/login")
    page.get_by_label("E-mail").fill(attendee["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    page.goto(f"/events/{lineup.event['slug']}/programme")
    expect(page.get_by_role("heading", name="Programme", exact=True)).to_be_visible()
    timetable = page.get_by_test_id("timetable").first
    for stage in ("Main stage", "Forest tent", "Lake stage"):
        expect(timetable.get_by_role("heading", name=stage)).to_be_attached()
    # Three columns do not fit a phone: the timetable scrolls sideways, the page does not.
    widths = timetable.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert widths[0] > widths[1], widths
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # The last column (stages in their order, then by name) starts off screen.
    last = timetable.locator(".timetable-stage").last.get_by_role("heading")
    expect(last).to_have_text("Main stage")
    assert not _in_view(last)
    timetable.evaluate("el => el.scrollTo({left: el.scrollWidth})")
    expect(last).to_be_in_viewport()
    assert axe_violations(page) == []
    screenshot(page, "programme-phone")

    # Star one slot: it shows as starred and lands in my schedule, with no warning.
    timetable.evaluate("el => el.scrollTo({left: 0})")
    slot = timetable.locator(f"#slot-{owls['id']}")
    slot.get_by_role("button", name="Add to my schedule").click()
    slot = timetable.locator(f"#slot-{owls['id']}")
    expect(slot.get_by_role("button", name="In my schedule")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(slot).to_have_class("timetable-slot is-starred")
    expect(page.get_by_test_id("schedule-clash")).to_have_count(0)

    # Star an overlapping one (21:00 while the Owls play until 21:30): the warning.
    timetable.locator(f"#slot-{larks['id']}").get_by_role(
        "button", name="Add to my schedule"
    ).click()
    warning = page.get_by_test_id("schedule-clash")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("The Night Owls")
    expect(warning).to_contain_text("Morning Larks")
    expect(timetable.locator(f"#slot-{larks['id']}")).to_have_class("timetable-slot is-starred")
    assert axe_violations(page) == []
    screenshot(page, "programme-overlap-phone")


def _in_view(locator) -> bool:  # type: ignore[no-untyped-def]
    return bool(
        locator.evaluate(
            "el => { const r = el.getBoundingClientRect(); return r.left < window.innerWidth; }"
        )
    )


def test_an_organizer_sees_the_day_by_stage_and_a_clash_explained(
    api: httpx.Client, new_context: Callable[..., BrowserContext]
) -> None:
    lineup = make_lineup(api)  # type: ignore[arg-type]
    lineup.slot("Main", "The Night Owls", 20, 21, status="confirmed", changeover_minutes=30)
    lineup.artist("Morning Larks")

    page = new_context(bypass_csp=True).new_page()  # axe-core is injected inline
    page.goto("/login")
    page.get_by_label("E-mail").fill(lineup.owner["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.goto(f"/organizer/{lineup.org}/events/{lineup.event['id']}")
    page.get_by_role("link", name="Lineup").click()
    main = page.locator('[data-stage="Main"]')
    expect(main).to_contain_text("The Night Owls")
    expect(main).to_contain_text("Confirmed")
    assert axe_violations(page) == []

    page.get_by_label("Stage", exact=True).select_option(label="Main")
    page.get_by_label("Artist", exact=True).select_option(label="Morning Larks")
    page.get_by_label("Starts", exact=True).fill(lineup.at(21.25)[:16])
    page.get_by_label("Ends", exact=True).fill(lineup.at(22)[:16])
    page.get_by_label("Status", exact=True).select_option(label="Confirmed")
    page.get_by_role("button", name="Add the slot").click()
    clash = page.get_by_test_id("slot-clash")
    expect(clash).to_contain_text("The Night Owls")
    expect(clash).to_contain_text("Main")
    expect(clash).to_contain_text("30 minutes")
    expect(page.get_by_label("Starts", exact=True)).to_have_value(lineup.at(21.25)[:16])
    assert axe_violations(page) == []
    screenshot(page, "lineup-clash")
