"""Gate staff: pick an event, then scan tickets with the camera or by typing the code.

The page's JavaScript calls the check-in API itself (``POST /api/v1/events/{id}/checkins``)
with a short-lived access token of the page login (``security.access_token_for``), so
the gate uses the very same exactly-once path as any other scanner.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import JSONResponse, Response

from admitone.authorization import Permission, resolve_access
from admitone.checkin import service as checkin
from admitone.deps import SessionDep, SettingsDep
from admitone.events import service as events
from admitone.events.models import EventStatus
from admitone.organizations import service as organizations
from admitone.web.deps import RequiredLogin, page_router
from admitone.web.security import access_token_for
from admitone.web.templating import render

router = page_router()


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
            "access_token": access_token_for(login, settings),
            "token_minutes": settings.access_token_minutes,
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
