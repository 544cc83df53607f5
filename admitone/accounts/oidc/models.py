"""Identity links: which account a provider's subject signs in to."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from admitone.db import Base, IdMixin, utcnow


class IdentityLink(IdMixin, Base):
    """A provider's subject (its stable user id) bound to one of our accounts.

    Looked up by (provider, subject), never by e-mail: a later login finds the same
    account even when the address changed at the provider.
    """

    __tablename__ = "identity_links"
    __table_args__ = (UniqueConstraint("provider", "subject"),)

    # OidcProvider.name from the settings.
    provider: Mapped[str] = mapped_column(String(40))
    # The ID token's ``sub``: at most 255 ASCII characters (OpenID Connect Core 2).
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # The verified address the link was made with (for support; not used to sign in).
    email_at_link: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime] = mapped_column(default=utcnow)
