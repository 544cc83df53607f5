"""Check-in: the event's lists, each ticket's presence on each list, every scan attempt.

A list (``CheckinList``) says which tickets it admits and whether they may come back
after an exit; a ticket's state on a list is one ``CheckinPresence`` row, which the scan
writes with one conditional statement (docs/gates.md); every scan is a ``CheckIn`` row.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from admitone.db import Base, IdMixin, utcnow

CHANGED_AT_BEFORE_0014 = "2000-01-01 00:00:00"


class ScanResult(StrEnum):
    admitted = "admitted"
    already_admitted = "already_admitted"
    invalid_signature = "invalid_signature"  # unreadable, forged or tampered
    wrong_event = "wrong_event"  # a genuine ticket of another event
    revoked = "revoked"  # refunded or cancelled
    not_found = "not_found"  # genuine signature, but no such ticket here
    exited = "exited"  # an exit, recorded: the holder is out
    wrong_list = "wrong_list"  # the ticket's type is not on this list
    outside_window = "outside_window"  # before the list's valid_from or after valid_until
    not_inside = "not_inside"  # an exit of a ticket that is not inside on this list


class CheckinKind(StrEnum):
    entry = "entry"
    exit = "exit"


class CheckinList(IdMixin, Base):
    """Who a gate admits: a list of an event (issue 16).

    ``all_ticket_types`` or the types in ``checkin_list_ticket_types``; after an exit a
    ticket may enter again only when ``allow_reentry``; entries only between
    ``valid_from`` and ``valid_until`` (either may be open). Each event has one default
    list, made at publish: ``default_for_event_id`` is its event's id there and NULL
    elsewhere, unique, so the default is found by one index probe and there is never a
    second one (a portable "partial unique index": NULLs never collide).
    """

    __tablename__ = "checkin_lists"

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"), index=True)
    default_for_event_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("events.id"), unique=True, default=None
    )
    name: Mapped[str] = mapped_column(String(100))
    all_ticket_types: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_reentry: Mapped[bool] = mapped_column(Boolean, default=False)
    valid_from: Mapped[datetime | None] = mapped_column(default=None)
    valid_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_default(self) -> bool:
        return self.default_for_event_id is not None


class CheckinListTicketType(Base):
    """A ticket type a list admits (lists with ``all_ticket_types`` false)."""

    __tablename__ = "checkin_list_ticket_types"

    list_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("checkin_lists.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ticket_types.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CheckinPresence(Base):
    """A ticket's state on one list: inside or not, how many entries and exits.

    The row exists from the ticket's first entry on the list. Its key is ``(list_id,
    ticket_id)`` and nothing else (no surrogate id): the scan finds and writes it by
    that key, and a list's counters read it by the key's first column, so one index
    serves both. The scan's write is conditional on the state it read (docs/gates.md):
    a first entry inserts (``ON CONFLICT DO NOTHING``), a re-entry updates ``WHERE inside
    = false AND entries = :seen``, an exit ``WHERE inside = true``.
    """

    __tablename__ = "checkin_presences"

    list_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("checkin_lists.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    inside: Mapped[bool] = mapped_column(Boolean)
    entries: Mapped[int] = mapped_column(Integer)
    exits: Mapped[int] = mapped_column(Integer)
    first_entry_at: Mapped[datetime]
    last_entry_at: Mapped[datetime]
    last_exit_at: Mapped[datetime | None] = mapped_column(default=None)
    last_gate: Mapped[str | None] = mapped_column(String(100), default=None)
    # When the server last wrote the row (not the scan's time, which an offline upload
    # sets in the past): gate devices download the presences changed since their last
    # sync. (The server default only lets migration 0014 add the column.)
    changed_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=CHANGED_AT_BEFORE_0014
    )


class ConflictReason(StrEnum):
    """Why the server would have refused an offline scan the device accepted."""

    already_admitted = "already_admitted"
    revoked = "revoked"
    wrong_list = "wrong_list"
    outside_window = "outside_window"
    not_inside = "not_inside"
    not_found = "not_found"
    invalid_signature = "invalid_signature"
    wrong_event = "wrong_event"


class CheckinDevice(IdMixin, Base):
    """A gate device (a browser, a hardware scanner, a site relay) paired with one event.

    Its token is given once at pairing; only its SHA-256 is kept (``token_hash``,
    unique: the device is found by it). It acts for the member who paired it
    (``paired_by_id``), as long as that member may check in and the device is not
    revoked. ``clock_offset_ms`` is the server's clock minus the device's, measured at
    its last upload, to correct the times of its offline scans.
    """

    __tablename__ = "checkin_devices"

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    gate: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    paired_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    clock_offset_ms: Mapped[int | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class CheckIn(IdMixin, Base):
    """One scan and its answer.

    A scan names a list and a kind (entry or exit). A ticket's current admission on a
    list is its presence; an admitting scan that a supervisor undid has a
    ``CheckinUndo`` and stays here for the audit.

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
    # The list the scan was for (always set by the scan; migration 0013 set the old
    # scans' to their event's default list), and whether it was an entry or an exit.
    # No foreign key: SQLite cannot drop a column that has one (0013's downgrade), and
    # a list that has scans is never deleted (``lists.delete_list``).
    list_id: Mapped[uuid.UUID | None] = mapped_column(index=True, default=None)
    kind: Mapped[CheckinKind] = mapped_column(
        Enum(CheckinKind, native_enum=False, length=10),
        default=CheckinKind.entry,
        server_default=CheckinKind.entry.value,
    )
    # SHA-256 of the scanned text: ties a retried nonce to the same QR without storing
    # arbitrary client input (or a usable ticket) in the audit log.
    payload_hash: Mapped[str] = mapped_column(String(64))
    # The gate device that scanned (NULL: a member's own login). No foreign key, as
    # ``list_id``: a device is revoked, never deleted.
    device_id: Mapped[uuid.UUID | None] = mapped_column(index=True, default=None)
    # An offline scan uploaded later: ``scanned_at`` is then the device's time corrected
    # by its clock offset, ``device_scanned_at`` the device's own, ``received_at`` when
    # the server stored it (for online scans all three are the server's time).
    offline: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    device_scanned_at: Mapped[datetime | None] = mapped_column(default=None)
    received_at: Mapped[datetime | None] = mapped_column(default=None)
    # An offline scan the server would have refused (a duplicate, a revoked ticket...):
    # stored all the same (it happened), with the reason and, for a duplicate, the scan
    # of the entry it repeats (docs/gates.md, "Conflicts").
    conflict: Mapped[ConflictReason | None] = mapped_column(
        Enum(ConflictReason, native_enum=False, length=20), default=None
    )
    conflict_with_id: Mapped[uuid.UUID | None] = mapped_column(default=None)


class CheckinUndo(IdMixin, Base):
    """A supervisor undid an admission (a mistaken scan): who and when.

    The admitting scan keeps its row; the ticket's presence on the scan's list loses
    that entry, so the ticket may be admitted again (``service.undo_admission``). ``checkin_id`` is unique:
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
