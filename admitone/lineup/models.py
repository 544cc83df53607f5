"""The lineup of an event: its stages, its artists and their slots, and the slots each
attendee starred ("my schedule"). Issue 18, docs/lineup.md."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from admitone.db import Base, IdMixin, TimestampMixin, utcnow

# A changeover (the stage cleared and the next act set up) is at most this long; the
# overlap check looks this far back for a slot whose buffer may reach a new one.
MAX_CHANGEOVER_MINUTES = 240


class ArtistKind(StrEnum):
    band = "band"
    dj = "dj"
    solo = "solo"
    speaker = "speaker"
    comedian = "comedian"
    other = "other"


class SlotStatus(StrEnum):
    pending = "pending"  # planned, not public, never clashes
    confirmed = "confirmed"  # on the programme; never overlaps another on its stage
    cancelled = "cancelled"  # called off; stays for the record, never clashes


class SlotChangeKind(StrEnum):
    moved = "moved"  # a confirmed slot's times or stage changed
    cancelled = "cancelled"  # a confirmed slot left the programme


class Stage(IdMixin, TimestampMixin, Base):
    """A stage of an event. Its row is the lock the overlap check takes (docs/lineup.md)."""

    __tablename__ = "stages"
    __table_args__ = (
        UniqueConstraint("event_id", "name"),
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity_positive"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    capacity: Mapped[int | None] = mapped_column(default=None)
    location: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[int] = mapped_column(default=0)


class Artist(IdMixin, TimestampMixin, Base):
    __tablename__ = "artists"

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ArtistKind] = mapped_column(Enum(ArtistKind, native_enum=False, length=20))
    bio: Mapped[str] = mapped_column(Text, default="")
    # Stored like an event's image (events/images.py): relative to the media folder.
    image_path: Mapped[str | None] = mapped_column(String(300), default=None)
    # [{"label": "Website", "url": "https://..."}], checked by the schemas.
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Slot(IdMixin, TimestampMixin, Base):
    """An artist on a stage from ``starts_at`` to ``ends_at``, then the stage is kept
    free for ``changeover_minutes``. The stage's confirmed slots never overlap, buffers
    included: ``service`` checks it under the stage's row lock."""

    __tablename__ = "slots"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint(
            f"changeover_minutes >= 0 AND changeover_minutes <= {MAX_CHANGEOVER_MINUTES}",
            name="changeover_range",
        ),
        Index("ix_slots_stage_id_starts_at", "stage_id", "starts_at"),
        Index("ix_slots_event_id_status", "event_id", "status"),
    )

    # The event again (the stage's and the artist's): scoped lookups need no join.
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    stage_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stages.id", ondelete="RESTRICT"))
    artist_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("artists.id", ondelete="RESTRICT"), index=True
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[SlotStatus] = mapped_column(
        Enum(SlotStatus, native_enum=False, length=20), default=SlotStatus.pending
    )
    changeover_minutes: Mapped[int] = mapped_column(default=0, server_default="0")

    @property
    def occupied_until(self) -> datetime:
        """When the stage is free again: the end plus the changeover."""
        return self.ends_at + timedelta(minutes=self.changeover_minutes)


class SlotChange(IdMixin, Base):
    """A confirmed slot moved or left the programme: what the notices tell (and what a
    live update will push). Written in the change's own unit of work."""

    __tablename__ = "slot_changes"

    slot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("slots.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[SlotChangeKind] = mapped_column(Enum(SlotChangeKind, native_enum=False, length=20))
    # Where and when it was before the change (the notice says "was ..., now ...").
    old_stage_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stages.id", ondelete="CASCADE"))
    old_starts_at: Mapped[datetime]
    old_ends_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScheduleStar(Base):
    """An attendee starred a slot: it is in their schedule, and they hear if it moves."""

    __tablename__ = "schedule_stars"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    slot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("slots.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
