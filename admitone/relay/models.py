"""The relay's own schema: a cache of the upstream bundle and a queue of scans.

Not the main database and not migrated by Alembic: the file is made by ``create_all``
at start, and can be thrown away between events (what it holds that upstream lacks is
the queue: ``relay_scans`` rows with ``upload_status`` NULL). Its own metadata, so the
main models' ``create_all`` and Alembic never see these tables.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from admitone.db import NAMING_CONVENTION, UTCDateTime


class RelayBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class RelayMeta(RelayBase):
    """Small values by key, as JSON: the bundle's event, key, lists and types, the sync
    cursor, the last pull and push, the last conflicts upstream reported."""

    __tablename__ = "relay_meta"
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RelayCounter(RelayBase):
    """One row: the sequence every local change of a ticket or a presence takes, so the
    relay's own bundle can answer "what changed since" without clocks (one writer at a
    time: SQLite's write lock orders the changes)."""

    __tablename__ = "relay_counter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)


class RelayTicket(RelayBase):
    __tablename__ = "relay_tickets"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    ticket_type_id: Mapped[uuid.UUID]
    holder_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    seq: Mapped[int] = mapped_column(Integer, index=True)


class RelayPresence(RelayBase):
    """A ticket's state on a list, as upstream's ``checkin_presences`` (docs/gates.md)."""

    __tablename__ = "relay_presences"
    list_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    ticket_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    inside: Mapped[bool] = mapped_column(Boolean)
    entries: Mapped[int] = mapped_column(Integer)
    exits: Mapped[int] = mapped_column(Integer)
    first_entry_at: Mapped[datetime]
    last_entry_at: Mapped[datetime]
    last_exit_at: Mapped[datetime | None]
    last_gate: Mapped[str | None] = mapped_column(String(100))
    seq: Mapped[int] = mapped_column(Integer, index=True)


class RelayUndone(RelayBase):
    """A presence upstream dropped (its only entry undone), for the gates' bundles; gone
    again when the ticket has a presence there once more."""

    __tablename__ = "relay_undone"
    list_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    ticket_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, index=True)


class RelayDevice(RelayBase):
    """A gate device paired upstream through the relay: the hash of its token (never the
    token), so the relay can check it while upstream is out of reach."""

    __tablename__ = "relay_devices"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(100))
    gate: Mapped[str] = mapped_column(String(100))
    paired_at: Mapped[datetime]


class RelayScan(RelayBase):
    """Every scan the relay decided or received, and its place in the upload queue.

    ``client`` is the gate device's upstream id (or ``relay`` for the relay's own token)
    and ``client_nonce`` its nonce: unique together, so a gate's retry is answered
    from here. ``upload_nonce`` is the relay's own nonce for upstream (a gate's nonce is
    unique only for that gate, and upstream sees one device, the relay).
    ``upload_status`` NULL: still queued; else upstream's answer (stored,
    already_stored, conflict: done; refused: kept and shown, not sent again).
    """

    __tablename__ = "relay_scans"
    __table_args__ = (
        UniqueConstraint("client", "client_nonce"),
        Index("ix_relay_scans_queue", "upload_status", "position"),
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(unique=True)
    client: Mapped[str] = mapped_column(String(40))
    client_nonce: Mapped[str | None] = mapped_column(String(64))
    upload_nonce: Mapped[str] = mapped_column(String(64), unique=True)
    qr_hash: Mapped[str] = mapped_column(String(64))
    qr: Mapped[str] = mapped_column(Text)
    ticket_id: Mapped[uuid.UUID | None]
    list_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(10))
    result: Mapped[str] = mapped_column(String(20))
    gate: Mapped[str | None] = mapped_column(String(100))
    scanned_at: Mapped[datetime]
    offline: Mapped[bool] = mapped_column(Boolean, default=False)  # came in a gate's batch
    device_scanned_at: Mapped[datetime | None]
    received_at: Mapped[datetime]
    conflict: Mapped[str | None] = mapped_column(String(20))  # the relay's own verdict
    conflict_with_id: Mapped[uuid.UUID | None]
    upload_status: Mapped[str | None] = mapped_column(String(20))
    uploaded_at: Mapped[datetime | None]
    upstream_checkin_id: Mapped[uuid.UUID | None]
    upload_error: Mapped[str | None] = mapped_column(Text)  # JSON {"code", "message"}
