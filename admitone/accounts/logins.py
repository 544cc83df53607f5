"""A user's logins ("Your logins"): list them, end one, end them all.

A login is an ``AuthSession``: the API's refresh-token family and the web page cookie
alike, and every access token names one. Revoking it ends its refresh tokens, its
access tokens (checked on each request) and its cookie at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import CursorResult, Select, func, select, update
from sqlalchemy.orm import Session

from admitone.accounts.errors import LoginNotFound
from admitone.accounts.models import AuthSession
from admitone.config import Settings
from admitone.db import utcnow

USER_AGENT_MAX = 300


@dataclass(frozen=True)
class LoginView:
    id: uuid.UUID
    device: str
    created_at: datetime
    last_used_at: datetime
    current: bool


def clip_user_agent(user_agent: str | None) -> str | None:
    """What is stored of a User-Agent header: printable, bounded."""
    if not user_agent:
        return None
    cleaned = "".join(char for char in user_agent if char.isprintable())
    return cleaned[:USER_AGENT_MAX] or None


@lru_cache(maxsize=512)
def describe_device(user_agent: str | None) -> str:
    """ "Firefox on Windows", from the User-Agent (ua-parser's maintained rules)."""
    if not user_agent:
        return "Unknown device"
    from ua_parser import parse

    result = parse(user_agent)
    browser = result.user_agent.family if result.user_agent else None
    system = result.os.family if result.os else None
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or user_agent[:60]


def _open_logins(user_id: uuid.UUID, since: datetime) -> Select[AuthSession]:
    last_use = func.coalesce(AuthSession.last_used_at, AuthSession.created_at)
    return (
        select(AuthSession)
        .where(
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            last_use > since,
        )
        .order_by(last_use.desc(), AuthSession.id)
    )


def list_logins(
    session: Session, *, user_id: uuid.UUID, current_id: uuid.UUID | None, settings: Settings
) -> list[LoginView]:
    """The user's open logins, most recently used first; ``current_id`` is marked.

    Open: not ended, and used within ``refresh_token_days`` (older ones can no longer
    refresh nor pass the cookie's age check).
    """
    since = utcnow() - timedelta(days=settings.refresh_token_days)
    return [
        LoginView(
            id=login.id,
            device=describe_device(login.user_agent),
            created_at=login.created_at,
            last_used_at=login.last_used_at or login.created_at,
            current=login.id == current_id,
        )
        for login in session.scalars(_open_logins(user_id, since))
    ]


def end_login(session: Session, *, user_id: uuid.UUID, login_id: uuid.UUID) -> None:
    """End one of the user's logins; LoginNotFound for another user's or an ended one."""
    ended = cast(
        CursorResult[Any],
        session.execute(
            update(AuthSession)
            .where(
                AuthSession.id == login_id,
                AuthSession.user_id == user_id,
                AuthSession.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow(), revoked_reason="logged_out_remotely")
            .execution_options(synchronize_session=False)
        ),
    )
    if ended.rowcount != 1:
        raise LoginNotFound()


def end_other_logins(
    session: Session, *, user_id: uuid.UUID, keep: uuid.UUID | None, reason: str
) -> int:
    """End every open login of the user except ``keep`` (None: all). Returns how many."""
    conditions = [AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)]
    if keep is not None:
        conditions.append(AuthSession.id != keep)
    ended = cast(
        CursorResult[Any],
        session.execute(
            update(AuthSession)
            .where(*conditions)
            .values(revoked_at=utcnow(), revoked_reason=reason)
            .execution_options(synchronize_session=False)
        ),
    )
    return ended.rowcount


def seen(session: Session, *, login_id: uuid.UUID, settings: Settings) -> bool:
    """Record that the login was used now, unless that was recorded recently.

    One conditional UPDATE, which changes nothing (and, on PostgreSQL, writes nothing)
    within ``login_seen_interval_seconds`` of the last record. Called at token refresh
    and page loads, never per API request (docs/performance-log.md).
    """
    now = utcnow()
    stale_before = now - timedelta(seconds=settings.login_seen_interval_seconds)
    touched = cast(
        CursorResult[Any],
        session.execute(
            update(AuthSession)
            .where(
                AuthSession.id == login_id,
                AuthSession.revoked_at.is_(None),
                (AuthSession.last_used_at.is_(None)) | (AuthSession.last_used_at < stale_before),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    return touched.rowcount == 1
