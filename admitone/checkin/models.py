"""Check-in: every scan attempt, kept for the audit (the admission itself is on the ticket)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from admitone.db import Base, IdMixin, utcnow


class ScanResult(StrEnum):
    admitted = "admitted"
    already_admitted = "already_admitted"
    invalid_signature = "invalid_signature"  # unreadable, forged or tampered
    wrong_event = "wrong_event"  # a genuine ticket of another event
    revoked = "revoked"  # refunded or cancelled
    not_found = "not_found"  # genuine signature, but no such ticket here


class CheckIn(IdMixin, Base):
    """One scan and its answer.

    A ticket's current admission is its latest ``admitted`` row; one that a supervisor
    undid has a ``CheckinUndo`` and stays here for the audit.

    ``(event_id, nonce)`` is unique: a scanner that retries with the same nonce gets the
    stored answer instead of a second scan (NULL nonces never collide).
    """

    __tablename__ = "checkins"
    __table_args__ = (
        UniqueConstraint("event_id", "nonce"),
        Index("ix_checkins_event_id_scanned_at", "event_id", "scanned_at"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"))
    # Set when the scan named a ticket of this event that exists.
    ticket_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True, default=None
    )
    result: Mapped[ScanResult] = mapped_column(Enum(ScanResult, native_enum=False, length=20))
    gate: Mapped[str | None] = mapped_column(String(100), default=None)
    scanned_at: Mapped[datetime] = mapped_column(default=utcnow)
    scanned_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True, default=None
    )
    nonce: Mapped[str | None] = mapped_column(String(64), default=None)
    # SHA-256 of the scanned text: ties a retried nonce to the same QR without storing
    # arbitrary client input (or a usable ticket) in the audit log.
    payload_hash: Mapped[str] = mapped_column(String(64))


class CheckinUndo(IdMixin, Base):
    """A supervisor undid an admission (a mistaken scan): who and when.

    The admitting scan keeps its row; the ticket's ``admitted_at`` is cleared, so the
    ticket may be admitted again (``service.undo_admission``). ``checkin_id`` is unique:
    an admission is undone at most once.
    """

    __tablename__ = "checkin_undos"

    checkin_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checkins.id"), unique=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"))
    ticket_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True, default=None
    )
    undone_at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
