"""Tickets (one per seat) and the per-event signing keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from admitone.db import Base, IdMixin, utcnow

CHANGED_AT_BEFORE_0014 = "2000-01-01 00:00:00"


class TicketStatus(StrEnum):
    valid = "valid"
    revoked = "revoked"  # refunded or cancelled: goes on the revocation list


class Ticket(IdMixin, Base):
    """A seat. Its QR payload is not stored: it is signed on demand (docs/ticket-signing.md).

    Whether it is in is check-in's: its presence on each of the event's check-in lists
    (``checkin.models.CheckinPresence``, docs/gates.md).
    """

    __tablename__ = "tickets"
    # (event_id, id), not (event_id) alone: the gate's lookup (... WHERE id = :id
    # AND event_id = :event ...) is then a single-row probe whichever index the planner
    # picks. With event_id alone and no statistics yet (a new table, a fresh event), it
    # picked that index and read every ticket of the event on each scan.
    #
    # (event_id, changed_at, id): a gate device's incremental download reads an event's
    # tickets changed since its cursor, in that order (checkin/bundle.py).
    __table_args__ = (
        Index("ix_tickets_event_id_id", "event_id", "id"),
        Index("ix_tickets_event_id_changed_at_id", "event_id", "changed_at", "id"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    order_item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("order_items.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"))
    ticket_type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ticket_types.id"), index=True)
    holder_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[TicketStatus] = mapped_column(
        Enum(TicketStatus, native_enum=False, length=20), default=TicketStatus.valid
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # When it was issued or last changed (revoked, renamed): every UPDATE through
    # SQLAlchemy sets it (``onupdate``), so gate devices download only what changed.
    # (The server default only lets migration 0014 add the column to existing rows,
    # which it then sets to their creation or revocation time.)
    changed_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=CHANGED_AT_BEFORE_0014
    )


class EventSigningKey(Base):
    """The Ed25519 key pair of one event; the private half is stored encrypted.

    Written once and never changed: tickets already in people's hands are signed with
    it, and scanners cache the public half.
    """

    __tablename__ = "event_signing_keys"

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    encrypted_private_key: Mapped[bytes] = mapped_column(LargeBinary(512))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
