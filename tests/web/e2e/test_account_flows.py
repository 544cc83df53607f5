"""Account flows in headless Chromium: a forgotten password through a real SMTP server,
the verification link, and "Your logins"."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from playwright.sync_api import BrowserContext, Page, expect

from tests.accounts.mail import LINK
from tests.helpers import PASSWORD, register
from tests.notifications.conftest import Inbox, free_port
from tests.notifications.helpers import body
from tests.web.e2e.conftest import LiveServer, axe_violations, screenshot

NEW_PASSWORD = "moonlit-harbour-lantern"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    """A real SMTP server (aiosmtpd) that keeps the account mails too."""
    inbox = Inbox(account_mails=True)
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port  # type: ignore[attr-defined]
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def live_server(make_app: Callable[..., FastAPI], inbox: Inbox) -> Iterator[LiveServer]:
    """The suite's live server, sending its mail to ``inbox`` over SMTP."""
    port = free_port()
    app = make_app(
        public_url=f"http://127.0.0.1:{port}",
        hold_sweep_enabled=False,
        smtp_url=f"smtp://127.0.0.1:{inbox.port}",  # type: ignore[attr-defined]
    )
    server = LiveServer(app, port)
    server.start()
    yield server
    server.stop()


def _link_to(inbox: Inbox, address: str, kind: str, count: int = 1) -> str:
    """The link of the ``count``-th account mail of ``kind`` to ``address``, as received."""
    for _ in range(3):
        found = [
            message
            for message in inbox.wait_for(len(inbox.messages) or 1)
            if address in str(message["To"])
            and str(message["Message-ID"]).strip().startswith(f"<{kind}.")
        ]
        if len(found) >= count:
            match = LINK.search(body(found[count - 1], "plain"))
            assert match
            return match.group(1)
        inbox.wait_for(len(inbox.messages) + 1, timeout=10)
    raise AssertionError(f"no {kind} mail to {address}")


def _log_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_forgotten_password_by_mail_then_back_in_with_the_new_one(
    api: httpx.Client, new_context: Callable[..., BrowserContext], inbox: Inbox
) -> None:
    email = register(api, full_name="Nina Simone")["email"]
    page = new_context(bypass_csp=True).new_page()  # axe-core is injected inline
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    page.get_by_label("E-mail").fill(email)
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_text("If an account uses this address")).to_be_visible()
    screenshot(page, "password-reset-sent")

    link = _link_to(inbox, email, "password_reset")
    assert link.startswith(page.url.split("/password-reset")[0])
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set my new password").click()
    expect(page.get_by_text("Your password is changed. Log in with the new one.")).to_be_visible()

    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("E-mail or password is incorrect.")).to_be_visible()
    _log_in(page, email, NEW_PASSWORD)

    # The link was spent.
    page.goto(link)
    page.get_by_label("New password", exact=True).fill("another-fresh-passphrase")
    page.get_by_role("button", name="Set my new password").click()
    expect(
        page.get_by_text(re.compile("This link is invalid, already used or expired"))
    ).to_be_visible()


def test_verification_link_lets_a_new_account_create_an_organization(
    page: Page, inbox: Inbox
) -> None:
    email = "louise.michel@example.com"
    page.goto("/register")
    page.get_by_label("Full name").fill("Louise Michel")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    page.goto("/organizer")
    expect(page.get_by_text(re.compile("Confirm your e-mail address"))).to_be_visible()
    page.get_by_label("Name").fill("Commune Productions")
    page.get_by_label("Short address").fill("commune-productions")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_text("Confirm your e-mail address first")).to_be_visible()
    page.get_by_role("button", name="Send the link again").click()
    expect(page.get_by_text("We sent you a new link. Check your mailbox.")).to_be_visible()
    screenshot(page, "verify-email-notice")

    link = _link_to(inbox, email, "email_verification", count=2)
    page.goto(link)
    page.get_by_role("button", name="Confirm my address").click()
    expect(page.get_by_text("Your e-mail address is confirmed.")).to_be_visible()

    page.goto("/organizer")
    expect(page.get_by_role("button", name="Send the link again")).to_have_count(0)
    page.get_by_label("Name").fill("Commune Productions")
    page.get_by_label("Short address").fill("commune-productions")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_text("Organization created.")).to_be_visible()


def test_your_logins_log_out_this_one(
    api: httpx.Client, new_context: Callable[..., BrowserContext]
) -> None:
    email = register(api)["email"]
    laptop = new_context(bypass_csp=True).new_page()  # axe-core is injected inline
    _log_in(laptop, email, PASSWORD)
    phone_context = new_context(
        user_agent=(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
        )
    )
    phone = phone_context.new_page()
    _log_in(phone, email, PASSWORD)

    laptop.goto("/account")
    laptop.get_by_role("link", name="Your logins").click()
    expect(laptop.get_by_role("heading", name="Your logins")).to_be_visible()
    phone_row = laptop.get_by_role("row").filter(has_text="Mobile Safari on iOS")
    expect(phone_row).to_have_count(1)
    expect(laptop.get_by_role("row").filter(has_text="(this one)")).to_have_count(1)
    assert axe_violations(laptop) == []
    screenshot(laptop, "your-logins")
    phone_row.get_by_role("button", name="Log out this one").click()
    expect(laptop.get_by_text("That login is ended.")).to_be_visible()
    expect(laptop.get_by_role("row").filter(has_text="Mobile Safari on iOS")).to_have_count(0)

    phone.goto("/account")
    expect(phone.get_by_role("heading", name="Log in")).to_be_visible()
    laptop.goto("/account")
    expect(laptop.get_by_role("heading", name="My account")).to_be_visible()


def test_a_guest_follows_the_mail_to_the_order_then_finds_it_in_a_new_account(
    api: httpx.Client, new_context: Callable[..., BrowserContext], inbox: Inbox
) -> None:
    from tests.helpers import create_org
    from tests.web.helpers import create_event

    owner = register(api)
    org = create_org(api, owner["headers"])["slug"]
    event = create_event(api, owner["headers"], org, title="Guest Night")
    email = "marie.curie@example.com"
    buyer = new_context().new_page()
    buyer.goto(f"/events/{event['slug']}")
    buyer.get_by_label("Quantity").select_option("2")
    buyer.get_by_label("Full name").fill("Marie Curie")
    buyer.get_by_label("E-mail").fill(email)
    buyer.get_by_role("button", name="Hold my tickets").click()
    buyer.get_by_role("button", name=re.compile(r"^Pay ")).click()
    buyer.get_by_role("button", name="Approve payment").click()
    expect(buyer.get_by_role("heading", name="You're in! Here are your tickets")).to_be_visible()

    # The confirmation's link opens the order in another browser, without an account.
    [confirmation] = [m for m in inbox.wait_for(1) if email in str(m["To"])]
    found = re.search(r"(http://\S+/orders/[0-9a-f-]+\?token=[\w-]+)", body(confirmation, "plain"))
    assert found, body(confirmation, "plain")
    link = found.group(1)
    elsewhere = new_context().new_page()
    elsewhere.goto(link)
    expect(
        elsewhere.get_by_role("heading", name="You're in! Here are your tickets")
    ).to_be_visible()
    expect(elsewhere.locator("img.qr")).to_have_count(2)

    # Registering with that address and confirming it: the tickets are in the account.
    elsewhere.goto("/register")
    elsewhere.get_by_label("Full name").fill("Marie Curie")
    elsewhere.get_by_label("E-mail").fill(email)
    elsewhere.get_by_label("Password", exact=True).fill(PASSWORD)
    elsewhere.get_by_role("button", name="Create my account").click()
    expect(elsewhere.get_by_role("button", name="Log out")).to_be_visible()
    elsewhere.goto("/account/tickets")
    expect(elsewhere.locator("img.qr")).to_have_count(0)  # not before the address is confirmed
    elsewhere.goto(_link_to(inbox, email, "email_verification"))
    elsewhere.get_by_role("button", name="Confirm my address").click()
    expect(elsewhere.get_by_text("Your e-mail address is confirmed.")).to_be_visible()
    elsewhere.goto("/account/tickets")
    expect(elsewhere.locator("img.qr")).to_have_count(2)
    expect(elsewhere.get_by_text("Guest Night").first).to_be_visible()
