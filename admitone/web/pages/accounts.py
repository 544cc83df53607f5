"""Account pages: sign up, log in, log out, language; they call ``accounts.service``."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from admitone.accounts import service as accounts
from admitone.accounts import verification
from admitone.accounts.errors import EmailTaken, InvalidCredentials, WeakPassword
from admitone.accounts.models import User
from admitone.accounts.schemas import LoginIn, ProfilePatch, RegisterIn
from admitone.authorization import lands_on_scanner
from admitone.config import Settings
from admitone.deps import SessionDep, SettingsDep, rate_limit
from admitone.organizations import service as organizations
from admitone.twofactor import service as two_factor
from admitone.web import i18n
from admitone.web.deps import (
    Form,
    LoginBeforeSecondFactor,
    OptionalLogin,
    RequiredLogin,
    form_str,
    page_router,
)
from admitone.web.i18n import _
from admitone.web.messages import field_errors
from admitone.web.security import log_in, log_out, secure_cookies
from admitone.web.templating import render

router = page_router()


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to go back to; anything else (other sites, ``//host``) is refused."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def redirect(url: str, *, flash: str | None = None) -> RedirectResponse:
    if flash:
        url += ("&" if "?" in url else "?") + f"flash={flash}"
    return RedirectResponse(url, status_code=303)


def password_message(problems: list[str]) -> str:
    text = " ".join(problems).lower()
    if "at least" in text:
        return _("Use at least 10 characters.")
    if "common" in text:
        return _("This password is too common; choose another one.")
    if "repeated" in text or "spaces" in text:
        return _("Do not use one repeated character or only spaces.")
    if "contain" in text:
        return _("Do not put your e-mail address or your name in your password.")
    if "e-mail" in text or "email" in text:
        return _("Do not use your e-mail address as your password.")
    return _("This password is too weak.")


@router.get("/login")
def login_page(
    request: Request,
    login: OptionalLogin,
    next_url: Annotated[str | None, Query(alias="next", max_length=500)] = None,
) -> Response:
    target = safe_next(next_url)
    if login is not None:
        return redirect(target)
    return render(
        request,
        "account/login.html",
        {"errors": {}, "email": "", "next_url": target},
        compressible=True,
    )


@router.post("/login", dependencies=[Depends(rate_limit("login"))])
def login_submit(
    request: Request, form: Form, session: SessionDep, settings: SettingsDep
) -> Response:
    email = form_str(form, "email")
    target = safe_next(form_str(form, "next"))
    errors: dict[str, str] = {}
    try:
        body = LoginIn(email=email, password=form_str(form, "password"))
        user = accounts.authenticate(session, email=body.email, password=body.password)
    except ValidationError as exc:
        errors = field_errors(exc)
    except InvalidCredentials:
        errors = {"__all__": _("E-mail or password is incorrect.")}
    if errors:
        return render(
            request,
            "account/login.html",
            {"errors": errors, "email": email, "next_url": target},
            status_code=422,
        )
    return finish_login(
        request, session=session, user=user, settings=settings, target=target, flash="logged_in"
    )


def finish_login(
    request: Request,
    *,
    session: Session,
    user: User,
    settings: Settings,
    target: str,
    flash: str,
) -> Response:
    """Where a first step (a password, an identity provider) becomes a web login: at
    once, or, for a two-factor account, after the second step page (no login yet).
    Without a page to go back to, gate staff land on the scanner."""
    if target == "/" and lands_on_scanner(
        user, (role for _org, role in organizations.list_user_organizations(session, user=user))
    ):
        target = "/scan"  # gate staff open on their scanner
    pending = two_factor.login_challenge(user=user, settings=settings)
    if pending is not None:
        from admitone.web.pages.security import second_step_url, start_second_step

        response = redirect(second_step_url(target))
        start_second_step(response, token=pending, settings=settings)
        return response
    response = redirect(target, flash=flash)
    log_in(response, request, session=session, user=user, settings=settings)
    return response


@router.get("/register")
def register_page(
    request: Request,
    login: OptionalLogin,
    next_url: Annotated[str | None, Query(alias="next", max_length=500)] = None,
) -> Response:
    target = safe_next(next_url)
    if login is not None:
        return redirect(target)
    return render(
        request,
        "account/register.html",
        {"errors": {}, "email": "", "full_name": "", "next_url": target},
        compressible=True,
    )


@router.post("/register", dependencies=[Depends(rate_limit("register"))])
def register_submit(
    request: Request, form: Form, session: SessionDep, settings: SettingsDep
) -> Response:
    email = form_str(form, "email")
    full_name = form_str(form, "full_name")
    target = safe_next(form_str(form, "next"))
    errors: dict[str, str] = {}
    try:
        body = RegisterIn(email=email, password=form_str(form, "password"), full_name=full_name)
        user = accounts.register_user(
            session, email=body.email, password=body.password, full_name=body.full_name
        )
    except ValidationError as exc:
        errors = field_errors(exc)
    except WeakPassword as exc:
        errors = {"password": password_message(list(exc.details.get("problems", [])))}
    except EmailTaken:
        errors = {"email": _("An account with this e-mail already exists.")}
    if not errors:
        verification.send_verification(session, user=user, settings=settings)
    if errors:
        return render(
            request,
            "account/register.html",
            {"errors": errors, "email": email, "full_name": full_name, "next_url": target},
            status_code=422,
        )
    response = redirect(target if target != "/" else "/account/tickets", flash="welcome")
    log_in(response, request, session=session, user=user, settings=settings)
    return response


@router.post("/logout")
def logout_submit(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    response = redirect("/", flash="logged_out")
    log_out(response, request, session=session, settings=settings)
    return response


@router.post("/language")
def language_submit(
    request: Request,
    form: Form,
    session: SessionDep,
    settings: SettingsDep,
    login: OptionalLogin,
) -> Response:
    language = form_str(form, "language")
    if language not in i18n.SUPPORTED_LOCALES:
        language = i18n.DEFAULT_LOCALE
    if login is not None:
        accounts.update_profile(session, user=login.user, locale=language)
    i18n.set_locale(language)
    response = redirect(safe_next(form_str(form, "next")))
    response.set_cookie(
        i18n.LANGUAGE_COOKIE,
        language,
        max_age=365 * 86400,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
    )
    return response


# The profile page's forms: name, e-mail (web/pages/account_security.py), password.
PROFILE_FORMS = {
    "errors": {},
    "saved": False,
    "email_errors": {},
    "password_errors": {},
    "new_email": "",
}


@router.get("/account")
def account_page(request: Request, login: LoginBeforeSecondFactor) -> Response:
    return render(request, "account/profile.html", PROFILE_FORMS)


@router.post("/account")
def account_submit(
    request: Request, form: Form, session: SessionDep, login: RequiredLogin
) -> Response:
    full_name = form_str(form, "full_name")
    errors: dict[str, str] = {}
    try:
        body = ProfilePatch(full_name=full_name)
        accounts.update_profile(session, user=login.user, full_name=body.full_name)
    except ValidationError as exc:
        errors = field_errors(exc)
    return render(
        request,
        "account/profile.html",
        {**PROFILE_FORMS, "errors": errors, "saved": not errors},
        status_code=422 if errors else 200,
    )
