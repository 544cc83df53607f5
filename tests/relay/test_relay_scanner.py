"""The browser scanner at a site relay (docs/gates.md, "Site relay"): the relay serves the
scanner page of its event, the shell's static files, the service worker and the manifest
(upstream's own, byte for byte), with upstream's security headers and CSP, in the
reader's language; and nothing else. The page in a browser: tests/web/e2e/
test_relay_gate.py."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount

from admitone.db import Database
from admitone.middleware import CSP, SECURITY_HEADERS
from admitone.relay.app import create_relay_app
from admitone.relay.store import RelayStore
from admitone.web.pages import scanner_shell
from tests.relay.conftest import down_upstream
from tests.tickets.factories import World
from tests.web.helpers import STATIC_URL

pytestmark = pytest.mark.usefixtures("clean_database")

# Every route of the relay's app, in order: a new one must be added here, to the
# NOT_RELAYED examples when it is not one (test_relay.py), and to docs/gates.md.
RELAY_ROUTES = [
    ("POST", "/api/v1/events/{event_id}/checkins"),
    ("GET", "/api/v1/scan/bundle"),
    ("POST", "/api/v1/scan/batches"),
    ("POST", "/api/v1/events/{event_id}/devices"),
    ("POST", "/api/v1/auth/login"),  # the login a browser pairs with: test_relay_login.py
    ("POST", "/api/v1/auth/login/second-factor"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/relay/status"),
    ("GET", "/healthz"),
    ("*", "/static"),  # the scanner shell's files only
    ("GET", "/scanner-sw.js"),
    ("GET", "/scanner.webmanifest"),
    ("GET", "/scan"),
    ("GET", "/scan/{event_id:uuid}"),
    ("DELETE,GET,PATCH,POST,PUT", "/{path:path}"),  # NOT_RELAYED, last
]


def test_the_relay_serves_exactly_its_routes(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'routes.db'}")
    try:
        app = create_relay_app(store=RelayStore(database), upstream=down_upstream())
        found = []
        for context in iter_route_contexts(app.routes):
            if isinstance(context.original_route, Mount):
                found.append(("*", context.path))
            else:
                methods = sorted(set(context.methods or ()) - {"HEAD"})
                found.append((",".join(methods), context.path))
        assert found == RELAY_ROUTES
    finally:
        database.dispose()


def _headers_of(response: httpx.Response) -> dict[str, str]:
    return {
        name.decode(): response.headers.get(name.decode(), "") for name, _value in SECURITY_HEADERS
    }


def test_the_relay_serves_the_scanner_with_upstreams_headers(
    make_relay, world: World, client: TestClient
) -> None:
    expected = {name.decode(): value.decode() for name, value in SECURITY_HEADERS}
    with make_relay() as relay, httpx.Client(base_url=relay.url) as http:
        for path in ("/scan", f"/scan/{world.event.id}"):
            page = http.get(path)
            assert page.status_code == 200, page.text
            assert page.headers["content-type"] == "text/html; charset=utf-8"
            assert page.headers["cache-control"] == "no-store"
            # The CSP of upstream's pages: scripts only from the relay itself, no inline.
            assert page.headers["content-security-policy"] == CSP.decode()
            assert _headers_of(page) == expected
            html = page.text
            assert 'data-auth="device"' in html
            assert f'data-event-id="{world.event.id}"' in html
            assert "<h1>Night Show</h1>" in html  # the bundle's event
            assert not re.search(r"<script(?![^>]*\ssrc=)", html), "an inline script"
            assert not re.search(r"\son[a-z]+=", html), "an inline event handler"
            assert not re.search(r"\sstyle=", html), "an inline style"
            # Nothing of a login: no token, no CSRF, none of what needs a staff login.
            for absent in (
                "data-token",
                "data-csrf",
                "csrf_token",
                "search-form",
                'action="/logout"',
            ):
                assert absent not in html, absent
            # Pairing logs in through the relay, at upstream's own addresses.
            assert 'data-login-url="/api/v1/auth/login"' in html
            assert 'data-logout-url="/api/v1/auth/logout"' in html
            assert 'id="offline-login-password" name="password" type="password"' in html
            assert '<span id="offline-status-queue">Not paired with the relay yet</span>' in html
            # The default list, preselected.
            assert re.search(r'<option value="[0-9a-f-]{36}" selected>Default', html)
            # Every file the page loads is the shell's and answers, with the same headers.
            used = set(STATIC_URL.findall(html))
            shell = {scanner_shell.static_url(path) for path in scanner_shell.SHELL_FILES}
            assert used and used <= shell, used - shell
            assert 'rel="manifest" href="/scanner.webmanifest"' in html
            assert 'data-sw-url="/scanner-sw.js" data-sw-scope="/scan"' in html

        for url in sorted(shell):
            asset = http.get(url)
            assert asset.status_code == 200, url
            assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert asset.headers["content-security-policy"] == CSP.decode()
            assert _headers_of(asset) == expected
        # Upstream's other files are not the relay's to serve.
        assert http.get("/static/js/passkeys.js").status_code == 404
        assert http.get("/static/../pages/scanner.py").status_code == 404

        # The service worker and the manifest are upstream's, byte for byte.
        worker = http.get("/scanner-sw.js")
        assert worker.status_code == 200
        assert worker.headers["content-type"] == "text/javascript; charset=utf-8"
        assert worker.headers["service-worker-allowed"] == "/scan"
        assert worker.headers["cache-control"] == "no-cache"
        assert worker.text == client.get("/scanner-sw.js").text
        manifest = http.get("/scanner.webmanifest")
        assert manifest.headers["content-type"] == "application/manifest+json"
        assert manifest.json() == client.get("/scanner.webmanifest").json()
        assert manifest.json()["start_url"] == "/scan"


def test_the_relay_page_speaks_the_readers_language(make_relay) -> None:
    with make_relay() as relay, httpx.Client(base_url=relay.url) as http:
        french = http.get("/scan", headers={"accept-language": "fr-FR,fr;q=0.9,en;q=0.5"})
        assert '<html lang="fr">' in french.text
        assert "Cet appareil au relais sur site" in french.text
        assert "Associer cet appareil" in french.text
        manifest = http.get("/scanner.webmanifest", headers={"accept-language": "fr"}).json()
        assert manifest["name"] == "Scanner d'entrée Admit One"
        english = http.get("/scan", headers={"accept-language": "de, en;q=0.5"})
        assert '<html lang="en">' in english.text
        assert "This device at the site relay" in english.text


def test_a_relay_with_no_bundle_yet_says_so_and_looks_again(make_relay, world: World) -> None:
    with (
        make_relay(upstream=down_upstream(), pull=False) as relay,
        httpx.Client(base_url=relay.url) as http,
    ):
        page = http.get("/scan", headers={"accept-language": "en"})
        assert page.status_code == 503
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["content-security-policy"] == CSP.decode()
        assert '<meta http-equiv="refresh" content="5">' in page.text
        assert "has not downloaded the event" in page.text
        assert "data-auth" not in page.text
        # Its event's address says the same; another event's is not here.
        assert http.get(f"/scan/{world.event.id}").status_code == 503
        other = http.get(f"/scan/{uuid.uuid4()}")
        assert other.status_code == 404
        assert other.json()["error"]["code"] == "NOT_RELAYED"
