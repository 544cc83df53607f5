"""Every table, imported in one place so metadata is complete (Alembic, tests)."""

from admitone.accounts.models import AuthSession, RefreshToken, User
from admitone.db import Base
from admitone.events.models import Event, TicketType
from admitone.organizations.models import Membership, Organization

__all__ = [
    "AuthSession",
    "Base",
    "Event",
    "Membership",
    "Organization",
    "RefreshToken",
    "TicketType",
    "User",
]
