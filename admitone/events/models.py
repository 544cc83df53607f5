"""Events and their ticket types."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from admitone.db import Base, IdMixin, TimestampMixin
from admitone.organizations.models import Organization

# Default of ``Event.offline_ticket_limit``: issue 16's 50,000.
OFFLINE_TICKET_LIMIT = 50_000
MAX_OFFLINE_TICKET_LIMIT = 1_000_000


class EventStatus(StrEnum):
    draft = "draft"
    published = "published"
    cancelled = "cancelled"


class Category(StrEnum):
    concert = "concert"
    festival = "festival"
    theatre = "theatre"
    comedy = "comedy"
    sport = "sport"
    conference = "conference"
    workshop = "workshop"
    exhibition = "exhibition"
    family = "family"
    other = "other"


class Event(IdMixin, TimestampMixin, Base):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_events_status_starts_at", "status", "starts_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    # Globally unique: the public address is /events/{slug}.
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[Category] = mapped_column(Enum(Category, native_enum=False, length=20))
    venue_name: Mapped[str] = mapped_column(String(200))
    venue_address: Mapped[str] = mapped_column(String(300), default="")
    city: Mapped[str] = mapped_column(String(100), index=True)
    country: Mapped[str] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    currency: Mapped[str] = mapped_column(String(3))
    image_path: Mapped[str | None] = mapped_column(String(300), default=None)
    status: Mapped[EventStatus] = mapped_column(
        Enum(EventStatus, native_enum=False, length=20), default=EventStatus.draft
    )
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    # The organizer asks for each attendee's name: the buyer then sets it per ticket on
    # the order (tickets.service.set_holder_name). Off: every ticket carries the buyer's.
    ask_attendee_names: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The offline bundle carries every ticket (with its holder's name) only up to this
    # many tickets; above it, only the revoked ones (docs/gates.md, "The bundle").
    offline_ticket_limit: Mapped[int] = mapped_column(
        default=OFFLINE_TICKET_LIMIT, server_default=str(OFFLINE_TICKET_LIMIT)
    )

    organization: Mapped[Organization] = relationship(lazy="raise")
    ticket_types: Mapped[list[TicketType]] = relationship(
        lazy="raise", back_populates="event", order_by="TicketType.position, TicketType.created_at"
    )


class TicketType(IdMixin, TimestampMixin, Base):
    """A kind of ticket with its own price and stock.

    ``quantity_sold`` and ``quantity_held`` are the stock counters that the order
    service moves with conditional updates (docs/locking.md); the check constraint is a
    last line of defence against overselling.
    """

    __tablename__ = "ticket_types"
    __table_args__ = (
        CheckConstraint("quantity_sold + quantity_held <= capacity", name="within_capacity"),
        CheckConstraint("quantity_sold >= 0 AND quantity_held >= 0", name="counters_positive"),
        CheckConstraint(
            "min_per_order >= 1 AND max_per_order >= min_per_order", name="order_limits"
        ),
        CheckConstraint("price_minor >= 0", name="price_positive"),
        CheckConstraint("vat_rate_bp >= 0 AND vat_rate_bp <= 10000", name="vat_rate_range"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    price_minor: Mapped[int]
    # VAT included in price_minor, in basis points (2000 = 20 %); receipts show the split.
    vat_rate_bp: Mapped[int] = mapped_column(default=0, server_default="0")
    capacity: Mapped[int]
    quantity_sold: Mapped[int] = mapped_column(default=0)
    quantity_held: Mapped[int] = mapped_column(default=0)
    sales_start: Mapped[datetime | None] = mapped_column(default=None)
    sales_end: Mapped[datetime | None] = mapped_column(default=None)
    min_per_order: Mapped[int] = mapped_column(default=1)
    max_per_order: Mapped[int] = mapped_column(default=10)
    # Tickets of this type one buyer (account or e-mail) may have across all their orders,
    # paid and held; None: only the per-order limit applies (docs/locking.md).
    max_per_buyer: Mapped[int | None] = mapped_column(default=None)
    is_active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)

    event: Mapped[Event] = relationship(lazy="raise", back_populates="ticket_types")

    @property
    def available(self) -> int:
        return max(self.capacity - self.quantity_sold - self.quantity_held, 0)
