"""The gate scanner's installable offline shell: the manifest, the service worker, its
version, and the page's files all in the worker's precache list (docs/offline-scanner.md)."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from admitone.middleware import CSP
from admitone.web import static_files
from admitone.web.pages import scanner_shell
from tests.helpers import add_member, create_org, register
from tests.web.helpers import STATIC_URL, create_event, get_page, web_login, worker_shell


def test_the_service_worker_is_served_as_script_for_the_scan_scope(client: TestClient) -> None:
    response = client.get("/scanner-sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    # Checked at every page load: a deploy is seen at once.
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["service-worker-allowed"] == "/scan"
    shell = worker_shell(response.text)
    assert shell["version"] == scanner_shell.shell_version()
    assert shell["pages"] == ["/scan"]
    assert len(shell["assets"]) == len(scanner_shell.SHELL_FILES)
    for url in shell["assets"]:
        assert STATIC_URL.fullmatch(url), url
        assert client.get(url).status_code == 200, url
    # The decoder runs in a same-origin worker: the CSP allows no blob: worker and no
    # WebAssembly (default-src 'self' covers the worker script).
    assert b"worker-src" not in CSP and b"wasm-unsafe-eval" not in CSP


def test_the_manifest_makes_the_scanner_installable(client: TestClient) -> None:
    response = client.get("/scanner.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/manifest+json"
    assert response.headers["cache-control"] == "no-cache"
    manifest = response.json()
    assert manifest["start_url"] == "/scan"
    assert manifest["start_url"].startswith(manifest["scope"])
    assert manifest["display"] == "standalone"
    assert manifest["name"] == "Admit One gate scanner"
    sizes = set()
    for icon in manifest["icons"]:
        png = client.get(icon["src"])
        assert png.status_code == 200
        assert png.headers["content-type"] == "image/png"
        width, height = Image.open(io.BytesIO(png.content)).size
        assert icon["sizes"] == f"{width}x{height}"
        sizes.add((icon["sizes"], icon["purpose"]))
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes


def test_the_manifest_speaks_the_readers_language(client: TestClient) -> None:
    manifest = client.get("/scanner.webmanifest", headers={"accept-language": "fr"}).json()
    assert manifest["lang"] == "fr"
    assert manifest["name"] == "Scanner d'entrée Admit One"


def test_every_file_of_the_scanner_page_is_in_the_shell(client: TestClient) -> None:
    owner = register(client)
    org = create_org(client, owner["headers"])["slug"]
    event = create_event(client, owner["headers"], org, title="Shell Night")
    staff = register(client)
    add_member(client, owner["headers"], org, staff["email"], "staff")
    web_login(client, staff["email"])
    assets = set(worker_shell(client.get("/scanner-sw.js").text)["assets"])
    for path in (f"/scan/{event['id']}", "/scan"):
        page = get_page(client, path)
        assert page.status_code == 200
        assert 'rel="manifest" href="/scanner.webmanifest"' in page.text
        used = set(STATIC_URL.findall(page.text))
        assert used, path
        # Offline, a file missing from the precache would be missing from the page.
        assert used <= assets, used - assets
    scanner = get_page(client, f"/scan/{event['id']}").text
    assert 'data-sw-url="/scanner-sw.js"' in scanner
    assert 'data-sw-scope="/scan"' in scanner
    assert re.search(r'data-decoder-url="/static/vendor/jsqr/jsQR\.js\?v=', scanner)
    assert re.search(r'data-decoder-worker-url="/static/js/qr-worker\.js\?v=', scanner)


def test_the_version_changes_when_a_shell_file_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    before = scanner_shell.shell_version()
    real = static_files.static_version
    for changed in ("vendor/jsqr/jsQR.js", "js/scanner.js", "js/scanner-sw.js"):

        def fake(path: str, changed: str = changed) -> str:
            return "0123456789" if path == changed else real(path)

        monkeypatch.setattr(static_files, "static_version", fake)
        assert scanner_shell.shell_version() != before, changed
    # A file outside the shell leaves it alone.
    monkeypatch.setattr(
        static_files, "static_version", lambda path: "x" if path == "js/passkeys.js" else real(path)
    )
    assert scanner_shell.shell_version() == before
    monkeypatch.undo()
    assert scanner_shell.shell_version() == before


def test_the_vendored_decoder_is_the_one_its_readme_names() -> None:
    vendor = scanner_shell.STATIC_DIR / "vendor" / "jsqr"
    readme = (vendor / "README.md").read_text()
    assert "jsqr@1.4.0" in readme
    digest = hashlib.sha256((vendor / "jsQR.js").read_bytes()).hexdigest()
    assert digest in readme
    assert "Apache License" in (vendor / "LICENSE").read_text()
