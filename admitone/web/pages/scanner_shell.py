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
    "js/scanner-offline.js",
    "js/scanner.js",
    "js/qr-worker.js",
    "vendor/jsqr/jsQR.js",
    *(icon for icon, _size, _purpose in ICONS),
)
THEME_COLOR = "#0b1020"


def shell_version() -> str:
    """The service worker's version: changes with any shell file or the worker's source."""
    return combined_version((*SHELL_FILES, SERVICE_WORKER_SOURCE))


@functools.cache
def service_worker_script() -> str:
    # Cached for the process's life, as static_version is: files change only by a deploy.
    shell = {
        "version": shell_version(),
        "assets": [static_url(path) for path in SHELL_FILES],
        "pages": [SCOPE],
    }
    source = (STATIC_DIR / SERVICE_WORKER_SOURCE).read_text(encoding="utf-8")
    return f"var SHELL = {json.dumps(shell)};\n{source}"


@router.get("/scanner-sw.js")
def scanner_service_worker() -> Response:
    return Response(
        service_worker_script(),
        media_type="text/javascript; charset=utf-8",
        headers={"cache-control": "no-cache", "service-worker-allowed": SCOPE},
    )


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
