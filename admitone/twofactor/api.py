"""Two-factor API: the second login step, passkey sign-in, the account's factors, and an
organization's requirement. Routes are thin: parse, call the services, shape the answer."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from sqlalchemy.orm import Session

from admitone.accounts import service as accounts
from admitone.accounts.models import User
from admitone.accounts.schemas import SessionOut, TokensOut, UserOut
from admitone.authorization import OrgAccess, Permission
from admitone.config import Settings
from admitone.deps import (
    CurrentUserBeforeSecondFactor,
    SessionDep,
    SettingsDep,
    org_access,
    rate_limit,
)
from admitone.errors import error_responses
from admitone.orders.buyer_orders import claim_guest_orders
from admitone.organizations import service as organizations
from admitone.ratelimit import RateLimiter
from admitone.schemas import DataResponse
from admitone.twofactor import passkeys, service
from admitone.twofactor.schemas import (
    CodeIn,
    PasskeyLoginIn,
    PasskeyOptionsOut,
    PasskeyOut,
    PasskeyRegisterIn,
    RecoveryCodesOut,
    SecondFactorIn,
    SecondFactorNeededOut,
    TotpSetupOut,
    TwoFactorRequirementIn,
    TwoFactorRequirementOut,
    TwoFactorStatusOut,
    VerificationIn,
)

router = APIRouter(tags=["two-factor"])

SECOND_FACTOR_LIMIT = [Depends(rate_limit("second_factor"))]


def count_attempt(request: Request, user_id: uuid.UUID) -> None:
    """One second-factor attempt against the account's own limit too: an attacker with
    the password cannot spread code guesses over many addresses."""
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.hit("second_factor", f"user:{user_id}")


def second_factor_needed(
    session: Session, *, user: User, token: str
) -> DataResponse[SecondFactorNeededOut]:
    found = service.get_status(session, user=user)
    methods: list = ["totp", "recovery_code"] if found.totp_enabled else []
    if found.passkeys:
        methods.append("passkey")
    return DataResponse(
        data=SecondFactorNeededOut(
            second_factor_token=token,
            expires_in=service.SECOND_FACTOR_TOKEN_SECONDS,
            methods=methods,
        )
    )


def logged_in(
    session: Session, request: Request, *, user: User, settings: Settings
) -> DataResponse[SessionOut]:
    tokens = accounts.start_session(
        session, user=user, settings=settings, user_agent=request.headers.get("user-agent")
    )
    # A verified address finds the guest orders it placed (issue 15).
    claim_guest_orders(session, user=user)
    return DataResponse(
        data=SessionOut(user=UserOut.model_validate(user), tokens=TokensOut.model_validate(tokens))
    )


@router.post(
    "/auth/login/second-factor",
    summary="Finish a login with a code, a recovery code or a passkey",
    responses=error_responses(400, 401, 422, 429),
    dependencies=SECOND_FACTOR_LIMIT,
)
def login_second_factor(
    body: SecondFactorIn, request: Request, session: SessionDep, settings: SettingsDep
) -> DataResponse[SessionOut]:
    user_id = service.user_id_of_login_token(body.second_factor_token, settings=settings)
    count_attempt(request, user_id)
    if body.credential is not None and body.challenge_id is not None:
        user = passkeys.complete_login(
            session,
            token=body.second_factor_token,
            challenge_id=body.challenge_id,
            credential=body.credential.model_dump(exclude_none=True),
            settings=settings,
        )
    else:
        user = service.complete_login(
            session,
            token=body.second_factor_token,
            settings=settings,
            code=body.code,
            recovery_code=body.recovery_code,
        )
    return logged_in(session, request, user=user, settings=settings)


@router.post(
    "/auth/passkey/options",
    summary="A challenge to sign in with a passkey (or to finish a login with one)",
    responses=error_responses(429),
    dependencies=[Depends(rate_limit("login"))],
)
def passkey_login_options(
    session: SessionDep, settings: SettingsDep
) -> DataResponse[PasskeyOptionsOut]:
    options = passkeys.authentication_options(session, settings=settings)
    return DataResponse(data=PasskeyOptionsOut.model_validate(options))


@router.post(
    "/auth/passkey/login",
    summary="Sign in with a passkey, without a password",
    responses=error_responses(400, 422, 429),
    dependencies=[Depends(rate_limit("login"))],
)
def passkey_login(
    body: PasskeyLoginIn, request: Request, session: SessionDep, settings: SettingsDep
) -> DataResponse[SessionOut]:
    user = passkeys.authenticate(
        session,
        challenge_id=body.challenge_id,
        credential=body.credential.model_dump(exclude_none=True),
        settings=settings,
    )
    return logged_in(session, request, user=user, settings=settings)


# --- the account's own factors (a platform admin without one may reach these) -------------


def _status(session: Session, user: User) -> TwoFactorStatusOut:
    found = service.get_status(session, user=user)
    return TwoFactorStatusOut(
        enabled=found.enabled,
        totp_enabled=found.totp_enabled,
        recovery_codes_left=found.recovery_codes_left,
        passkeys=[PasskeyOut.model_validate(p) for p in found.passkeys],
    )


@router.get("/me/two-factor", summary="My second factors", responses=error_responses(401))
def two_factor_status(
    user: CurrentUserBeforeSecondFactor, session: SessionDep
) -> DataResponse[TwoFactorStatusOut]:
    return DataResponse(data=_status(session, user))


@router.post(
    "/me/two-factor/totp",
    summary="Start setting up an authenticator app (a new secret and its QR code)",
    responses=error_responses(401, 409),
)
def start_totp(
    user: CurrentUserBeforeSecondFactor, session: SessionDep, settings: SettingsDep
) -> DataResponse[TotpSetupOut]:
    setup = service.start_totp_setup(session, user=user, settings=settings)
    return DataResponse(data=TotpSetupOut.model_validate(setup))


@router.post(
    "/me/two-factor/totp/confirm",
    summary="Turn the authenticator app on with its first code; returns recovery codes",
    responses=error_responses(401, 409, 422, 429),
    dependencies=SECOND_FACTOR_LIMIT,
)
def confirm_totp(
    body: CodeIn,
    request: Request,
    user: CurrentUserBeforeSecondFactor,
    session: SessionDep,
    settings: SettingsDep,
) -> DataResponse[RecoveryCodesOut]:
    count_attempt(request, user.id)
    codes = service.confirm_totp(session, user=user, code=body.code, settings=settings)
    return DataResponse(data=RecoveryCodesOut(recovery_codes=codes))


@router.post(
    "/me/two-factor/totp/disable",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Turn the authenticator app off (needs a code or the password)",
    responses=error_responses(400, 401, 409, 422, 429),
    dependencies=SECOND_FACTOR_LIMIT,
)
def disable_totp(
    body: VerificationIn,
    request: Request,
    user: CurrentUserBeforeSecondFactor,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    count_attempt(request, user.id)
    service.disable_totp(
        session,
        user=user,
        settings=settings,
        code=body.code,
        recovery_code=body.recovery_code,
        password=body.password,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/me/two-factor/recovery-codes",
    summary="Replace the recovery codes (needs a code or the password)",
    responses=error_responses(400, 401, 409, 422, 429),
    dependencies=SECOND_FACTOR_LIMIT,
)
def new_recovery_codes(
    body: VerificationIn,
    request: Request,
    user: CurrentUserBeforeSecondFactor,
    session: SessionDep,
    settings: SettingsDep,
) -> DataResponse[RecoveryCodesOut]:
    count_attempt(request, user.id)
    codes = service.regenerate_recovery_codes(
        session, user=user, settings=settings, code=body.code, password=body.password
    )
    return DataResponse(data=RecoveryCodesOut(recovery_codes=codes))


@router.post(
    "/me/passkeys/options",
    summary="A challenge to register a new passkey",
    responses=error_responses(401),
)
def passkey_registration_options(
    user: CurrentUserBeforeSecondFactor, session: SessionDep, settings: SettingsDep
) -> DataResponse[PasskeyOptionsOut]:
    options = passkeys.registration_options(session, user=user, settings=settings)
    return DataResponse(data=PasskeyOptionsOut.model_validate(options))


@router.post(
    "/me/passkeys",
    status_code=status.HTTP_201_CREATED,
    summary="Register a passkey (the browser's answer to the options)",
    responses=error_responses(400, 401, 409, 422),
)
def register_passkey(
    body: PasskeyRegisterIn,
    user: CurrentUserBeforeSecondFactor,
    session: SessionDep,
    settings: SettingsDep,
) -> DataResponse[PasskeyOut]:
    passkey = passkeys.register_passkey(
        session,
        user=user,
        challenge_id=body.challenge_id,
        credential=body.credential.model_dump(exclude_none=True),
        name=body.name,
        settings=settings,
    )
    return DataResponse(data=PasskeyOut.model_validate(passkey))


@router.post(
    "/me/passkeys/{passkey_id}/remove",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove one of my passkeys (needs a code or the password)",
    responses=error_responses(400, 401, 404, 422, 429),
    dependencies=SECOND_FACTOR_LIMIT,
)
def remove_passkey(
    passkey_id: uuid.UUID,
    body: VerificationIn,
    request: Request,
    user: CurrentUserBeforeSecondFactor,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    count_attempt(request, user.id)
    passkeys.remove_passkey(
        session,
        user=user,
        passkey_id=passkey_id,
        settings=settings,
        code=body.code,
        recovery_code=body.recovery_code,
        password=body.password,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/organizations/{org}/two-factor-requirement",
    summary="Require two-factor of every member (owners only)",
    responses=error_responses(401, 403, 404, 422),
)
def set_two_factor_requirement(
    body: TwoFactorRequirementIn,
    session: SessionDep,
    access: Annotated[OrgAccess, Depends(org_access(Permission.manage_security))],
) -> DataResponse[TwoFactorRequirementOut]:
    organization = organizations.set_two_factor_requirement(
        session, access=access, required=body.require_two_factor
    )
    return DataResponse(
        data=TwoFactorRequirementOut(
            slug=organization.slug, require_two_factor=organization.require_two_factor
        )
    )
