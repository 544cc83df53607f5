"""Accounts API: register, login, refresh, logout, profile."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status

from admitone.accounts import service
from admitone.accounts.schemas import (
    LoginIn,
    ProfilePatch,
    RefreshIn,
    RegisterIn,
    SessionOut,
    TokensOut,
    UserOut,
)
from admitone.deps import (
    CurrentUser,
    CurrentUserBeforeSecondFactor,
    SessionDep,
    SettingsDep,
    rate_limit,
)
from admitone.errors import error_responses
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
    body: RegisterIn, session: SessionDep, settings: SettingsDep
) -> DataResponse[SessionOut]:
    user = service.register_user(
        session, email=body.email, password=body.password, full_name=body.full_name
    )
    tokens = service.start_session(session, user=user, settings=settings)
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
    body: LoginIn, session: SessionDep, settings: SettingsDep
) -> DataResponse[SessionOut] | DataResponse[SecondFactorNeededOut]:
    user = service.authenticate(session, email=body.email, password=body.password)
    # Two-factor accounts: no login yet, a short-lived token for the second step.
    pending = two_factor.login_challenge(user=user, settings=settings)
    if pending is not None:
        return second_factor_needed(session, user=user, token=pending)
    tokens = service.start_session(session, user=user, settings=settings)
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
    "/me", summary="Update the profile or the password", responses=error_responses(400, 401, 422)
)
def update_me(body: ProfilePatch, user: CurrentUser, session: SessionDep) -> DataResponse[UserOut]:
    user = service.update_profile(
        session,
        user=user,
        full_name=body.full_name,
        locale=body.locale,
        current_password=body.current_password,
        new_password=body.new_password,
    )
    return DataResponse(data=UserOut.model_validate(user))
