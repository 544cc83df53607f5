"""A phone's browser at a site relay (docs/gates.md, "Site relay"), in headless Chromium,
with a real upstream (`admitone serve`, on the backend under test) and a real relay
process (`admitone relay`): the gate agent opens the relay's /scan, pairs with their
e-mail and password (a login forwarded upstream and ended at once), and scans through
the relay; upstream stops and the relay goes on admitting; the relay stops and the page
decides alone from the bundle it pulled from the relay; the relay comes back and takes
the page's queue; upstream comes back and ends with every ticket admitted exactly once.
All under the page's own CSP (no bypass)."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect
from sqlalchemy import select

from admitone.checkin.models import CheckIn
from admitone.db import Database
from admitone.relay.app import create_relay_app
from admitone.relay.store import RelayStore
from admitone.relay.sync import Syncer
from admitone.tickets.signing import parse_payload
from tests.checkin.gate_devices import default_list_id, pair
from tests.concurrency.conftest import serve
from tests.helpers import PASSWORD
from tests.relay.conftest import down_upstream, paid_qrs
from tests.relay.processes import relay_process, relay_status, upstream, wait_for
from tests.serving import free_port
from tests.tickets.factories import build_world, presence_row
from tests.twofactor.helpers import enable_totp
from tests.web.e2e.conftest import PHONE, LiveServer, screenshot
from tests.web.e2e.test_offline_gate import _pair, _scan, _setup, _wait_for_worker

pytestmark = pytest.mark.timeout_sensitive

# Every value of the device's IndexedDB "meta" store, as JSON (the login must not be there).
META_DUMP = """async (eventId) => {
  const db = await new Promise((resolve, reject) => {
    const open = indexedDB.open("admitone-scanner-" + eventId);
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  const store = db.transaction(["meta"], "readonly").objectStore("meta");
  const values = await new Promise((resolve) => {
    const read = store.getAll();
    read.onsuccess = () => resolve(read.result);
  });
  db.close();
  return JSON.stringify(values) + JSON.stringify(Object.assign({}, localStorage));
}"""


def test_a_phone_pairs_at_the_relay_and_scans_through_both_outages(
    tmp_path: Path,
    client: TestClient,
    clean_database: Database,
    database_url: str,
    browser: Browser,
) -> None:
    world = build_world(client, clean_database)
    list_id = default_list_id(world)
    staff = world.member("staff")
    first, second, third = paid_qrs(world, 3)
    relay_device = pair(world, name="Relay", gate="Site")
    upstream_port, relay_port = free_port(), free_port()
    upstream_link, relay_link = ExitStack(), ExitStack()
    context = None
    try:
        upstream_url = upstream_link.enter_context(upstream(tmp_path, upstream_port, database_url))
        # The relay, started again below on the same port and file.
        start_relay = partial(
            relay_process,
            tmp_path,
            upstream_url=upstream_url,
            event_id=world.event.id,
            token=relay_device["token"],
            port=relay_port,
        )
        relay_url = relay_link.enter_context(start_relay())
        context = browser.new_context(base_url=relay_url, viewport=PHONE, locale="en-GB")
        context.set_default_timeout(20_000)
        page = context.new_page()
        refused_by_csp: list[str] = []

        def note(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text:
                refused_by_csp.append(message.text)

        page.on("console", note)
        page.goto("/scan")
        expect(page.get_by_role("heading", name="Night Show")).to_be_visible()
        expect(page.locator("#insecure-context")).to_be_hidden()  # 127.0.0.1 is secure
        _wait_for_worker(page)
        # Installable from the relay as from upstream (but for the test's incognito context).
        cdp = context.new_cdp_session(page)
        errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
        assert [e["errorId"] for e in errors if e["errorId"] != "in-incognito"] == [], errors
        # Unpaired, the page sends nothing and says to pair first.
        unpaired = _scan(page, first)
        assert unpaired["kind"] == "refused" and "not paired yet" in (unpaired["detail"] or "")

        # Pairing: the agent's upstream e-mail and password, through the relay.
        page.get_by_label("E-mail").fill(staff["email"])
        page.get_by_label("Password").fill(PASSWORD)
        page.locator("#offline").scroll_into_view_if_needed()
        screenshot(page, "relay-scanner-pairing-phone", full_page=False)
        _pair(page, "Phone at the relay", "East 1")
        expect(page.locator("#offline-bundle")).to_have_text(
            "Every ticket of the event is on this device."
        )
        expect(page.get_by_label("Password")).to_be_hidden()  # the form gives way
        assert page.get_by_label("Password").input_value() == ""
        # No login stays: not upstream (the relay ended it), not in the browser.
        logins = client.get("/api/v1/me/sessions", headers=staff["headers"]).json()["data"]
        assert len(logins) == 1  # the test's own, from registering
        kept = page.evaluate(META_DUMP, str(world.event.id))
        assert re.search(r'"token":"aod_', kept)
        assert not re.search(r"eyJ[\w-]+\.eyJ[\w-]+\.", kept), "a login's access token (JWT)"
        assert relay_status(relay_url)["devices"] == 1

        # Online through the relay: admitted, then refused as already admitted.
        admitted = _scan(page, first)
        assert (admitted["kind"], admitted["result"]) == ("admitted", "admitted")
        assert "Decided offline" not in (admitted["extra"] or "")
        again = _scan(page, first)
        assert (again["kind"], again["result"]) == ("already", "already_admitted")

        # The relay passed both on upstream while the link was up.
        wait_for(lambda: relay_status(relay_url)["queue"] == 0, "the relay's push")

        # Upstream stops: the relay decides alone; the page is online (the relay answers).
        upstream_link.close()
        wait_for(lambda: relay_status(relay_url)["upstream"]["reachable"] is False, "a failed sync")
        during = _scan(page, second)
        assert (during["result"], "Decided offline" in (during["extra"] or "")) == (
            "admitted",
            False,
        )
        expect(page.locator("#network-status-text")).to_have_text("Online")
        expect(page.locator("#offline")).to_have_attribute("data-queue", "0")

        # The relay stops too: the page opens from its service worker, says offline, and
        # decides from the bundle it pulled from the relay.
        relay_link.close()
        page.reload()
        expect(page.get_by_role("heading", name="Night Show")).to_be_visible()
        expect(page.locator("#network-status-text")).to_have_text("Offline")
        expect(page.locator("#offline")).to_have_attribute("data-ready", "true")
        alone = _scan(page, third)
        assert (alone["kind"], alone["result"]) == ("admitted", "admitted")
        assert "Decided offline" in (alone["extra"] or "")
        # And knows what the relay had decided: the first ticket is in.
        assert _scan(page, first)["result"] == "already_admitted"
        expect(page.locator("#offline")).to_have_attribute("data-queue", "2")
        screenshot(page, "relay-scanner-offline-phone", full_page=False)

        # The relay is back (upstream still down): the page sees it and uploads to it.
        relay_url = relay_link.enter_context(start_relay())
        expect(page.locator("#network-status-text")).to_have_text("Online", timeout=30_000)
        expect(page.locator("#offline")).to_have_attribute("data-queue", "0", timeout=30_000)
        expect(page.locator("#offline")).to_have_attribute("data-attention", "0")
        # Five scans at the relay: two pushed already, the one made while upstream was
        # down and the two the page uploaded wait for upstream.
        assert (relay_status(relay_url)["scans"], relay_status(relay_url)["queue"]) == (5, 3)

        # Upstream is back: the relay uploads everything, once.
        upstream_link.enter_context(upstream(tmp_path, upstream_port, database_url))
        wait_for(lambda: relay_status(relay_url)["queue"] == 0, "the relay's upload")
        status = relay_status(relay_url)
        assert status["refused"] == [] and status["conflicts"] == []
        assert refused_by_csp == []

        owner = world.owner["headers"]
        base = f"{upstream_url}/api/v1/organizations/{world.org['slug']}/events/{world.event.id}"
        stats = httpx.get(f"{base}/checkin-lists/{list_id}/stats", headers=owner).json()["data"]
        assert (stats["inside"], stats["admitted"]) == (3, 3)
        # Each ticket admitted exactly once: three entries in all, all at the phone's gate.
        assert [(g["gate"], g["entries"]) for g in stats["by_gate"]] == [("East 1", 3)]
        conflicts = httpx.get(f"{base}/checkin-conflicts", headers=owner).json()["data"]
        assert conflicts == []
    finally:
        if context is not None:
            context.close()
        relay_link.close()
        upstream_link.close()

    for qr in (first, second, third):
        presence = presence_row(world.database, _ticket_id(qr))
        assert presence is not None and presence.inside and presence.entries == 1
    scans = Counter(_stored_results(world.database, relay_device["id"]))
    assert scans == {"admitted": 3, "already_admitted": 2}
    # The password went through the relay and is nowhere in its log, which has the login.
    log = (tmp_path / "relay.log").read_text()
    assert '"path": "/api/v1/auth/login"' in log
    assert PASSWORD not in log


def _ticket_id(qr: str) -> uuid.UUID:
    claims = parse_payload(qr)
    assert claims is not None
    return claims.ticket_id


def _stored_results(database: Database, device_id: str) -> list[str]:
    with database.session(write=False) as session:
        rows = session.scalars(
            select(CheckIn.result).where(CheckIn.device_id == uuid.UUID(device_id))
        ).all()
    return [row.value for row in rows]


@contextmanager
def _relay_of(
    upstream_url: str, event_id: str, token: str, path: Path, *, link_up: bool = True
) -> Iterator[str]:
    """A relay app in this process over ``path``, pulled from ``upstream_url`` once; with
    ``link_up`` False its link goes nowhere (pairing then meets upstream's absence)."""
    database = Database(f"sqlite:///{path}")
    store = RelayStore(database, event_id=uuid.UUID(event_id))
    store.set_relay_token(token)
    link = httpx.Client(base_url=upstream_url, timeout=10)
    try:
        if store.snapshot is None:
            assert Syncer(store, link, token=token).sync_once()
        with serve(
            create_relay_app(store=store, upstream=link if link_up else down_upstream())
        ) as url:
            yield url
    finally:
        link.close()
        database.dispose()


def test_pairing_at_the_relay_says_what_went_wrong_and_asks_for_a_second_factor(
    api: httpx.Client, live_server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    owner, _org, staff, event = _setup(api)
    relay_device = api.post(
        f"/api/v1/events/{event['id']}/devices",
        json={"name": "Relay", "gate": "Site"},
        headers=owner["headers"],
    ).json()["data"]
    authenticator = enable_totp(api, staff["headers"])
    logins = len(api.get("/api/v1/me/sessions", headers=staff["headers"]).json()["data"])
    relay_file = tmp_path / "relay.db"

    def opened(url: str) -> tuple[BrowserContext, Page]:
        context = browser.new_context(base_url=url, viewport=PHONE, locale="en-GB")
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto("/scan")
        page.get_by_label("E-mail").fill(staff["email"])
        page.get_by_label("Device name").fill("Phone 2FA")
        page.get_by_label("Gate", exact=True).fill("North")
        return context, page

    error = "#offline-pair-error"
    pair_button = "Pair this device"
    # Upstream out of reach: pairing says so (the relay scans on meanwhile).
    with _relay_of(
        live_server.url, event["id"], relay_device["token"], relay_file, link_up=False
    ) as url:
        context, page = opened(url)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name=pair_button).click()
        expect(page.locator(error)).to_have_text(
            "The ticketing server cannot be reached now; pair devices while the link is up."
        )
        expect(page.locator("#offline")).to_have_attribute("data-paired", "false")
        context.close()

    with _relay_of(live_server.url, event["id"], relay_device["token"], relay_file) as url:
        context, page = opened(url)
        code_field = page.locator("#offline-login-code-field")
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name=pair_button).click()
        expect(page.locator(error)).to_have_text("E-mail or password is incorrect.")
        expect(code_field).to_be_hidden()
        # The right password: the account asks for its second factor.
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name=pair_button).click()
        expect(code_field).to_be_visible()
        expect(page.locator(error)).to_have_text("")
        assert page.get_by_label("Password").input_value() == ""
        code = page.get_by_label("Code from your authenticator app, or a recovery code")
        code.fill(authenticator.wrong_code())
        page.get_by_role("button", name=pair_button).click()
        expect(page.locator(error)).to_have_text("The code is incorrect or was already used.")
        expect(code_field).to_be_visible()
        code.fill(authenticator.code())
        page.get_by_role("button", name=pair_button).click()
        expect(page.locator("#offline")).to_have_attribute("data-ready", "true")
        expect(page.locator("#offline-device")).to_contain_text("Phone 2FA")
        # The login the pairing made is over.
        after = api.get("/api/v1/me/sessions", headers=staff["headers"]).json()["data"]
        assert len(after) == logins
        context.close()
