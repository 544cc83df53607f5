"""Cookie login and CSRF protection for the HTML pages.

**Login cookie.** A page login opens an ordinary login (``accounts.service.start_session``,
an ``AuthSession`` row) and stores its id and the user's id in the ``admitone_session``
cookie, signed with the app's secret key (itsdangerous, timestamped). Each page request
checks the signature, the age (``refresh_token_days``) and that the login is still
open, in one query. The cookie carries no bearer token: stealing the signing key is
needed to forge one, and logging out (``accounts.service.logout``) revokes the login on
the server, so a copied cookie stops working too. The cookie is ``HttpOnly``,
``SameSite=Lax`` and ``Secure`` outside development and test. Pages whose JavaScript
calls the JSON API (the gate scanner) get a short-lived access token of the *same*
login, so logout ends it too.

**CSRF.** A signed double-submit token: a random nonce lives in the ``admitone_csrf``
cookie (HttpOnly, SameSite=Lax); every form carries ``csrf_token`` = the nonce and the
login id, signed with the secret key. A state-changing page request is accepted only
when the signature is valid, the nonce equals the cookie's and the login id is the
caller's current one. A new nonce is issued at login and logout, so a token taken
before cannot be replayed after. JavaScript sends the same token in ``X-CSRF-Token``.
Each page gets the nonce masked anew (XOR with random bytes that travel beside it, as
Django does), so no two pages carry the same token: a compressed page cannot be made to
leak it by BREACH-style guessing (``web/compression.py``).
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import exists, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from admitone.accounts import logins, tokens
from admitone.accounts import service as accounts
from admitone.accounts.models import AuthSession, User
from admitone.authorization import Permission, acts_everywhere_with, roles_allowed
from admitone.config import Environment, Settings
from admitone.db import utcnow
from admitone.errors import DomainError, NotAuthenticated, PermissionDenied
from admitone.orders.buyer_orders import claim_guest_orders
from admitone.organizations.models import Membership

log = structlog.get_logger(__name__)

SESSION_COOKIE = "admitone_session"
CSRF_COOKIE = "admitone_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
CSRF_MAX_AGE = timedelta(hours=12)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ANONYMOUS = "-"


class LoginRequired(NotAuthenticated):
    code = "LOGIN_REQUIRED"
    message = "Please log in to see this page."


class CsrfFailed(PermissionDenied):
    code = "CSRF_FAILED"
    message = "The form has expired or did not come from this site; reload the page."


@dataclass(frozen=True)
class WebLogin:
    user: User
    auth_session_id: uuid.UUID
    # Whether the header shows "Scan": the user checks in somewhere (read with the login).
    may_scan: bool = False
    # Whether the header shows "Point of sale": the user holds a role that sells somewhere.
    may_sell: bool = False


# In the login's own query: does the user hold a role that checks in, anywhere?
_CHECKS_IN_SOMEWHERE = (
    exists()
    .where(
        Membership.user_id == User.id,
        Membership.role.in_(roles_allowed(Permission.check_in)),
    )
    .label("may_scan")
)
_SELLS_SOMEWHERE = (
    exists()
    .where(
        Membership.user_id == User.id,
        Membership.role.in_(roles_allowed(Permission.sell_at_stand)),
    )
    .label("may_sell")
)


def _serializer(settings: Settings, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key.get_secret_value(), salt=salt)


def secure_cookies(settings: Settings) -> bool:
    return settings.env not in (Environment.development, Environment.test)


def _set_cookie(
    response: Response, settings: Settings, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
    )


# --- the login cookie -----------------------------------------------------------------


def _cookie_claims(request: Request, settings: Settings) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(user id, login id) from a well-signed, unexpired cookie; None otherwise."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(settings, "admitone.session").loads(
            raw, max_age=settings.refresh_token_days * 86400
        )
        return uuid.UUID(data["uid"]), uuid.UUID(data["sid"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None


def load_login(request: Request, session: Session, settings: Settings) -> WebLogin | None:
    """The logged-in user of this request, once per request (cached on ``request.state``)."""
    if hasattr(request.state, "web_login"):
        return request.state.web_login
    login = None
    claims = _cookie_claims(request, settings)
    if claims is not None:
        user_id, auth_session_id = claims
        row = session.execute(
            select(User, AuthSession.last_used_at, _CHECKS_IN_SOMEWHERE, _SELLS_SOMEWHERE)
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(
                User.id == user_id,
                AuthSession.id == auth_session_id,
                AuthSession.revoked_at.is_(None),
                User.is_active.is_(True),
            )
        ).first()
        if row is not None:
            user, last_used_at, checks_in, sells = row
            may_scan = bool(checks_in) or acts_everywhere_with(user, Permission.check_in)
            login = WebLogin(
                user=user, auth_session_id=auth_session_id, may_scan=may_scan, may_sell=bool(sells)
            )
            _record_use(request, session, auth_session_id, last_used_at, settings)
    request.state.web_login = login
    return login


def _record_use(
    request: Request,
    session: Session,
    auth_session_id: uuid.UUID,
    last_used_at: datetime | None,
    settings: Settings,
) -> None:
    """Note the login's last use for "Your logins", at most every few minutes.

    A form post writes it in its own unit of work (which holds SQLite's write lock
    already); a page load's session is a read one, so it gets a short write unit of work
    of its own, best effort: this note must never fail the page.
    """
    interval = timedelta(seconds=settings.login_seen_interval_seconds)
    if last_used_at is not None and utcnow() - last_used_at < interval:
        return
    if request.method not in SAFE_METHODS:
        logins.seen(session, login_id=auth_session_id, settings=settings)
        return
    database = getattr(request.app.state, "db", None)
    if database is None:
        return
    try:
        with database.session() as write_session:
            logins.seen(write_session, login_id=auth_session_id, settings=settings)
    except (SQLAlchemyError, DomainError):
        log.warning("login.last_use_not_recorded", auth_session_id=str(auth_session_id))


def log_in(
    response: Response, request: Request, *, session: Session, user: User, settings: Settings
) -> WebLogin:
    """Open a login for ``user`` and put it in the cookie (with a fresh CSRF nonce); a
    verified address finds the guest orders it placed."""
    pair = accounts.start_session(
        session, user=user, settings=settings, user_agent=request.headers.get("user-agent")
    )
    claim_guest_orders(session, user=user)
    _user_id, auth_session_id = tokens.decode_access_token(
        pair.access_token, secret=settings.secret_key.get_secret_value()
    )
    value = _serializer(settings, "admitone.session").dumps(
        {"uid": str(user.id), "sid": str(auth_session_id)}
    )
    _set_cookie(response, settings, SESSION_COOKIE, value, settings.refresh_token_days * 86400)
    _rotate_csrf(response, request, settings)
    login = WebLogin(user=user, auth_session_id=auth_session_id)
    request.state.web_login = login
    return login


def log_out(response: Response, request: Request, *, session: Session, settings: Settings) -> None:
    login = load_login(request, session, settings)
    if login is not None:
        accounts.logout(session, auth_session_id=login.auth_session_id)
    response.delete_cookie(SESSION_COOKIE, path="/")
    _rotate_csrf(response, request, settings)
    request.state.web_login = None


def access_token_for(login: WebLogin, settings: Settings) -> str:
    """A short-lived API access token of the same login (revoked with it)."""
    return tokens.encode_access_token(
        user_id=login.user.id,
        session_id=login.auth_session_id,
        secret=settings.secret_key.get_secret_value(),
        now=utcnow(),
        minutes=settings.access_token_minutes,
    )


# --- CSRF -------------------------------------------------------------------------------


def _csrf_nonce(request: Request) -> str:
    """This request's CSRF nonce: the cookie's, or a new one that ``render`` will set."""
    nonce = getattr(request.state, "csrf_nonce", None)
    if nonce:
        return nonce
    nonce = request.cookies.get(CSRF_COOKIE) or ""
    if len(nonce) < 16:
        nonce = secrets.token_urlsafe(24)
        request.state.csrf_new = True
    request.state.csrf_nonce = nonce
    return nonce


def _rotate_csrf(response: Response, request: Request, settings: Settings) -> None:
    nonce = secrets.token_urlsafe(24)
    request.state.csrf_nonce = nonce
    request.state.csrf_new = False
    _set_cookie(response, settings, CSRF_COOKIE, nonce, settings.refresh_token_days * 86400)


def set_csrf_cookie_if_new(response: Response, request: Request, settings: Settings) -> None:
    if getattr(request.state, "csrf_new", False):
        _set_cookie(
            response,
            settings,
            CSRF_COOKIE,
            request.state.csrf_nonce,
            settings.refresh_token_days * 86400,
        )
        request.state.csrf_new = False


def _binding(request: Request, settings: Settings) -> str:
    login = getattr(request.state, "web_login", None)
    if login is not None:
        return str(login.auth_session_id)
    claims = _cookie_claims(request, settings)
    return str(claims[1]) if claims else ANONYMOUS


def _masked(nonce: str) -> list[str]:
    """``nonce`` XOR fresh random bytes, and those bytes: different on every page."""
    plain = nonce.encode()
    mask = secrets.token_bytes(len(plain))
    return [mask.hex(), bytes(a ^ b for a, b in zip(plain, mask, strict=True)).hex()]


def _unmasked(mask_hex: str, masked_hex: str) -> str:
    mask, masked = bytes.fromhex(mask_hex), bytes.fromhex(masked_hex)
    if len(mask) != len(masked):
        raise ValueError("mask and masked nonce differ in length")
    return bytes(a ^ b for a, b in zip(masked, mask, strict=True)).decode()


def csrf_token(request: Request, settings: Settings) -> str:
    return _serializer(settings, "admitone.csrf").dumps(
        [*_masked(_csrf_nonce(request)), _binding(request, settings)]
    )


async def _submitted_token(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value: Any = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def verify_csrf(request: Request) -> None:
    """Refuse a state-changing page request without a valid token (a dependency)."""
    if request.method in SAFE_METHODS:
        return
    settings: Settings = request.app.state.settings
    submitted = await _submitted_token(request)
    cookie = request.cookies.get(CSRF_COOKIE)
    if not submitted or not cookie:
        raise CsrfFailed()
    try:
        mask, masked, binding = _serializer(settings, "admitone.csrf").loads(
            submitted, max_age=int(CSRF_MAX_AGE.total_seconds())
        )
        nonce = _unmasked(mask, masked)
    except (BadSignature, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise CsrfFailed() from exc
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce, cookie):
        raise CsrfFailed()
    claims = _cookie_claims(request, settings)
    expected = str(claims[1]) if claims else ANONYMOUS
    if binding != expected:
        raise CsrfFailed()
