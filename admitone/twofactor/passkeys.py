"""Passkeys (WebAuthn, with Duo's py_webauthn): register, sign in alone, or as a second factor.

The relying party is the site of ``ADMITONE_PUBLIC_URL`` (its host is the RP id, its
origin the expected origin), named ``ADMITONE_WEBAUTHN_RP_NAME``. Passkeys are
discoverable credentials with user verification required: the authenticator checked a
PIN or a biometric, so a passkey alone is two factors and signs in without a password.

Challenges live in ``webauthn_challenges`` for a few minutes and are deleted when used
(a conditional DELETE whose row count must be 1): each one verifies one response.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from admitone.accounts.models import User
from admitone.config import Settings
from admitone.db import utcnow
from admitone.errors import NotFound
from admitone.twofactor.errors import (
    PasskeyAlreadyRegistered,
    PasskeyChallengeInvalid,
    PasskeyInvalid,
)
from admitone.twofactor.models import Passkey, WebAuthnChallenge
from admitone.twofactor.service import refresh_enabled_flag, user_of_login_token, verify_user

CHALLENGE_MINUTES = 5
REGISTER = "register"
AUTHENTICATE = "authenticate"


@dataclass(frozen=True)
class PasskeyOptions:
    challenge_id: uuid.UUID
    # The options as the WebAuthn JSON (binary values base64url), for the browser.
    public_key: dict[str, Any]


def relying_party(settings: Settings) -> tuple[str, str]:
    """(RP id, origin) from the public URL: the host, and scheme://host[:port]."""
    parts = urlsplit(settings.public_url)
    return parts.hostname or "localhost", f"{parts.scheme}://{parts.netloc}"


def _new_challenge(
    session: Session, *, challenge: bytes, purpose: str, user_id: uuid.UUID | None
) -> uuid.UUID:
    now = utcnow()
    # Old, unused challenges go as new ones come: the table stays small.
    session.execute(delete(WebAuthnChallenge).where(WebAuthnChallenge.expires_at < now))
    row = WebAuthnChallenge(
        challenge=challenge,
        purpose=purpose,
        user_id=user_id,
        expires_at=now + timedelta(minutes=CHALLENGE_MINUTES),
    )
    session.add(row)
    session.flush()
    return row.id


def _use_challenge(
    session: Session, *, challenge_id: uuid.UUID, purpose: str, user_id: uuid.UUID | None
) -> bytes:
    """The challenge's bytes, deleted in the same breath: a second use finds nothing."""
    row = session.scalar(
        select(WebAuthnChallenge).where(
            WebAuthnChallenge.id == challenge_id,
            WebAuthnChallenge.purpose == purpose,
            WebAuthnChallenge.expires_at > utcnow(),
        )
    )
    if row is None or row.user_id != user_id:
        raise PasskeyChallengeInvalid()
    challenge = row.challenge
    used = cast(
        CursorResult[Any],
        session.execute(
            delete(WebAuthnChallenge)
            .where(WebAuthnChallenge.id == challenge_id)
            .execution_options(synchronize_session=False)
        ),
    )
    if used.rowcount != 1:  # another request used it first
        raise PasskeyChallengeInvalid()
    session.expunge(row)
    return challenge


def registration_options(session: Session, *, user: User, settings: Settings) -> PasskeyOptions:
    """Options for the browser to create a passkey for ``user`` (not their existing ones)."""
    rp_id, _origin = relying_party(settings)
    existing = session.scalars(select(Passkey.credential_id).where(Passkey.user_id == user.id))
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=settings.webauthn_rp_name,
        user_id=user.id.bytes,
        user_name=user.email,
        user_display_name=user.full_name or user.email,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=c) for c in existing],
    )
    challenge_id = _new_challenge(
        session, challenge=options.challenge, purpose=REGISTER, user_id=user.id
    )
    return PasskeyOptions(
        challenge_id=challenge_id, public_key=json.loads(options_to_json(options))
    )


def register_passkey(
    session: Session,
    *,
    user: User,
    challenge_id: uuid.UUID,
    credential: dict[str, Any],
    name: str,
    settings: Settings,
) -> Passkey:
    """Verify the browser's new credential against its challenge and keep it."""
    challenge = _use_challenge(
        session, challenge_id=challenge_id, purpose=REGISTER, user_id=user.id
    )
    rp_id, origin = relying_party(settings)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise PasskeyInvalid(reason=str(exc)[:200]) from exc
    taken = session.scalar(
        select(Passkey.id).where(Passkey.credential_id == verified.credential_id)
    )
    if taken is not None:
        raise PasskeyAlreadyRegistered()
    transports = credential.get("response", {}).get("transports") or []
    passkey = Passkey(
        user_id=user.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=name or "Passkey",
        transports=",".join(str(t) for t in transports)[:200],
    )
    session.add(passkey)
    refresh_enabled_flag(session, user=user)
    return passkey


def remove_passkey(
    session: Session,
    *,
    user: User,
    passkey_id: uuid.UUID,
    settings: Settings,
    code: str | None = None,
    recovery_code: str | None = None,
    password: str | None = None,
) -> None:
    """Remove one of the user's passkeys; like turning the app off, it needs a code or
    the password (it may be the account's last factor)."""
    passkey = session.scalar(
        select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user.id)
    )
    if passkey is None:
        raise NotFound("No such passkey.")
    verify_user(
        session,
        user=user,
        settings=settings,
        code=code,
        recovery_code=recovery_code,
        password=password,
    )
    session.delete(passkey)
    refresh_enabled_flag(session, user=user)


def authentication_options(session: Session, *, settings: Settings) -> PasskeyOptions:
    """Options to sign in with any passkey of this site (discoverable: no user named)."""
    rp_id, _origin = relying_party(settings)
    options = generate_authentication_options(
        rp_id=rp_id, user_verification=UserVerificationRequirement.REQUIRED
    )
    challenge_id = _new_challenge(
        session, challenge=options.challenge, purpose=AUTHENTICATE, user_id=None
    )
    return PasskeyOptions(
        challenge_id=challenge_id, public_key=json.loads(options_to_json(options))
    )


def authenticate(
    session: Session, *, challenge_id: uuid.UUID, credential: dict[str, Any], settings: Settings
) -> User:
    """The active user whose passkey signed the challenge (with user verification)."""
    challenge = _use_challenge(
        session, challenge_id=challenge_id, purpose=AUTHENTICATE, user_id=None
    )
    try:
        raw_id = base64url_to_bytes(str(credential.get("rawId") or credential.get("id") or ""))
    except (ValueError, TypeError) as exc:
        raise PasskeyInvalid() from exc
    row = session.execute(
        select(Passkey, User)
        .join(User, User.id == Passkey.user_id)
        .where(Passkey.credential_id == raw_id)
    ).first()
    if row is None:
        raise PasskeyInvalid()
    passkey, user = row
    handle = credential.get("response", {}).get("userHandle")
    rp_id, origin = relying_party(settings)
    try:
        if handle and base64url_to_bytes(handle) != user.id.bytes:
            raise PasskeyInvalid()
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise PasskeyInvalid(reason=str(exc)[:200]) from exc
    if not user.is_active:
        raise PasskeyInvalid()
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = utcnow()
    session.flush()
    return user


def complete_login(
    session: Session,
    *,
    token: str,
    challenge_id: uuid.UUID,
    credential: dict[str, Any],
    settings: Settings,
) -> User:
    """The second step of a password login, done with one of the same user's passkeys."""
    expected = user_of_login_token(session, token=token, settings=settings)
    user = authenticate(
        session, challenge_id=challenge_id, credential=credential, settings=settings
    )
    if user.id != expected.id:
        raise PasskeyInvalid()
    return user
