"""The gate scanner as an installable, offline-capable web app: its manifest and its
service worker (docs/offline-scanner.md).

``GET /scanner-sw.js`` is the service worker: ``static/js/scanner-sw.js`` with the shell's
description written above it (its version, the versioned addresses of the files to
precache, the pages to keep). It lives at the root so that it may control ``/scan`` (the
event list) as well as ``/scan/<event id>``; ``Service-Worker-Allowed`` names that scope
(the largest it may take), and the page registers it with that scope. Its version is
``combined_version`` of the shell's files and of the worker's own source: any change to
one of them is a new worker, which the browser installs at its next update check (every
page load, since the script is served ``no-cache``), and which replaces the old shell.

``GET /scanner.webmanifest`` is the web app manifest, in the reader's language.

Both hold no secret and need no login: the pages they serve still do.

The point of sale (``web/pages/pos.py``) is the same kind of app with the same worker
source: ``worker_script`` writes its own description (its name, scope, files and pages)
above ``static/js/scanner-sw.js``, served at ``/pos-sw.js``. Each app keeps its own
caches (``admitone-<name>-<version>``), so a deploy of one never empties the other's.
"""

from __future__ import annotations

import functools
import json

from fastapi.responses import Response

from admitone.web.deps import page_router
from admitone.web.i18n import _, current_locale
from admitone.web.static_files import combined_version
from admitone.web.templating import STATIC_DIR, static_url

router = page_router()

SCOPE = "/scan"
SERVICE_WORKER_SOURCE = "js/scanner-sw.js"
ICONS = (
    ("img/scanner-icon-192.png", "192x192", "any"),
    ("img/scanner-icon-512.png", "512x512", "any"),
    ("img/scanner-icon-maskable-512.png", "512x512", "maskable"),
)
# Every static file the scanner page loads, and the icons. A file added to the page must
# be added here, or the page opened offline misses it (tests/web/test_scanner_shell.py
# checks the page against this list).
SHELL_FILES = (
    "css/app.css",
    "js/app.js",
    "img/favicon.svg",
    "js/scanner-shell.js",
    "js/offline-core.js",
    "js/scanner-offline.js",
    "js/qr-camera.js",
    "js/scanner.js",
    "js/qr-worker.js",
    "vendor/jsqr/jsQR.js",
    *(icon for icon, _size, _purpose in ICONS),
)
THEME_COLOR = "#0b1020"


# The pages a worker keeps for offline use: its scope, and a uuid under it (JavaScript
# regular expression, matched against a navigation's path).
PAGE_PATTERN = "^{scope}(/[0-9a-fA-F-]{{32,36}})?$"


def app_version(files: tuple[str, ...]) -> str:
    """An offline app's worker version: changes with any of its files or the worker's
    source."""
    return combined_version((*files, SERVICE_WORKER_SOURCE))


def shell_version() -> str:
    """The scanner's worker version."""
    return app_version(SHELL_FILES)


def worker_script(*, name: str, scope: str, version: str, files: tuple[str, ...]) -> str:
    """The service worker of one offline app: the shared source with its description.
    ``name`` names its caches (``admitone-<name>-<version>``); the worker keeps the
    navigations to ``scope`` and ``scope/<uuid>`` and precaches ``files``."""
    shell = {
        "name": name,
        "scope": scope,
        "version": version,
        "assets": [static_url(path) for path in files],
        "pages": [scope],
        "page_pattern": PAGE_PATTERN.format(scope=scope),
    }
    source = (STATIC_DIR / SERVICE_WORKER_SOURCE).read_text(encoding="utf-8")
    return f"var SHELL = {json.dumps(shell)};\n{source}"


def worker_response(script: str, scope: str) -> Response:
    return Response(
        script,
        media_type="text/javascript; charset=utf-8",
        headers={"cache-control": "no-cache", "service-worker-allowed": scope},
    )


@functools.cache
def service_worker_script() -> str:
    # Cached for the process's life, as static_version is: files change only by a deploy.
    return worker_script(name="scanner", scope=SCOPE, version=shell_version(), files=SHELL_FILES)


@router.get("/scanner-sw.js")
def scanner_service_worker() -> Response:
    return worker_response(service_worker_script(), SCOPE)


@router.get("/scanner.webmanifest")
def scanner_manifest() -> Response:
    manifest = {
        "id": SCOPE,
        "name": _("Admit One gate scanner"),
        "short_name": _("Scanner"),
        "description": _("Scan tickets at the entrance of an event."),
        "lang": current_locale(),
        "dir": "ltr",
        "start_url": SCOPE,
        "scope": SCOPE,
        "display": "standalone",
        "orientation": "portrait",
        "background_color": THEME_COLOR,
        "theme_color": THEME_COLOR,
        "icons": [
            {"src": static_url(path), "sizes": size, "type": "image/png", "purpose": purpose}
            for path, size, purpose in ICONS
        ],
    }
    return Response(
        json.dumps(manifest, ensure_ascii=False),
        media_type="application/manifest+json",
        # The language follows the cookie or Accept-Language (the page asks with credentials).
        headers={"cache-control": "no-cache", "vary": "Accept-Language, Cookie"},
    )
