"""Security pages: the second login step, passkey sign-in, the account's factors, and an
organization's two-factor requirement. They call ``admitone.twofactor`` like the API.

The second step keeps the signed second-factor token (twofactor.service.login_challenge)
in a short-lived HttpOnly cookie between the password page and the code page: no login
exists until the second factor checks out. The passkey buttons' JavaScript
(static/js/passkeys.js) calls the JSON routes below with the page's CSRF token.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from admitone.accounts.models import User
from admitone.authorization import OrgAccess, Permission
from admitone.config import Settings
from admitone.deps import SessionDep, SettingsDep, rate_limit
from admitone.errors import DomainError
from admitone.organizations import service as organizations
from admitone.twofactor import passkeys, service
from admitone.twofactor.api import count_attempt
from admitone.twofactor.errors import SecondFactorInvalid, SecondFactorTokenInvalid
from admitone.twofactor.schemas import PasskeyLoginIn, PasskeyRegisterIn, VerificationIn
from admitone.web.deps import (
    Form,
    LoginBeforeSecondFactor,
    form_str,
    page_org_access,
    page_router,
)
from admitone.web.i18n import _
from admitone.web.messages import domain_error_text
from admitone.web.pages.accounts import redirect, safe_next
from admitone.web.security import log_in, secure_cookies
from admitone.web.templating import render

router = page_router()

PENDING_COOKIE = "admitone_second_factor"
SecurityAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.manage_security))]


# --- the second login step -------------------------------------------------------------------


def start_second_step(response: Response, *, token: str, settings: Settings) -> None:
    """Keep the second-factor token for the code page (a few minutes, HttpOnly)."""
    response.set_cookie(
        PENDING_COOKIE,
        token,
        max_age=service.SECOND_FACTOR_TOKEN_SECONDS,
        path="/login",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
    )


def second_step_url(target: str) -> str:
    return "/login/second-factor" + (f"?next={quote(target, safe='')}" if target != "/" else "")


def _pending_token(request: Request) -> str:
    token = request.cookies.get(PENDING_COOKIE)
    if not token:
        raise SecondFactorTokenInvalid()
    return token


def _render_second_step(
    request: Request,
    session: Session,
    *,
    user: User,
    target: str,
    error: str = "",
    status: int = 200,
) -> Response:
    found = service.get_status(session, user=user)
    return render(
        request,
        "account/second_factor.html",
        {
            "errors": {"code": error} if error else {},
            "next_url": target,
            "has_totp": found.totp_enabled,
            "has_passkey": bool(found.passkeys),
        },
        status_code=status,
    )


@router.get("/login/second-factor")
def second_factor_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    next_url: Annotated[str | None, Query(alias="next", max_length=500)] = None,
) -> Response:
    target = safe_next(next_url)
    try:
        user = service.user_of_login_token(
            session, token=_pending_token(request), settings=settings
        )
    except SecondFactorTokenInvalid:
        return redirect("/login" + (f"?next={quote(target, safe='')}" if target != "/" else ""))
    return _render_second_step(request, session, user=user, target=target)


@router.post("/login/second-factor", dependencies=[Depends(rate_limit("second_factor"))])
def second_factor_submit(
    request: Request, form: Form, session: SessionDep, settings: SettingsDep
) -> Response:
    target = safe_next(form_str(form, "next"))
    code = "".join(form_str(form, "code").split())
    try:
        token = _pending_token(request)
        user_id = service.user_id_of_login_token(token, settings=settings)
    except SecondFactorTokenInvalid:
        return redirect("/login", flash="second_factor_expired")
    count_attempt(request, user_id)
    # Six digits are an app code; anything longer a recovery code.
    is_app_code = code.isdigit() and len(code) == 6
    try:
        user = service.complete_login(
            session,
            token=token,
            settings=settings,
            code=code if is_app_code else None,
            recovery_code=None if is_app_code else (code or None),
        )
    except SecondFactorTokenInvalid:
        return redirect("/login", flash="second_factor_expired")
    except DomainError as exc:  # a wrong code, or none at all
        user = service.user_of_login_token(session, token=token, settings=settings)
        message = (
            _("The code is incorrect or was already used.")
            if isinstance(exc, SecondFactorInvalid)
            else _("Enter the code from your authenticator app or a recovery code.")
        )
        return _render_second_step(
            request, session, user=user, target=target, error=message, status=422
        )
    response = redirect(target, flash="logged_in")
    log_in(response, request, session=session, user=user, settings=settings)
    response.delete_cookie(PENDING_COOKIE, path="/login")
    return response


def _logged_in_url(next_url: str | None) -> str:
    target = safe_next(next_url)
    return target + ("&" if "?" in target else "?") + "flash=logged_in"


@router.post("/login/passkey/options", dependencies=[Depends(rate_limit("login"))])
def passkey_login_options(session: SessionDep, settings: SettingsDep) -> JSONResponse:
    options = passkeys.authentication_options(session, settings=settings)
    return JSONResponse(
        {"challenge_id": str(options.challenge_id), "public_key": options.public_key}
    )


@router.post("/login/passkey", dependencies=[Depends(rate_limit("login"))])
def passkey_login(
    request: Request,
    body: PasskeyLoginIn,
    session: SessionDep,
    settings: SettingsDep,
    next_url: Annotated[str | None, Query(alias="next", max_length=500)] = None,
) -> JSONResponse:
    """Sign in with a passkey alone (it verified its user: two factors in one)."""
    user = passkeys.authenticate(
        session,
        challenge_id=body.challenge_id,
        credential=body.credential.model_dump(exclude_none=True),
        settings=settings,
    )
    response = JSONResponse({"redirect": _logged_in_url(next_url)})
    log_in(response, request, session=session, user=user, settings=settings)
    return response


@router.post("/login/second-factor/passkey", dependencies=[Depends(rate_limit("second_factor"))])
def second_factor_passkey(
    request: Request,
    body: PasskeyLoginIn,
    session: SessionDep,
    settings: SettingsDep,
    next_url: Annotated[str | None, Query(alias="next", max_length=500)] = None,
) -> JSONResponse:
    token = _pending_token(request)
    count_attempt(request, service.user_id_of_login_token(token, settings=settings))
    user = passkeys.complete_login(
        session,
        token=token,
        challenge_id=body.challenge_id,
        credential=body.credential.model_dump(exclude_none=True),
        settings=settings,
    )
    response = JSONResponse({"redirect": _logged_in_url(next_url)})
    log_in(response, request, session=session, user=user, settings=settings)
    response.delete_cookie(PENDING_COOKIE, path="/login")
    return response


# --- the account's security page ---------------------------------------------------------------


def _render_security(
    request: Request,
    session: Session,
    user: User,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    found = service.get_status(session, user=user)
    return render(
        request,
        "account/security.html",
        {"status": found, "errors": errors or {}},
        status_code=status,
    )


@router.get("/account/security")
def security_page(
    request: Request, session: SessionDep, login: LoginBeforeSecondFactor
) -> Response:
    return _render_security(request, session, login.user)


def _render_totp_setup(
    request: Request, setup: service.TotpSetup, *, error: str = "", status: int = 200
) -> Response:
    return render(
        request,
        "account/totp_setup.html",
        {"setup": setup, "errors": {"code": error} if error else {}},
        status_code=status,
    )


@router.post("/account/security/totp")
def totp_start(
    request: Request, session: SessionDep, settings: SettingsDep, login: LoginBeforeSecondFactor
) -> Response:
    setup = service.start_totp_setup(session, user=login.user, settings=settings)
    return _render_totp_setup(request, setup)


@router.post("/account/security/totp/confirm", dependencies=[Depends(rate_limit("second_factor"))])
def totp_confirm(
    request: Request,
    form: Form,
    session: SessionDep,
    settings: SettingsDep,
    login: LoginBeforeSecondFactor,
) -> Response:
    count_attempt(request, login.user.id)
    code = "".join(form_str(form, "code").split())
    try:
        codes = service.confirm_totp(session, user=login.user, code=code, settings=settings)
    except SecondFactorInvalid:
        setup = service.pending_totp_setup(session, user=login.user, settings=settings)
        return _render_totp_setup(
            request, setup, error=_("The code is incorrect or was already used."), status=422
        )
    return render(request, "account/recovery_codes.html", {"codes": codes})


def _verification(form: Any) -> VerificationIn | None:
    code = "".join(form_str(form, "code").split())
    password = form.get("password")
    try:
        return VerificationIn(
            code=code if code.isdigit() else None,
            recovery_code=code if code and not code.isdigit() else None,
            password=password if isinstance(password, str) and password else None,
        )
    except ValidationError:
        return None


def _security_error(
    request: Request, session: Session, user: User, exc: DomainError | None
) -> Response:
    message = domain_error_text(exc) if exc else _("This value is not valid.")
    return _render_security(request, session, user, errors={"__all__": message}, status=422)


@router.post("/account/security/totp/disable", dependencies=[Depends(rate_limit("second_factor"))])
def totp_disable(
    request: Request,
    form: Form,
    session: SessionDep,
    settings: SettingsDep,
    login: LoginBeforeSecondFactor,
) -> Response:
    count_attempt(request, login.user.id)
    proof = _verification(form)
    if proof is None:
        return _security_error(request, session, login.user, None)
    try:
        service.disable_totp(
            session,
            user=login.user,
            settings=settings,
            code=proof.code,
            recovery_code=proof.recovery_code,
            password=proof.password,
        )
    except DomainError as exc:
        return _security_error(request, session, login.user, exc)
    return redirect("/account/security", flash="totp_disabled")


@router.post(
    "/account/security/recovery-codes", dependencies=[Depends(rate_limit("second_factor"))]
)
def recovery_codes_renew(
    request: Request,
    form: Form,
    session: SessionDep,
    settings: SettingsDep,
    login: LoginBeforeSecondFactor,
) -> Response:
    count_attempt(request, login.user.id)
    proof = _verification(form)
    if proof is None:
        return _security_error(request, session, login.user, None)
    try:
        codes = service.regenerate_recovery_codes(
            session, user=login.user, settings=settings, code=proof.code, password=proof.password
        )
    except DomainError as exc:
        return _security_error(request, session, login.user, exc)
    return render(request, "account/recovery_codes.html", {"codes": codes})


@router.post("/account/security/passkeys/options")
def passkey_register_options(
    session: SessionDep, settings: SettingsDep, login: LoginBeforeSecondFactor
) -> JSONResponse:
    options = passkeys.registration_options(session, user=login.user, settings=settings)
    return JSONResponse(
        {"challenge_id": str(options.challenge_id), "public_key": options.public_key}
    )


@router.post("/account/security/passkeys")
def passkey_register(
    body: PasskeyRegisterIn,
    session: SessionDep,
    settings: SettingsDep,
    login: LoginBeforeSecondFactor,
) -> JSONResponse:
    passkeys.register_passkey(
        session,
        user=login.user,
        challenge_id=body.challenge_id,
        credential=body.credential.model_dump(exclude_none=True),
        name=body.name,
        settings=settings,
    )
    return JSONResponse({"redirect": "/account/security?flash=passkey_added"}, status_code=201)


@router.post(
    "/account/security/passkeys/{passkey_id}/remove",
    dependencies=[Depends(rate_limit("second_factor"))],
)
def passkey_remove(
    request: Request,
    passkey_id: uuid.UUID,
    form: Form,
    session: SessionDep,
    settings: SettingsDep,
    login: LoginBeforeSecondFactor,
) -> Response:
    count_attempt(request, login.user.id)
    proof = _verification(form)
    if proof is None:
        return _security_error(request, session, login.user, None)
    try:
        passkeys.remove_passkey(
            session,
            user=login.user,
            passkey_id=passkey_id,
            settings=settings,
            code=proof.code,
            recovery_code=proof.recovery_code,
            password=proof.password,
        )
    except DomainError as exc:
        if exc.status == 404:
            raise
        return _security_error(request, session, login.user, exc)
    return redirect("/account/security", flash="passkey_removed")


# --- an organization's requirement -------------------------------------------------------------


@router.post("/organizer/{org}/two-factor")
def organization_requirement(
    request: Request, form: Form, session: SessionDep, access: SecurityAccess
) -> Response:
    organizations.set_two_factor_requirement(
        session, access=access, required=form_str(form, "require_two_factor") == "on"
    )
    return redirect(
        f"/organizer/{access.organization.slug}/team", flash="two_factor_requirement_saved"
    )
