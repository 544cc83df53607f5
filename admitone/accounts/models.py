"""Users, login sessions (refresh-token families) and refresh tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column

from admitone.db import Base, IdMixin, TimestampMixin, utcnow


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"

    # Stored lower-cased: uniqueness is case-insensitive on every database.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    locale: Mapped[str] = mapped_column(String(10), default="en")
    is_active: Mapped[bool] = mapped_column(default=True)
    is_platform_admin: Mapped[bool] = mapped_column(default=False)
    # When the owner proved they read mail at ``email`` (accounts/verification.py); None
    # until then, and again after a change of address. Unverified accounts can buy but
    # not create an organization.
    email_verified_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    # A confirmed authenticator app or a passkey (admitone/twofactor): on this row so that
    # the access checks, which load the user anyway, need no query to require it.
    two_factor_enabled: Mapped[bool] = mapped_column(default=False, server_default=false())


class AuthSession(IdMixin, Base):
    """A login: the family of refresh tokens that descend from it.

    Access tokens carry the session id, so revoking the session (logout, or a replayed
    refresh token) ends its access tokens at once, not only at their expiry.
    """

    __tablename__ = "auth_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    # For "Your logins" (accounts/logins.py): the browser or app that opened it, and when
    # it was last seen, recorded at most every few minutes (never per API request).
    user_agent: Mapped[str | None] = mapped_column(String(300), default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class RefreshToken(IdMixin, Base):
    __tablename__ = "refresh_tokens"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True
    )
    # SHA-256 of the token: a database leak gives no usable token.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class AccountTokenPurpose(StrEnum):
    password_reset = "password_reset"  # noqa: S105 (a purpose, not a password)
    email_verification = "email_verification"


class AccountToken(IdMixin, Base):
    """A single-use token mailed to ``email``: a password reset or an address check.

    Only its SHA-256 is stored; the token itself is derived from the row id and the
    secret key (accounts/account_tokens.py), so the mail job can rebuild it from the id.
    """

    __tablename__ = "account_tokens"
    # The per-address mail limit counts a user's recent tokens of one purpose.
    __table_args__ = (
        Index("ix_account_tokens_user_purpose_created", "user_id", "purpose", "created_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[AccountTokenPurpose] = mapped_column(
        Enum(AccountTokenPurpose, native_enum=False, length=30)
    )
    # The address it was sent to: a verification proves this address, not a later one.
    email: Mapped[str] = mapped_column(String(320))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
