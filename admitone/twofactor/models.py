"""Second factors: a TOTP secret with its recovery codes, passkeys, WebAuthn challenges.

Whether an account has a second factor at all is the ``users.two_factor_enabled`` flag,
kept up to date by this package's services: the access checks read it from the user row
they load anyway, so requiring two-factor costs no query (docs/two-factor.md).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from admitone.db import Base, IdMixin, utcnow


class TotpCredential(IdMixin, Base):
    """An authenticator app's shared secret; on once ``confirmed_at`` is set."""

    __tablename__ = "totp_credentials"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    # AES-GCM under a key derived from the secret key (twofactor/totp.py): a database
    # dump alone does not give the codes.
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    # The 30-second step of the last accepted code: a code is refused a second time.
    last_used_step: Mapped[int | None] = mapped_column(BigInteger, default=None)


class RecoveryCode(IdMixin, Base):
    """A single-use code for when the authenticator is lost; only its SHA-256 is kept."""

    __tablename__ = "recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class Passkey(IdMixin, Base):
    """A WebAuthn credential (discoverable): signs in alone or as a second factor."""

    __tablename__ = "passkeys"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1024), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(2048))
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(100), default="")
    transports: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class WebAuthnChallenge(IdMixin, Base):
    """A challenge handed to a browser: used once (deleted on use), valid a few minutes."""

    __tablename__ = "webauthn_challenges"

    challenge: Mapped[bytes] = mapped_column(LargeBinary(64))
    # "register" (adding a passkey, ``user_id`` set) or "authenticate" (signing in).
    purpose: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    expires_at: Mapped[datetime] = mapped_column(index=True)
