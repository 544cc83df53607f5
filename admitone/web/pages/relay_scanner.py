"""The gate scanner at a site relay (docs/gates.md, "Site relay"): upstream's scanner
page for the relay's one event, at ``/scan`` (the installed app's start page) and
``/scan/{its event id}``, served by the relay so that the page and the API it calls have
one origin (a page from an https upstream may not call an http relay on the LAN).

The same template, scripts and service worker as upstream's ``/scan/{event_id}``
(``scanner/_scanner.html``, ``js/scanner*.js``). What differs is said by the page, not by
other code: the relay knows no logins, so the page works with the paired device's token
only (``auth`` "device": no login token, and none of what needs a staff login: the search,
the undo, the counts), and pairs the browser with an upstream login that ends at once
(the pairing form's login addresses, forwarded by the relay: ``relay/api.py``). The event
and its lists come from the relay's last pulled bundle.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import HTMLResponse

from admitone.relay.errors import NotRelayed
from admitone.relay.store import RelayStore, Snapshot
from admitone.web.deps import page_router
from admitone.web.i18n import current_locale
from admitone.web.messages import error_text
from admitone.web.pages.scanner import RESULT_SECONDS
from admitone.web.templating import environment

router = page_router()

# The refusals the page's script may meet at the relay, in the reader's language: the
# pairing's (upstream's, passed on), the relay's own, and the scan's.
SCRIPT_ERROR_CODES = (
    "INVALID_CREDENTIALS",
    "SECOND_FACTOR_INVALID",
    "SECOND_FACTOR_TOKEN_INVALID",
    "EMAIL_NOT_VERIFIED",
    "TWO_FACTOR_REQUIRED",
    "PERMISSION_DENIED",
    "NOT_FOUND",
    "RATE_LIMITED",
    "VALIDATION_ERROR",
    "UPSTREAM_UNAVAILABLE",
    "RELAY_NOT_READY",
    "DEVICE_TOKEN_INVALID",
    "NONCE_REUSED",
    "CHECKIN_LIST_NOT_FOUND",
)
NOT_READY_RETRY_SECONDS = 5


def _event(snapshot: Snapshot) -> dict[str, Any]:
    """What the page shows of the bundle's event (it carries no venue)."""
    event = snapshot.event
    return {
        "id": snapshot.event_id,
        "title": event["name"],
        "starts_at": datetime.fromisoformat(event["starts_at"]),
        "timezone": event["timezone"],
        "venue_name": None,
    }


def _lists(snapshot: Snapshot) -> list[dict[str, Any]]:
    """The lists to scan for, the default first (preselected), then by name."""
    found = [
        {"id": info.rules.id, "name": info.rules.name, "is_default": info.is_default}
        for info in snapshot.lists.values()
    ]
    return sorted(found, key=lambda item: (not item["is_default"], item["name"]))


def _page(request: Request) -> HTMLResponse:
    store: RelayStore = request.app.state.relay_store
    snapshot = store.snapshot
    values: dict[str, Any] = {"locale": current_locale(), "retry_seconds": NOT_READY_RETRY_SECONDS}
    if snapshot is None:
        # A first start with no link to upstream: nothing to scan against yet. The page
        # says so and looks again by itself (a meta refresh: no script needed).
        values.update(event=None, not_ready=error_text("RELAY_NOT_READY", 503))
        status = 503
    else:
        values.update(
            event=_event(snapshot),
            checkin_lists=_lists(snapshot),
            auth="device",
            may_undo=False,
            return_seconds=RESULT_SECONDS,
            error_texts={code: error_text(code, 400) for code in SCRIPT_ERROR_CODES},
        )
        status = 200
    html = environment.get_template("scanner/relay.html").render(values)
    # As upstream's pages: never kept by the HTTP cache (the service worker keeps a copy).
    return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


@router.get("/scan")
def relay_scanner(request: Request) -> HTMLResponse:
    """The scanner of the relay's event: the installed app's start page."""
    return _page(request)


@router.get("/scan/{event_id:uuid}")
def relay_scanner_of_event(
    request: Request, event_id: Annotated[uuid.UUID, Path()]
) -> HTMLResponse:
    """The same page at upstream's address of it; another event's is not here."""
    store: RelayStore = request.app.state.relay_store
    snapshot = store.snapshot
    if event_id != (store.event_id or (snapshot.event_id if snapshot else None)):
        raise NotRelayed(path=request.url.path)
    return _page(request)
