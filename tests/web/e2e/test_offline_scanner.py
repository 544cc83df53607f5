"""The scanner as an offline app shell, in headless Chromium: opened online, the service
worker keeps the page (without its API token); with the network cut, a reload still shows
the scanner and says "Offline", as does the event list; back online it says "Online",
gets a fresh token (even when the kept copy's CSRF token is too old) and admits a typed
code; axe finds nothing serious in either state. A deploy that changes a shell file
installs a new worker, whose cache replaces the old one."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
from playwright.sync_api import BrowserContext, Page, expect
from pytest import MonkeyPatch

from admitone.web.pages import scanner_shell
from tests.helpers import add_member, create_org, register
from tests.web.e2e.conftest import PHONE, axe_violations, screenshot
from tests.web.e2e.test_flows import _log_in
from tests.web.e2e.test_gate import _paid_ticket, _type_code
from tests.web.helpers import create_event

# What the service worker's cache holds: every address, and the kept scanner page.
CACHE_CONTENTS = """async (path) => {
    const names = (await caches.keys()).filter(n => n.startsWith('admitone-scanner-'));
    const cache = await caches.open(names[0]);
    const urls = (await cache.keys()).map(r => new URL(r.url).pathname + new URL(r.url).search);
    const page = await cache.match(path);
    return {names, urls, page: page ? await page.text() : null};
}"""

# The caches, once the registration has no worker installing or waiting.
ACTIVE_CACHES = """async () => {
    const registration = await navigator.serviceWorker.getRegistration('/scan');
    if (registration.installing || registration.waiting || registration.active.state !== 'activated') {
        return null;
    }
    return await caches.keys();
}"""

# Make the kept page's CSRF token unusable, as a copy kept past its 12 hours would be.
STALE_CSRF = """async (path) => {
    const names = (await caches.keys()).filter(n => n.startsWith('admitone-scanner-'));
    const cache = await caches.open(names[0]);
    const page = await cache.match(path);
    const html = (await page.text()).replace(/data-csrf="[^"]*"/, 'data-csrf="stale"');
    await cache.put(path, new Response(html, {headers: page.headers}));
}"""


def _offline_ready(page: Page) -> None:
    expect(page.locator("#network-status")).to_have_attribute("data-offline-ready", "true")
    page.wait_for_function("navigator.serviceWorker.controller !== null")


def test_the_scanner_opens_offline_and_says_so(
    api: httpx.Client, new_context: Callable[..., BrowserContext]
) -> None:
    owner = register(api)
    org = create_org(api, owner["headers"])["slug"]
    staff = register(api, full_name="Olive Offline")
    add_member(api, owner["headers"], org, staff["email"], "staff")
    event = create_event(api, owner["headers"], org, title="Blackout Ball")
    printed = _paid_ticket(api, event, "Ada Lovelace")["id"]

    # bypass_csp: axe-core is injected as an inline script (the camera test keeps the CSP).
    context = new_context(viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    _log_in(page, staff["email"])
    page.get_by_role("link", name="Blackout Ball").click()
    path = f"/scan/{event['id']}"
    expect(page).to_have_url(f"{page.url.split('/scan')[0]}{path}")
    status = page.locator("#network-status")
    expect(page.locator("#network-status-text")).to_have_text("Online")
    assert page.locator("#scanner").get_attribute("data-token")
    _offline_ready(page)
    # Chromium finds the app installable (manifest, icons, a worker controlling the page),
    # but for the test's browser context being an incognito one.
    cdp = context.new_cdp_session(page)
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert [e["errorId"] for e in errors if e["errorId"] != "in-incognito"] == [], errors
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"].endswith("/scanner.webmanifest") and not manifest["errors"]
    # Typed codes work online as before (and the service worker leaves the API alone).
    _type_code(page, printed)
    expect(page.locator("#scan-result")).to_have_attribute("data-kind", "admitted")
    page.get_by_role("button", name="Scan the next ticket").click()

    kept = page.evaluate(CACHE_CONTENTS, path)
    assert len(kept["names"]) == 1
    assert path in kept["urls"] and "/scan" in kept["urls"]
    assert not [url for url in kept["urls"] if url.startswith("/api/") or url == "/scan/token"]
    assert any(url.startswith("/static/vendor/jsqr/jsQR.js?v=") for url in kept["urls"])
    # The kept copy is the scanner, without the page's API access token.
    assert 'id="scanner"' in kept["page"] and 'data-token=""' in kept["page"]
    page.evaluate(STALE_CSRF, path)

    context.set_offline(True)
    page.reload()
    expect(page.get_by_role("heading", name="Blackout Ball")).to_be_visible()
    expect(page.get_by_label("Ticket code")).to_be_visible()
    expect(status).to_have_attribute("data-state", "offline")
    expect(page.locator("#network-status-text")).to_have_text("Offline")
    expect(page.locator("#network-status-detail")).to_be_visible()
    assert page.locator("#scanner").get_attribute("data-token") == ""
    page.evaluate("window.scrollTo(0, 0)")  # a reload keeps the scroll position
    screenshot(page, "scanner-offline-phone", full_page=False)
    assert axe_violations(page) == [], "offline scanner"
    # A typed code cannot be checked with no network: said so, and the page carries on.
    _type_code(page, printed)
    expect(page.locator("#scan-result")).to_have_attribute("data-kind", "refused")
    expect(page.locator("#scan-result-detail")).to_contain_text("could not be sent")
    page.get_by_role("button", name="Scan the next ticket").click()
    # The event list was kept too (the installed app's start page).
    page.goto("/scan")
    expect(page.get_by_role("link", name="Blackout Ball")).to_be_visible()
    page.get_by_role("link", name="Blackout Ball").click()
    expect(page.locator("#network-status-text")).to_have_text("Offline")

    token_answers: list[int] = []
    page.on(
        "response",
        lambda response: (
            token_answers.append(response.status) if response.url.endswith("/scan/token") else None
        ),
    )
    context.set_offline(False)
    expect(status).to_have_attribute("data-state", "online")
    expect(page.locator("#network-status-text")).to_have_text("Online")
    expect(page.locator("#network-status-detail")).to_be_hidden()
    assert axe_violations(page) == [], "back online"
    # The page had no token and a stale CSRF token: it found fresh ones by itself.
    _type_code(page, printed)
    expect(page.locator("#scan-result")).to_have_attribute("data-kind", "already")
    assert token_answers[:1] == [403], token_answers  # the stale CSRF token, then the page
    stats = api.get(
        f"/api/v1/events/{event['id']}/checkins/stats", headers=owner["headers"]
    ).json()["data"]
    assert stats["admitted"] == 1


def _deploy(page: Page, monkeypatch: MonkeyPatch, version: str, path: str) -> dict:
    """A deploy that changes a shell file (so the worker's script is another one), seen by
    the page's next update check; returns the cache once the new worker has taken over."""
    monkeypatch.setattr(scanner_shell, "shell_version", lambda: version)
    scanner_shell.service_worker_script.cache_clear()
    page.evaluate("navigator.serviceWorker.getRegistration('/scan').then(r => r.update())")
    # wait_for_function would take the promise itself for a true value: poll here.
    deadline = time.monotonic() + 15
    while page.evaluate(ACTIVE_CACHES) != [f"admitone-scanner-{version}"]:
        assert time.monotonic() < deadline, page.evaluate(ACTIVE_CACHES)
        time.sleep(0.1)
    return page.evaluate(CACHE_CONTENTS, path)


def _csrf(html: str) -> str:
    match = re.search(r'data-csrf="([^"]+)"', html)
    assert match
    return match.group(1)


def test_a_new_deploy_replaces_the_kept_shell(
    api: httpx.Client, new_context: Callable[..., BrowserContext], monkeypatch: MonkeyPatch
) -> None:
    owner = register(api)
    org = create_org(api, owner["headers"])["slug"]
    staff = register(api)
    add_member(api, owner["headers"], org, staff["email"], "staff")
    event = create_event(api, owner["headers"], org, title="Redeploy Rave")
    path = f"/scan/{event['id']}"
    context = new_context()
    page = context.new_page()
    _log_in(page, staff["email"])
    page.goto(path)
    _offline_ready(page)
    first = page.evaluate(CACHE_CONTENTS, path)
    assert first["names"] == [f"admitone-scanner-{scanner_shell.shell_version()}"]
    try:
        # The new worker fills a new cache, the scanner page fetched anew (each rendering
        # has its own masked CSRF token), and the old cache is gone.
        second = _deploy(page, monkeypatch, "deploy-two", path)
        assert path in second["urls"] and 'data-token=""' in second["page"]
        assert _csrf(second["page"]) != _csrf(first["page"])
        # A deploy seen while the page cannot be fetched: the kept copy is carried over,
        # not lost with the old cache.
        context.route(f"**{path}", lambda route: route.abort())
        third = _deploy(page, monkeypatch, "deploy-three", path)
        context.unroute(f"**{path}")
        assert path in third["urls"]
        assert _csrf(third["page"]) == _csrf(second["page"])

        context.set_offline(True)
        page.reload()
        expect(page.get_by_role("heading", name="Redeploy Rave")).to_be_visible()
        expect(page.locator("#network-status-text")).to_have_text("Offline")
    finally:
        monkeypatch.undo()
        scanner_shell.service_worker_script.cache_clear()
