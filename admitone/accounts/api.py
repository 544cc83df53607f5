"""Accounts API: register, login, refresh, logout, profile, password reset, e-mail
verification, open logins."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, Response, status

from admitone.accounts import logins, recovery, service, verification
from admitone.accounts.schemas import (
    LoginIn,
    LoginOut,
    PasswordResetConfirmIn,
    PasswordResetIn,
    ProfilePatch,
    RefreshIn,
    RegisterIn,
    SessionOut,
    TokensOut,
    UserOut,
    VerifyEmailIn,
)
from admitone.deps import (
    CurrentUser,
    CurrentUserBeforeSecondFactor,
    SessionDep,
    SettingsDep,
    rate_limit,
)
from admitone.errors import error_responses
from admitone.orders.buyer_orders import claim_guest_orders
from admitone.schemas import DataResponse
from admitone.twofactor import service as two_factor
from admitone.twofactor.api import second_factor_needed
from admitone.twofactor.schemas import SecondFactorNeededOut

router = APIRouter(tags=["accounts"])


@router.post(
    "/auth/register",
    status_code=status.HTTP_201_CREATED,
    summary="Create an account and log in",
    responses=error_responses(400, 409, 422, 429),
    dependencies=[Depends(rate_limit("register"))],
)
def register(
    request: Request, body: RegisterIn, session: SessionDep, settings: SettingsDep
) -> DataResponse[SessionOut]:
    user = service.register_user(
        session, email=body.email, password=body.password, full_name=body.full_name
    )
    verification.send_verification(session, user=user, settings=settings)
    tokens = service.start_session(
        session, user=user, settings=settings, user_agent=request.headers.get("user-agent")
    )
    return DataResponse(
        data=SessionOut(user=UserOut.model_validate(user), tokens=TokensOut.model_validate(tokens))
    )


@router.post(
    "/auth/login",
    summary="Log in with e-mail and password",
    description="An account with two-factor answers a second-factor token instead of "
    "tokens: finish with POST /auth/login/second-factor.",
    responses=error_responses(400, 401, 422, 429),
    dependencies=[Depends(rate_limit("login"))],
)
def login(
    request: Request, body: LoginIn, session: SessionDep, settings: SettingsDep
) -> DataResponse[SessionOut] | DataResponse[SecondFactorNeededOut]:
    user = service.authenticate(session, email=body.email, password=body.password)
    # Two-factor accounts: no login yet, a short-lived token for the second step.
    pending = two_factor.login_challenge(user=user, settings=settings)
    if pending is not None:
        return second_factor_needed(session, user=user, token=pending)
    tokens = service.start_session(
        session, user=user, settings=settings, user_agent=request.headers.get("user-agent")
    )
    # A verified address finds the guest orders it placed (issue 15).
    claim_guest_orders(session, user=user)
    return DataResponse(
        data=SessionOut(user=UserOut.model_validate(user), tokens=TokensOut.model_validate(tokens))
    )


@router.post(
    "/auth/refresh",
    summary="Exchange a refresh token (works once) for new tokens",
    responses=error_responses(400, 401, 422, 429),
    dependencies=[Depends(rate_limit("refresh"))],
)
def refresh(body: RefreshIn, session: SessionDep, settings: SettingsDep) -> DataResponse[TokensOut]:
    tokens = service.rotate_refresh_token(
        session, refresh_token=body.refresh_token, settings=settings
    )
    return DataResponse(data=TokensOut.model_validate(tokens))


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End this login: its access and refresh tokens stop working",
    responses=error_responses(401),
)
def logout(request: Request, user: CurrentUserBeforeSecondFactor, session: SessionDep) -> Response:
    service.logout(session, auth_session_id=request.state.auth_session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", summary="The current user", responses=error_responses(401))
def me(user: CurrentUserBeforeSecondFactor) -> DataResponse[UserOut]:
    return DataResponse(data=UserOut.model_validate(user))


@router.patch(
    "/me",
    summary="Update the profile, the e-mail address or the password",
    description="A new e-mail address or password needs `current_password`. A new address "
    "is verified again (a link is mailed to it); a new password ends every other login.",
    responses=error_responses(400, 401, 409, 422),
)
def update_me(
    request: Request,
    body: ProfilePatch,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> DataResponse[UserOut]:
    if body.email is not None:
        verification.change_email(
            session,
            user=user,
            new_email=body.email,
            current_password=body.current_password,
            settings=settings,
        )
    user = service.update_profile(
        session,
        user=user,
        full_name=body.full_name,
        locale=body.locale,
        current_password=body.current_password,
        new_password=body.new_password,
        current_login_id=request.state.auth_session_id,
    )
    return DataResponse(data=UserOut.model_validate(user))


# --- password reset and e-mail verification (accounts/recovery.py, verification.py) ---


@router.post(
    "/auth/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Mail a password-reset link (the same answer whether the address exists)",
    responses=error_responses(400, 422, 429),
    dependencies=[Depends(rate_limit("account_mail"))],
)
def request_password_reset(
    body: PasswordResetIn, session: SessionDep, settings: SettingsDep
) -> Response:
    recovery.request_password_reset(session, email=body.email, settings=settings)
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.post(
    "/auth/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Set a new password with a mailed link; every login of the account ends",
    responses=error_responses(400, 422, 429),
    dependencies=[Depends(rate_limit("account_token"))],
)
def confirm_password_reset(body: PasswordResetConfirmIn, session: SessionDep) -> Response:
    recovery.reset_password(session, token=body.token, new_password=body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/auth/verify-email",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Verify an e-mail address with a mailed link",
    responses=error_responses(400, 422, 429),
    dependencies=[Depends(rate_limit("account_token"))],
)
def verify_email(body: VerifyEmailIn, session: SessionDep) -> Response:
    user = verification.verify_email(session, token=body.token)
    claim_guest_orders(session, user=user)  # its guest orders join the account
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/me/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Mail the verification link again",
    responses=error_responses(401, 409, 429),
    dependencies=[Depends(rate_limit("account_mail"))],
)
def resend_verification(user: CurrentUser, session: SessionDep, settings: SettingsDep) -> Response:
    verification.resend_verification(session, user=user, settings=settings)
    return Response(status_code=status.HTTP_202_ACCEPTED)


# --- "Your logins" (accounts/logins.py) ----------------------------------------------


@router.get(
    "/me/sessions",
    summary="My open logins (devices), the current one marked",
    responses=error_responses(401),
)
def list_my_logins(
    request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> DataResponse[list[LoginOut]]:
    views = logins.list_logins(
        session, user_id=user.id, current_id=request.state.auth_session_id, settings=settings
    )
    return DataResponse(data=[LoginOut.model_validate(view) for view in views])


@router.delete(
    "/me/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Log out one of my logins (its tokens and its web session stop working)",
    responses=error_responses(401, 404, 422),
)
def end_my_login(session_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    logins.end_login(session, user_id=user.id, login_id=session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/me/sessions/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Log out everywhere, this login included",
    responses=error_responses(401),
)
def end_all_my_logins(user: CurrentUser, session: SessionDep) -> Response:
    logins.end_other_logins(session, user_id=user.id, keep=None, reason="logged_out_everywhere")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
