"""Accounts: registration, login, token rotation, profile.

Refresh tokens rotate: each one works once. A used token presented again means it was
copied, so the whole login (token family) is revoked, including its access tokens.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import CursorResult, bindparam, select, update
from sqlalchemy.orm import Session

from admitone.accounts import logins, passwords, tokens
from admitone.accounts.errors import (
    EmailTaken,
    InvalidCredentials,
    RefreshTokenReused,
    WeakPassword,
)
from admitone.accounts.models import AuthSession, RefreshToken, User
from admitone.config import Settings
from admitone.db import utcnow
from admitone.db_direct import DirectLoad, load_direct
from admitone.errors import InvalidInput, InvalidToken, NotFound


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"  # noqa: S105


def normalize_email(email: str) -> str:
    return email.strip().lower()


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def check_password_policy(
    password: str, *, email: str | None = None, full_name: str | None = None
) -> None:
    problems = passwords.password_problems(password, email=email, full_name=full_name)
    if problems:
        raise WeakPassword(problems=problems)


def register_user(
    session: Session,
    *,
    email: str,
    password: str,
    full_name: str = "",
    is_platform_admin: bool = False,
) -> User:
    """Create an account; the e-mail is unique case-insensitively."""
    email = normalize_email(email)
    try:
        # The API validates too; this guards the CLI and the pages.
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput("The e-mail address is not valid.", email=str(exc)) from exc
    check_password_policy(password, email=email, full_name=full_name)
    if get_user_by_email(session, email) is not None:
        raise EmailTaken()
    user = User(
        email=email,
        password_hash=passwords.hash_password(password),
        full_name=full_name,
        is_platform_admin=is_platform_admin,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, *, email: str, password: str) -> User:
    """The user with these credentials; the same error whether the e-mail exists or not."""
    user = get_user_by_email(session, email)
    valid = passwords.verify_password(user.password_hash if user else None, password)
    if user is None or not valid or not user.is_active:
        raise InvalidCredentials()
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def _issue_refresh_token(
    session: Session, *, auth_session_id: uuid.UUID, settings: Settings
) -> str:
    token = tokens.new_refresh_token()
    session.add(
        RefreshToken(
            session_id=auth_session_id,
            token_hash=tokens.hash_token(token),
            expires_at=utcnow() + timedelta(days=settings.refresh_token_days),
        )
    )
    return token


def _token_pair(
    *, user_id: uuid.UUID, auth_session_id: uuid.UUID, refresh: str, settings: Settings
) -> TokenPair:
    access = tokens.encode_access_token(
        user_id=user_id,
        session_id=auth_session_id,
        secret=settings.secret_key.get_secret_value(),
        now=utcnow(),
        minutes=settings.access_token_minutes,
    )
    return TokenPair(
        access_token=access, refresh_token=refresh, expires_in=settings.access_token_minutes * 60
    )


def start_session(
    session: Session, *, user: User, settings: Settings, user_agent: str | None = None
) -> TokenPair:
    """Open a login (a new refresh-token family) and return its first tokens.

    ``user_agent`` (the client's header) names the device in "Your logins".
    """
    now = utcnow()
    auth_session = AuthSession(
        user_id=user.id,
        created_at=now,
        last_used_at=now,
        user_agent=logins.clip_user_agent(user_agent),
    )
    session.add(auth_session)
    session.flush()
    refresh = _issue_refresh_token(session, auth_session_id=auth_session.id, settings=settings)
    session.flush()
    return _token_pair(
        user_id=user.id, auth_session_id=auth_session.id, refresh=refresh, settings=settings
    )


def _revoke_session(session: Session, auth_session_id: uuid.UUID, reason: str) -> None:
    session.execute(
        update(AuthSession)
        .where(AuthSession.id == auth_session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )


def rotate_refresh_token(session: Session, *, refresh_token: str, settings: Settings) -> TokenPair:
    """Exchange a refresh token for a new pair; the old token is spent.

    The spend is a conditional UPDATE (``used_at IS NULL``), so two concurrent refreshes
    with one token cannot both succeed. A spent token coming back revokes its family.
    """
    row = session.execute(
        select(RefreshToken, AuthSession, User)
        .join(AuthSession, RefreshToken.session_id == AuthSession.id)
        .join(User, AuthSession.user_id == User.id)
        .where(RefreshToken.token_hash == tokens.hash_token(refresh_token))
    ).first()
    if row is None:
        raise InvalidToken()
    token, auth_session, user = row
    now = utcnow()
    if auth_session.revoked_at is not None or not user.is_active or token.expires_at <= now:
        raise InvalidToken()
    spent = cast(
        CursorResult[Any],
        session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    if spent.rowcount != 1:
        _revoke_session(session, auth_session.id, "refresh_token_reused")
        session.flush()
        raise RefreshTokenReused()
    refresh = _issue_refresh_token(session, auth_session_id=auth_session.id, settings=settings)
    # A refresh is a use of the login ("Your logins"), recorded at most every few minutes.
    logins.seen(session, login_id=auth_session.id, settings=settings)
    session.flush()
    return _token_pair(
        user_id=user.id, auth_session_id=auth_session.id, refresh=refresh, settings=settings
    )


def logout(session: Session, *, auth_session_id: uuid.UUID) -> None:
    """End a login: its refresh tokens and its access tokens stop working."""
    _revoke_session(session, auth_session_id, "logout")
    session.flush()


# Built once: the caller lookup runs on every authenticated request, and building a
# statement costs more than running it (docs/performance-log.md). Other
# domains may extend it (checkin: the caller with their role at an event, one query).
ACTIVE_USER_OF_SESSION = (
    select(User)
    .join(AuthSession, AuthSession.user_id == User.id)
    .where(
        User.id == bindparam("user_id"),
        AuthSession.id == bindparam("auth_session_id"),
        AuthSession.revoked_at.is_(None),
        User.is_active.is_(True),
    )
)
_ACTIVE_USER_OF_SESSION = DirectLoad(ACTIVE_USER_OF_SESSION)


def access_token_claims(token: str, *, settings: Settings) -> tuple[uuid.UUID, uuid.UUID]:
    """The (user id, login session id) of a valid access token; InvalidToken otherwise.

    Whether that user is active and the login still open is for ACTIVE_USER_OF_SESSION.
    """
    return tokens.decode_access_token(token, secret=settings.secret_key.get_secret_value())


def user_for_access_token(
    session: Session, *, token: str, settings: Settings
) -> tuple[User, uuid.UUID]:
    """The active user behind an access token whose login is still open."""
    user_id, auth_session_id = access_token_claims(token, settings=settings)
    rows = load_direct(
        session, _ACTIVE_USER_OF_SESSION, {"user_id": user_id, "auth_session_id": auth_session_id}
    )
    if not rows:
        raise InvalidToken()
    return rows[0][0], auth_session_id


def update_profile(
    session: Session,
    *,
    user: User,
    full_name: str | None = None,
    locale: str | None = None,
    current_password: str | None = None,
    new_password: str | None = None,
    current_login_id: uuid.UUID | None = None,
) -> User:
    """Change the profile; a new password needs the current one.

    A new password ends every other login of the account (API tokens, web sessions):
    whoever knew the old one is out. ``current_login_id``, the login making the change,
    stays open; None ends them all.
    """
    if new_password is not None:
        if current_password is None or not passwords.verify_password(
            user.password_hash, current_password
        ):
            raise InvalidCredentials("The current password is incorrect.")
        check_password_policy(new_password, email=user.email, full_name=user.full_name)
        user.password_hash = passwords.hash_password(new_password)
        logins.end_other_logins(
            session, user_id=user.id, keep=current_login_id, reason="password_changed"
        )
    if full_name is not None:
        user.full_name = full_name
    if locale is not None:
        user.locale = locale
    session.flush()
    return user


def get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user
