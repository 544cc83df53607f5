"""Organizations (the organizers) and their members."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from admitone.accounts.models import User
from admitone.db import Base, IdMixin, TimestampMixin


class Role(StrEnum):
    owner = "owner"
    admin = "admin"
    staff = "staff"  # gate staff: scans tickets
    cashier = "cashier"  # festival stands


class Organization(IdMixin, TimestampMixin, Base):
    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    stripe_account_id: Mapped[str | None] = mapped_column(String(255), default=None)
    # Set by a platform admin once the organizer is known. Until then its mail to
    # strangers is restrained (notifications.service.mail_permission, docs/mail.md).
    verified_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    # Members without a second factor are refused on this organization's routes
    # (authorization.check_two_factor); the owner alone changes it.
    require_two_factor: Mapped[bool] = mapped_column(default=False, server_default=false())


class Membership(IdMixin, TimestampMixin, Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("organization_id", "user_id"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20))

    user: Mapped[User] = relationship(lazy="raise")
    organization: Mapped[Organization] = relationship(lazy="raise")
