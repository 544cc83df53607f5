"""No dead ends and no accidents (issue 15, point 3), in Chromium on a phone and a desktop:
removing a team member and cancelling an order ask first; saying no changes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from playwright.sync_api import BrowserContext, Dialog, expect

from tests.helpers import PASSWORD, add_member, create_org, register
from tests.web.e2e.conftest import DESKTOP, PHONE
from tests.web.helpers import create_event


def test_removing_a_member_and_cancelling_an_order_ask_first(
    api: httpx.Client, new_context: Callable[..., BrowserContext]
) -> None:
    owner = register(api)
    org = create_org(api, owner["headers"])["slug"]
    event = create_event(api, owner["headers"], org, title="Careful Night")
    for viewport, suffix in ((PHONE, "phone"), (DESKTOP, "desktop")):
        staff = register(api)
        add_member(api, owner["headers"], org, staff["email"], "staff")
        page = new_context(viewport=viewport).new_page()
        answers: list[bool] = []
        questions: list[str] = []

        def answer(dialog: Dialog) -> None:
            questions.append(dialog.message)
            dialog.accept() if answers.pop(0) else dialog.dismiss()

        page.on("dialog", answer)
        page.goto("/login")
        page.get_by_label("E-mail").fill(owner["email"])
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.goto(f"/organizer/{org}/team")
        row = page.get_by_role("row", name=re.compile(re.escape(staff["email"])))

        answers.append(False)  # "no": nothing happens
        row.get_by_role("button", name="Remove").click()
        expect(row).to_be_visible()
        assert questions[-1].startswith("Remove ") and "from the team?" in questions[-1]
        page.reload()
        expect(page.get_by_role("row", name=re.compile(re.escape(staff["email"])))).to_be_visible()

        answers.append(True)  # "yes": removed
        page.get_by_role("row", name=re.compile(re.escape(staff["email"]))).get_by_role(
            "button", name="Remove"
        ).click()
        expect(page.get_by_text("Member removed.")).to_be_visible()
        expect(page.get_by_role("row", name=re.compile(re.escape(staff["email"])))).to_have_count(0)

        # A buyer's hold: cancelling asks first too.
        page.goto(f"/events/{event['slug']}")
        page.get_by_label("Quantity").select_option("1")
        page.get_by_label("Full name").fill("Careful Buyer")
        page.get_by_role("button", name="Hold my tickets").click()
        answers.append(False)
        page.get_by_role("button", name="Cancel this order").click()
        expect(page.get_by_role("heading", name="Pay for your tickets")).to_be_visible()
        assert questions[-1] == "Cancel this order? Its tickets go back on sale."
        answers.append(True)
        page.get_by_role("button", name="Cancel this order").click()
        expect(page.get_by_role("heading", name="Order cancelled")).to_be_visible()
        assert answers == [], suffix
