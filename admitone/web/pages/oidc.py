"""Sign in with an identity provider (OpenID Connect), the pages' side.

GET /auth/oidc/{provider}/start -> the provider -> GET /auth/oidc/{provider}/callback
-> logged in (the ordinary cookie login) and back to the page the person came from.

Between the two requests the login's secrets (state, nonce, PKCE verifier, the page to
return to) live in a short-lived cookie signed with the app's secret key, scoped to
/auth/oidc/. The callback accepts only the state of the login started in *this*
browser: a link forged by someone else (login CSRF) or replayed fails. The cookie is
SameSite=Lax, which the top-level GET back from the provider still carries.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, Path, Query, Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from admitone.accounts.oidc import client as oidc_client
from admitone.accounts.oidc import service as oidc_service
from admitone.accounts.oidc.errors import (
    IdentityLoginCancelled,
    IdentityLoginFailed,
    IdentityLoginStateInvalid,
    IdentityProviderInvalidResponse,
    IdentityProviderUnknown,
)
from admitone.config import OidcProvider, Settings
from admitone.deps import SessionDep, SettingsDep, rate_limit
from admitone.web.deps import page_router
from admitone.web.messages import ERROR_CODES
from admitone.web.pages.accounts import finish_login, redirect, safe_next
from admitone.web.security import secure_cookies
from admitone.web.templating import render

router = page_router()
log = structlog.get_logger(__name__)

STATE_COOKIE = "admitone_oidc"
STATE_COOKIE_PATH = "/auth/oidc/"
# Time to sign in at the provider (a password, perhaps a second factor there).
STATE_MAX_AGE_SECONDS = 600

ProviderName = Annotated[str, Path(max_length=40)]


@dataclass(frozen=True)
class PendingLogin:
    provider: str
    state: str
    nonce: str
    code_verifier: str
    next_url: str


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key.get_secret_value(), salt="admitone.oidc")


def _pending_login(request: Request, settings: Settings) -> PendingLogin:
    raw = request.cookies.get(STATE_COOKIE)
    if not raw:
        raise IdentityLoginStateInvalid()
    try:
        data = _serializer(settings).loads(raw, max_age=STATE_MAX_AGE_SECONDS)
        return PendingLogin(
            provider=str(data["p"]),
            state=str(data["s"]),
            nonce=str(data["n"]),
            code_verifier=str(data["v"]),
            next_url=safe_next(str(data["next"])),
        )
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise IdentityLoginStateInvalid() from exc


def _configured(settings: Settings, name: str) -> OidcProvider:
    provider = settings.oidc_provider(name)
    if provider is None:
        raise IdentityProviderUnknown()
    return provider


def _redirect_uri(settings: Settings, provider: OidcProvider) -> str:
    return f"{settings.public_url.rstrip('/')}/auth/oidc/{provider.name}/callback"


def _failure_page(request: Request, error: IdentityLoginFailed) -> Response:
    # The details (the provider's error, which check failed) are for the operator only.
    log.warning(
        "oidc.login_failed",
        code=error.code,
        provider=request.path_params.get("provider"),
        details=error.details,
    )
    text = ERROR_CODES.get(error.code, ERROR_CODES["IDENTITY_PROVIDER_INVALID_RESPONSE"])
    response = render(
        request,
        "account/identity_error.html",
        {"status": error.status, "message": text(), "code": error.code},
        status_code=error.status,
    )
    # One attempt per start: a failed callback's secrets are not reused.
    response.delete_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH)
    return response


@router.get("/auth/oidc/{provider}/start")
def identity_login_start(
    request: Request,
    settings: SettingsDep,
    provider: ProviderName,
    next_url: Annotated[str | None, Query(alias="next", max_length=500)] = None,
) -> Response:
    try:
        configured = _configured(settings, provider)
        start = oidc_client.begin_login(
            configured, redirect_uri=_redirect_uri(settings, configured), settings=settings
        )
    except IdentityLoginFailed as exc:
        return _failure_page(request, exc)
    response = redirect(start.authorization_url)
    pending = {
        "p": configured.name,
        "s": start.state,
        "n": start.nonce,
        "v": start.code_verifier,
        "next": safe_next(next_url),
    }
    response.set_cookie(
        STATE_COOKIE,
        _serializer(settings).dumps(pending),
        max_age=STATE_MAX_AGE_SECONDS,
        path=STATE_COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
    )
    return response


# Counted with the password logins: each callback with a valid state costs calls to
# the provider.
@router.get("/auth/oidc/{provider}/callback", dependencies=[Depends(rate_limit("login"))])
def identity_login_callback(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    provider: ProviderName,
    code: Annotated[str | None, Query(max_length=4000)] = None,
    state: Annotated[str | None, Query(max_length=500)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    try:
        configured = _configured(settings, provider)
        # An error ends the attempt whatever its state: it logs nobody in, and some
        # providers leave the state out of error answers.
        if error:
            raise IdentityLoginCancelled(error=error)
        pending = _pending_login(request, settings)
        # A code is used only with the state of the login started in this browser.
        if (
            pending.provider != configured.name
            or not state
            or not hmac.compare_digest(state.encode(), pending.state.encode())
        ):
            raise IdentityLoginStateInvalid()
        if not code:
            raise IdentityProviderInvalidResponse(reason="no code in the callback")
        identity = oidc_client.complete_login(
            configured,
            code=code,
            nonce=pending.nonce,
            code_verifier=pending.code_verifier,
            redirect_uri=_redirect_uri(settings, configured),
            settings=settings,
        )
        # Every refusal is raised before the service writes anything, so returning the
        # failure page (a normal return: the unit of work commits) changes nothing.
        signed_in = oidc_service.sign_in_with_identity(session, identity=identity)
    except IdentityLoginFailed as exc:
        return _failure_page(request, exc)
    # The account's second factor, if it has one, is asked for as after a password.
    response = finish_login(
        request,
        session=session,
        user=signed_in.user,
        settings=settings,
        target=pending.next_url,
        flash="welcome" if signed_in.found_by == "created" else "logged_in",
    )
    response.delete_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH)
    return response
