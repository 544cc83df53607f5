"""Two-factor sign-in: authenticator-app codes (TOTP), recovery codes, the login step.

Invariants:
- A TOTP code is accepted once: the step it belongs to is recorded with a conditional
  UPDATE (``last_used_step < step``), so a replay, even a concurrent one, is refused.
- A recovery code works once (conditional UPDATE on ``used_at IS NULL``); only its
  SHA-256 is stored (80 random bits: no dictionary to try).
- ``users.two_factor_enabled`` is true exactly when the account has a confirmed TOTP
  secret or a passkey; every change of either goes through ``refresh_enabled_flag``.
- A password alone never opens a login of such an account: ``login_challenge`` answers a
  signed token good for a few minutes, and only ``complete_login`` with a second factor
  turns it into the user that ``accounts.service.start_session`` may log in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

import jwt
import pyotp
import segno
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import CursorResult, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from admitone.accounts import passwords
from admitone.accounts.models import User
from admitone.config import Settings
from admitone.db import utcnow
from admitone.twofactor.errors import (
    SecondFactorInvalid,
    SecondFactorTokenInvalid,
    TotpAlreadyEnabled,
    TotpNotEnabled,
    TotpNotStarted,
    VerificationRequired,
)
from admitone.twofactor.models import Passkey, RecoveryCode, TotpCredential

ISSUER_NAME = "Admit One"
RECOVERY_CODE_COUNT = 10
SECOND_FACTOR_TOKEN_SECONDS = 300
_TOKEN_TYPE = "second_factor"  # noqa: S105 (a claim value, not a secret)
_TOKEN_ISSUER = "admitone"  # noqa: S105
_NONCE = 12
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


# --- the secret at rest ----------------------------------------------------------------


@lru_cache(maxsize=4)
def _secret_key_for_totp(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"admitone", info=b"totp-secret/v1")
    return hkdf.derive(secret_key.encode())


def _associated_data(user_id: uuid.UUID) -> bytes:
    # Binds a ciphertext to its user: a row copied onto another account does not decrypt.
    return b"admitone/totp/" + user_id.bytes


def _encrypt(secret: str, *, user_id: uuid.UUID, settings: Settings) -> bytes:
    nonce = secrets.token_bytes(_NONCE)
    key = _secret_key_for_totp(settings.secret_key.get_secret_value())
    return nonce + AESGCM(key).encrypt(nonce, secret.encode(), _associated_data(user_id))


def _decrypt(blob: bytes, *, user_id: uuid.UUID, settings: Settings) -> str:
    key = _secret_key_for_totp(settings.secret_key.get_secret_value())
    try:
        return AESGCM(key).decrypt(blob[:_NONCE], blob[_NONCE:], _associated_data(user_id)).decode()
    except InvalidTag as exc:  # the secret key changed: the factor cannot be checked
        raise SecondFactorInvalid() from exc


# --- status -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TwoFactorStatus:
    enabled: bool
    totp_enabled: bool
    recovery_codes_left: int
    passkeys: list[Passkey]


def _totp_of(session: Session, user_id: uuid.UUID) -> TotpCredential | None:
    return session.scalar(select(TotpCredential).where(TotpCredential.user_id == user_id))


def get_status(session: Session, *, user: User) -> TwoFactorStatus:
    totp = _totp_of(session, user.id)
    left = session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    keys = list(
        session.scalars(
            select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.created_at)
        )
    )
    return TwoFactorStatus(
        enabled=user.two_factor_enabled,
        totp_enabled=totp is not None and totp.confirmed_at is not None,
        recovery_codes_left=left or 0,
        passkeys=keys,
    )


def refresh_enabled_flag(session: Session, *, user: User) -> None:
    """Set ``users.two_factor_enabled`` from the factors the account has now."""
    session.flush()
    has_totp = exists().where(
        TotpCredential.user_id == user.id, TotpCredential.confirmed_at.is_not(None)
    )
    has_passkey = exists().where(Passkey.user_id == user.id)
    user.two_factor_enabled = bool(session.scalar(select(or_(has_totp, has_passkey))))
    session.flush()


# --- setting the authenticator app up ------------------------------------------------------


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    otpauth_uri: str
    qr_data_uri: str


def start_totp_setup(session: Session, *, user: User, settings: Settings) -> TotpSetup:
    """A new secret, not yet on: ``confirm_totp`` with a first code turns it on.

    Replaces an unconfirmed secret (a setup started again); refused once one is on.
    """
    current = _totp_of(session, user.id)
    if current is not None and current.confirmed_at is not None:
        raise TotpAlreadyEnabled()
    if current is not None:
        session.delete(current)
        session.flush()
    secret = pyotp.random_base32()
    session.add(
        TotpCredential(
            user_id=user.id, secret_encrypted=_encrypt(secret, user_id=user.id, settings=settings)
        )
    )
    session.flush()
    return _setup_of(secret, user)


def pending_totp_setup(session: Session, *, user: User, settings: Settings) -> TotpSetup:
    """The set-up started and not yet confirmed, shown again (a mistyped first code)."""
    current = _totp_of(session, user.id)
    if current is None:
        raise TotpNotStarted()
    if current.confirmed_at is not None:
        raise TotpAlreadyEnabled()
    return _setup_of(_decrypt(current.secret_encrypted, user_id=user.id, settings=settings), user)


def _setup_of(secret: str, user: User) -> TotpSetup:
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER_NAME)
    # White behind the modules: the pages have a dark theme, and scanners need contrast.
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2, light="white")
    return TotpSetup(secret=secret, otpauth_uri=uri, qr_data_uri=qr)


def confirm_totp(session: Session, *, user: User, code: str, settings: Settings) -> list[str]:
    """Turn the app on with its first code; returns new recovery codes (shown once)."""
    totp = _totp_of(session, user.id)
    if totp is None:
        raise TotpNotStarted()
    if totp.confirmed_at is not None:
        raise TotpAlreadyEnabled()
    _spend_totp_code(session, totp, code=code, settings=settings)
    totp.confirmed_at = utcnow()
    codes = _new_recovery_codes(session, user=user)
    refresh_enabled_flag(session, user=user)
    return codes


def disable_totp(
    session: Session,
    *,
    user: User,
    settings: Settings,
    code: str | None = None,
    recovery_code: str | None = None,
    password: str | None = None,
) -> None:
    """Turn the app off (and drop its recovery codes); needs a code or the password."""
    totp = _totp_of(session, user.id)
    if totp is None or totp.confirmed_at is None:
        raise TotpNotEnabled()
    verify_user(
        session,
        user=user,
        settings=settings,
        code=code,
        recovery_code=recovery_code,
        password=password,
    )
    session.delete(totp)
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    refresh_enabled_flag(session, user=user)


def regenerate_recovery_codes(
    session: Session,
    *,
    user: User,
    settings: Settings,
    code: str | None = None,
    password: str | None = None,
) -> list[str]:
    """New recovery codes replace all the old ones; needs a code or the password."""
    totp = _totp_of(session, user.id)
    if totp is None or totp.confirmed_at is None:
        raise TotpNotEnabled()
    verify_user(session, user=user, settings=settings, code=code, password=password)
    return _new_recovery_codes(session, user=user)


def verify_user(
    session: Session,
    *,
    user: User,
    settings: Settings,
    code: str | None = None,
    recovery_code: str | None = None,
    password: str | None = None,
) -> None:
    """Proof beyond the login for a sensitive change: a TOTP code, a recovery code or the
    password; SecondFactorInvalid (or VerificationRequired without any)."""
    if code:
        totp = _totp_of(session, user.id)
        if totp is None or totp.confirmed_at is None:
            raise SecondFactorInvalid()
        _spend_totp_code(session, totp, code=code, settings=settings)
    elif recovery_code:
        _spend_recovery_code(session, user_id=user.id, code=recovery_code)
    elif password:
        if not passwords.verify_password(user.password_hash, password):
            raise SecondFactorInvalid("The password is incorrect.")
    else:
        raise VerificationRequired()


# --- codes -----------------------------------------------------------------------------------


def _spend_totp_code(
    session: Session, totp: TotpCredential, *, code: str, settings: Settings
) -> None:
    """Accept ``code`` if it belongs to the current 30-second step or a neighbour (clock
    drift), and to a step after the last one used; record that step."""
    code = "".join(code.split())
    if not (len(code) == 6 and code.isdigit()):
        raise SecondFactorInvalid()
    generator = pyotp.TOTP(_decrypt(totp.secret_encrypted, user_id=totp.user_id, settings=settings))
    now_step = int(time.time()) // generator.interval
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(generator.generate_otp(step), code):
            break
    else:
        raise SecondFactorInvalid()
    spent = cast(
        CursorResult[Any],
        session.execute(
            update(TotpCredential)
            .where(
                TotpCredential.id == totp.id,
                or_(TotpCredential.last_used_step.is_(None), TotpCredential.last_used_step < step),
            )
            .values(last_used_step=step)
            .execution_options(synchronize_session=False)
        ),
    )
    if spent.rowcount != 1:
        raise SecondFactorInvalid()
    session.expire(totp, ["last_used_step"])


def _hash_recovery_code(code: str) -> str:
    normalized = "".join(char for char in code.lower() if char.isalnum())
    return hashlib.sha256(normalized.encode()).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_BASE32) for _ in range(16))  # 80 bits
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _new_recovery_codes(session: Session, *, user: User) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash_recovery_code(c)) for c in codes)
    session.flush()
    return codes


def _spend_recovery_code(session: Session, *, user_id: uuid.UUID, code: str) -> None:
    if len(code) > 64:
        raise SecondFactorInvalid()
    spent = cast(
        CursorResult[Any],
        session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == _hash_recovery_code(code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        ),
    )
    if spent.rowcount != 1:
        raise SecondFactorInvalid()


# --- the login step ----------------------------------------------------------------------


def login_challenge(*, user: User, settings: Settings, now: datetime | None = None) -> str | None:
    """After a right password: None if the account has no second factor (log in now),
    else a signed token naming the user, good for a few minutes, that ``complete_login``
    exchanges with a second factor. No login is opened yet."""
    if not user.two_factor_enabled:
        return None
    issued = int((now or utcnow()).timestamp())
    claims = {
        "iss": _TOKEN_ISSUER,
        "typ": _TOKEN_TYPE,
        "sub": str(user.id),
        "iat": issued,
        "exp": issued + SECOND_FACTOR_TOKEN_SECONDS,
        # The password hash's tail: a password change voids the tokens issued before.
        "pwd": _password_binding(user),
    }
    return jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm="HS256")


def _password_binding(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def user_id_of_login_token(token: str, *, settings: Settings) -> uuid.UUID:
    """The user a valid second-factor token names (for the rate limit); no database."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=["HS256"],
            issuer=_TOKEN_ISSUER,
            options={"require": ["exp", "sub", "iss", "typ"]},
        )
        if claims.get("typ") != _TOKEN_TYPE:
            raise SecondFactorTokenInvalid()
        return uuid.UUID(claims["sub"])
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise SecondFactorTokenInvalid() from exc


def user_of_login_token(session: Session, *, token: str, settings: Settings) -> User:
    """The active user a valid second-factor token names, whose password is unchanged."""
    user_id = user_id_of_login_token(token, settings=settings)
    claims = jwt.decode(token, options={"verify_signature": False})
    user = session.get(User, user_id)
    if (
        user is None
        or not user.is_active
        or not hmac.compare_digest(str(claims.get("pwd", "")), _password_binding(user))
    ):
        raise SecondFactorTokenInvalid()
    return user


def complete_login(
    session: Session,
    *,
    token: str,
    settings: Settings,
    code: str | None = None,
    recovery_code: str | None = None,
) -> User:
    """The user of a second-factor token once ``code`` or ``recovery_code`` checks out
    (each works once). Passkeys complete the step through ``passkeys.complete_login``."""
    user = user_of_login_token(session, token=token, settings=settings)
    if code:
        totp = _totp_of(session, user.id)
        if totp is None or totp.confirmed_at is None:
            raise SecondFactorInvalid()
        _spend_totp_code(session, totp, code=code, settings=settings)
    elif recovery_code:
        _spend_recovery_code(session, user_id=user.id, code=recovery_code)
    else:
        raise VerificationRequired("Give a code from your authenticator app or a recovery code.")
    return user


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
