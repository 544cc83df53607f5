"""Gate staff: pick an event, then scan tickets with the camera, by typing the code
printed under the QR, or by finding the ticket by name, e-mail or order code.

Staff pick the check-in list and whether they scan entries or exits (the default list
and entries are preselected). The page's JavaScript calls the check-in API itself (``POST /api/v1/events/{id}/checkins``)
with a short-lived access token of the page login (``security.access_token_for``), so
the gate uses the very same exactly-once path as any other scanner; so do the search
(``GET .../checkins/search``) and a supervisor's undo (``POST .../undo-admission``).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import JSONResponse, Response

from admitone.authorization import Permission, resolve_access
from admitone.checkin import lists as checkin_lists
from admitone.checkin import service as checkin
from admitone.deps import SessionDep, SettingsDep
from admitone.events import service as events
from admitone.events.models import EventStatus
from admitone.organizations import service as organizations
from admitone.web.deps import RequiredLogin, page_router
from admitone.web.messages import error_text
from admitone.web.security import access_token_for
from admitone.web.templating import render

router = page_router()

# A result fills the screen this long, then the scanner is back (a tap: at once).
RESULT_SECONDS = 4
SCRIPT_ERROR_CODES = (
    "TICKET_NOT_ADMITTED",
    "TICKET_NOT_FOUND",
    "SEARCH_TOO_SHORT",
    "PERMISSION_DENIED",
    "NONCE_REUSED",
    "SCAN_IN_PROGRESS",
    "BUSY",
)


@router.get("/scan")
def scanner_events(request: Request, session: SessionDep, login: RequiredLogin) -> Response:
    """The events the caller may scan at, across their organizations."""
    choices: list[dict[str, Any]] = []
    for organization, _role in organizations.list_user_organizations(session, user=login.user):
        access = resolve_access(
            session, slug=organization.slug, user=login.user, permission=Permission.view_events
        )
        if not access.allows(Permission.check_in):
            continue
        page_events, _total = events.list_events(
            session, access=access, status=EventStatus.published, per_page=100
        )
        choices.extend({"event": event, "organization": organization} for event in page_events)
    choices.sort(key=lambda choice: choice["event"].starts_at)
    return render(request, "scanner/choose.html", {"choices": choices})


@router.get("/scan/{event_id}")
def scanner_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    login: RequiredLogin,
    event_id: Annotated[uuid.UUID, Path()],
) -> Response:
    access = checkin.resolve_event_access(
        session, event_id=event_id, user=login.user, permission=Permission.check_in
    )
    stats = checkin.checkin_stats(session, access=access)
    return render(
        request,
        "scanner/scan.html",
        {
            "event": access.event,
            "stats": stats,
            # The lists to scan for, the default first (preselected); none yet: the
            # default list, made by the first scan.
            "checkin_lists": [
                view.checkin_list
                for view in checkin_lists.lists_of_event(session, event_id=access.event.id)
            ],
            # The page's login gives the API tokens (a site relay's page has only the
            # device's: web/pages/relay_scanner.py).
            "auth": "login",
            "access_token": access_token_for(login, settings),
            "token_minutes": settings.access_token_minutes,
            "may_undo": access.org.allows(Permission.undo_check_in),
            "return_seconds": RESULT_SECONDS,
            # The refusals the page's script may meet, in the reader's language.
            "error_texts": {code: error_text(code, 400) for code in SCRIPT_ERROR_CODES},
        },
    )


@router.post("/scan/token")
def scanner_token(settings: SettingsDep, login: RequiredLogin) -> Response:
    """A fresh API access token of this login for the scanner's JavaScript (CSRF-checked)."""
    return JSONResponse(
        {
            "access_token": access_token_for(login, settings),
            "expires_in": settings.access_token_minutes * 60,
        },
        headers={"cache-control": "no-store"},
    )
