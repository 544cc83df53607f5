"""Account security pages: forgotten password, e-mail verification, e-mail and password
changes, "Your logins". They call accounts.recovery, .verification, .logins and
.service, like the JSON API."""

from __future__ import annotations

import contextlib
import uuid
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from admitone.accounts import logins, recovery, verification
from admitone.accounts import service as accounts
from admitone.accounts.errors import (
    AccountTokenInvalid,
    EmailAlreadyVerified,
    EmailTaken,
    InvalidCredentials,
    LoginNotFound,
    WeakPassword,
)
from admitone.accounts.schemas import (
    PasswordResetConfirmIn,
    PasswordResetIn,
    ProfilePatch,
    VerifyEmailIn,
)
from admitone.deps import SessionDep, SettingsDep, rate_limit
from admitone.errors import RateLimited
from admitone.orders.buyer_orders import claim_guest_orders
from admitone.web.deps import Form, RequiredLogin, form_str, page_router
from admitone.web.i18n import _
from admitone.web.messages import field_errors
from admitone.web.pages.accounts import password_message, redirect, safe_next
from admitone.web.security import log_out
from admitone.web.templating import render

router = page_router()

TokenQuery = Annotated[str, Query(max_length=200)]


# --- forgotten password ----------------------------------------------------------------


@router.get("/password-reset")
def password_reset_page(request: Request) -> Response:
    return render(
        request, "account/password_reset.html", {"errors": {}, "email": "", "sent": False}
    )


@router.post("/password-reset", dependencies=[Depends(rate_limit("account_mail"))])
def password_reset_submit(
    request: Request, form: Form, session: SessionDep, settings: SettingsDep
) -> Response:
    email = form_str(form, "email")
    try:
        body = PasswordResetIn(email=email)
    except ValidationError as exc:
        return render(
            request,
            "account/password_reset.html",
            {"errors": field_errors(exc), "email": email, "sent": False},
            status_code=422,
        )
    recovery.request_password_reset(session, email=body.email, settings=settings)
    # The same page whether the address has an account or not.
    return render(request, "account/password_reset.html", {"errors": {}, "email": "", "sent": True})


@router.get("/password-reset/confirm")
def password_reset_confirm_page(request: Request, token: TokenQuery = "") -> Response:
    return render(request, "account/password_reset_confirm.html", {"errors": {}, "token": token})


@router.post("/password-reset/confirm", dependencies=[Depends(rate_limit("account_token"))])
def password_reset_confirm_submit(request: Request, form: Form, session: SessionDep) -> Response:
    token = form_str(form, "token")
    errors: dict[str, str] = {}
    try:
        body = PasswordResetConfirmIn(token=token, new_password=form_str(form, "new_password"))
        recovery.reset_password(session, token=body.token, new_password=body.new_password)
    except ValidationError as exc:
        errors = field_errors(exc)
        if "token" in errors:
            errors = {"__all__": _reset_link_invalid()}
    except WeakPassword as exc:
        errors = {"new_password": password_message(list(exc.details.get("problems", [])))}
    except AccountTokenInvalid:
        errors = {"__all__": _reset_link_invalid()}
    if errors:
        return render(
            request,
            "account/password_reset_confirm.html",
            {"errors": errors, "token": token},
            status_code=422,
        )
    return redirect("/login", flash="password_reset")


def _reset_link_invalid() -> str:
    return _("This link is invalid, already used or expired. Ask for a new one below.")


# --- e-mail verification ---------------------------------------------------------------


@router.get("/verify-email")
def verify_email_page(request: Request, token: TokenQuery = "") -> Response:
    # Opening the link only shows a button: mail scanners that follow links must not
    # spend it, and a GET changes nothing.
    return render(request, "account/verify_email.html", {"errors": {}, "token": token})


@router.post("/verify-email", dependencies=[Depends(rate_limit("account_token"))])
def verify_email_submit(request: Request, form: Form, session: SessionDep) -> Response:
    token = form_str(form, "token")
    try:
        body = VerifyEmailIn(token=token)
        user = verification.verify_email(session, token=body.token)
    except (ValidationError, AccountTokenInvalid):
        return render(
            request,
            "account/verify_email.html",
            {
                "errors": {
                    "__all__": _(
                        "This link is invalid, already used or expired. Log in and ask "
                        "for a new one on your account page."
                    )
                },
                "token": token,
            },
            status_code=422,
        )
    claim_guest_orders(session, user=user)  # its guest orders join the account
    return redirect("/account", flash="email_verified")


@router.post("/account/verify-email/resend", dependencies=[Depends(rate_limit("account_mail"))])
def resend_verification_submit(
    request: Request, form: Form, session: SessionDep, settings: SettingsDep, login: RequiredLogin
) -> Response:
    target = safe_next(form_str(form, "next"), default="/account")
    try:
        verification.resend_verification(session, user=login.user, settings=settings)
    except EmailAlreadyVerified:
        return redirect(target, flash="email_verified")
    except RateLimited:
        return redirect(target, flash="verification_limited")
    return redirect(target, flash="verification_sent")


# --- e-mail and password changes -------------------------------------------------------


@router.post("/account/email")
def change_email_submit(
    request: Request, form: Form, session: SessionDep, settings: SettingsDep, login: RequiredLogin
) -> Response:
    email = form_str(form, "email")
    errors: dict[str, str] = {}
    try:
        body = ProfilePatch(email=email, current_password=form_str(form, "current_password"))
        verification.change_email(
            session,
            user=login.user,
            new_email=str(body.email),
            current_password=body.current_password,
            settings=settings,
        )
    except ValidationError as exc:
        errors = field_errors(exc)
    except InvalidCredentials:
        errors = {"current_password": _("The current password is incorrect.")}
    except EmailTaken:
        errors = {"email": _("An account with this e-mail already exists.")}
    if errors:
        session.rollback()
        return _profile(request, email_errors=errors, new_email=email)
    return redirect("/account", flash="email_changed")


@router.post("/account/password")
def change_password_submit(
    request: Request, form: Form, session: SessionDep, login: RequiredLogin
) -> Response:
    errors: dict[str, str] = {}
    try:
        body = ProfilePatch(
            current_password=form_str(form, "current_password"),
            new_password=form_str(form, "new_password"),
        )
        accounts.update_profile(
            session,
            user=login.user,
            current_password=body.current_password,
            new_password=body.new_password,
            current_login_id=login.auth_session_id,
        )
    except ValidationError as exc:
        errors = field_errors(exc)
    except InvalidCredentials:
        errors = {"current_password": _("The current password is incorrect.")}
    except WeakPassword as exc:
        errors = {"new_password": password_message(list(exc.details.get("problems", [])))}
    if errors:
        session.rollback()
        return _profile(request, password_errors=errors)
    return redirect("/account", flash="password_changed")


def _profile(
    request: Request,
    *,
    email_errors: dict[str, str] | None = None,
    password_errors: dict[str, str] | None = None,
    new_email: str = "",
) -> Response:
    return render(
        request,
        "account/profile.html",
        {
            "errors": {},
            "saved": False,
            "email_errors": email_errors or {},
            "password_errors": password_errors or {},
            "new_email": new_email,
        },
        status_code=422,
    )


# --- "Your logins" ---------------------------------------------------------------------


@router.get("/account/logins")
def logins_page(
    request: Request, session: SessionDep, settings: SettingsDep, login: RequiredLogin
) -> Response:
    rows = logins.list_logins(
        session, user_id=login.user.id, current_id=login.auth_session_id, settings=settings
    )
    return render(request, "account/logins.html", {"rows": rows})


@router.post("/account/logins/{login_id}/logout")
def end_login_submit(
    request: Request,
    login_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    login: RequiredLogin,
) -> Response:
    if login_id == login.auth_session_id:
        response = redirect("/", flash="logged_out")
        log_out(response, request, session=session, settings=settings)
        return response
    # Ended meanwhile (or never ours): the list shows what is still open.
    with contextlib.suppress(LoginNotFound):
        logins.end_login(session, user_id=login.user.id, login_id=login_id)
    return redirect("/account/logins", flash="login_ended")


@router.post("/account/logins/logout-all")
def end_all_logins_submit(
    request: Request, session: SessionDep, settings: SettingsDep, login: RequiredLogin
) -> Response:
    logins.end_other_logins(
        session, user_id=login.user.id, keep=None, reason="logged_out_everywhere"
    )
    response = redirect("/login", flash="logged_out_everywhere")
    log_out(response, request, session=session, settings=settings)
    return response
