"""gate devices, offline scans and their conflicts, tickets' change time

Issue 16, points 2, 3, 5 and 6:

- ``checkin_devices``: a gate device paired with an event (its token's hash, name, gate,
  last contact, clock offset, revocation);
- ``checkins`` gains the device, whether the scan was uploaded from offline, the
  device's own scan time, the server's receipt time and, for an offline scan the server
  would have refused, the conflict's reason and the scan it repeats;
- ``events.offline_ticket_limit``: up to how many tickets the offline bundle carries
  them all (default 50,000);
- ``tickets.changed_at`` and an index ``(event_id, changed_at, id)``: devices download
  only the tickets changed since their last sync. Existing tickets get their
  revocation or creation time;
- ``checkin_presences.changed_at``: when the server last wrote the presence (an offline
  upload writes entries that happened earlier), for the same incremental download.

Cost: the new columns are added in place (nullable, or with a server default), no
rebuild. Filling ``tickets.changed_at`` and ``checkin_presences.changed_at`` rewrites every
ticket and presence row once (one UPDATE;
about a second per million tickets on PostgreSQL, holding their row locks), and the
index is built once. Run it outside the hours of a gate.

Revision ID: 0014_gate_devices
Revises: 0013_checkin_lists
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import admitone.db

revision: str = "0014_gate_devices"
down_revision: str | None = "0013_checkin_lists"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied, not imported (docs/migrations.md, "frozen code").
CHANGED_AT_BEFORE_0014 = "2000-01-01 00:00:00"
OFFLINE_TICKET_LIMIT = "50000"
CONFLICT_REASONS = (
    "already_admitted",
    "revoked",
    "wrong_list",
    "outside_window",
    "not_inside",
    "not_found",
    "invalid_signature",
    "wrong_event",
)


def upgrade() -> None:
    op.create_table(
        "checkin_devices",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("gate", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("paired_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", admitone.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("clock_offset_ms", sa.Integer(), nullable=True),
        sa.Column("revoked_at", admitone.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_checkin_devices_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["paired_by_id"],
            ["users.id"],
            name=op.f("fk_checkin_devices_paired_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_devices")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_checkin_devices_token_hash")),
    )
    op.create_index(op.f("ix_checkin_devices_event_id"), "checkin_devices", ["event_id"])
    op.add_column("checkins", sa.Column("device_id", sa.Uuid(), nullable=True))
    op.add_column(
        "checkins",
        sa.Column("offline", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "checkins",
        sa.Column("device_scanned_at", admitone.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "checkins",
        sa.Column("received_at", admitone.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "checkins",
        sa.Column(
            "conflict",
            sa.Enum(*CONFLICT_REASONS, name="conflictreason", native_enum=False, length=20),
            nullable=True,
        ),
    )
    op.add_column("checkins", sa.Column("conflict_with_id", sa.Uuid(), nullable=True))
    op.create_index(op.f("ix_checkins_device_id"), "checkins", ["device_id"])
    op.add_column(
        "events",
        sa.Column(
            "offline_ticket_limit",
            sa.Integer(),
            server_default=OFFLINE_TICKET_LIMIT,
            nullable=False,
        ),
    )
    op.add_column(
        "tickets",
        sa.Column(
            "changed_at",
            admitone.db.UTCDateTime(timezone=True),
            server_default=CHANGED_AT_BEFORE_0014,
            nullable=False,
        ),
    )
    op.get_bind().execute(
        sa.text("UPDATE tickets SET changed_at = COALESCE(revoked_at, created_at)")
    )
    op.add_column(
        "checkin_presences",
        sa.Column(
            "changed_at",
            admitone.db.UTCDateTime(timezone=True),
            server_default=CHANGED_AT_BEFORE_0014,
            nullable=False,
        ),
    )
    op.get_bind().execute(
        sa.text(
            "UPDATE checkin_presences SET changed_at = CASE"
            " WHEN last_exit_at IS NOT NULL AND last_exit_at > last_entry_at"
            " THEN last_exit_at ELSE last_entry_at END"
        )
    )
    op.create_index(
        "ix_tickets_event_id_changed_at_id", "tickets", ["event_id", "changed_at", "id"]
    )


def downgrade() -> None:
    op.drop_column("checkin_presences", "changed_at")
    op.drop_index("ix_tickets_event_id_changed_at_id", table_name="tickets")
    op.drop_column("tickets", "changed_at")
    op.drop_column("events", "offline_ticket_limit")
    op.drop_index(op.f("ix_checkins_device_id"), table_name="checkins")
    op.drop_column("checkins", "conflict_with_id")
    op.drop_column("checkins", "conflict")
    op.drop_column("checkins", "received_at")
    op.drop_column("checkins", "device_scanned_at")
    op.drop_column("checkins", "offline")
    op.drop_column("checkins", "device_id")
    op.drop_index(op.f("ix_checkin_devices_event_id"), table_name="checkin_devices")
    op.drop_table("checkin_devices")
