"""lineup: stages, artists, slots, my schedule

Issue 18 (docs/lineup.md):

- ``stages`` (unique name per event; a stage's row is the lock of the overlap check),
  ``artists`` (kind, bio, picture path, links as JSON);
- ``slots`` (a stage, an artist, start and end, status, changeover buffer);
- ``slot_changes`` (a confirmed slot moved or was cancelled: what the notices tell);
- ``schedule_stars`` (an attendee's starred slots).

Cost: new tables only, created empty.

Revision ID: 0016_lineup
Revises: 0015_cashless
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import admitone.db

revision: str = "0016_lineup"
down_revision: str | None = "0015_cashless"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "artists",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "band",
                "dj",
                "solo",
                "speaker",
                "comedian",
                "other",
                name="artistkind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("bio", sa.Text(), nullable=False),
        sa.Column("image_path", sa.String(length=300), nullable=True),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_artists_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artists")),
    )
    op.create_index(op.f("ix_artists_event_id"), "artists", ["event_id"], unique=False)
    op.create_table(
        "stages",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "capacity IS NULL OR capacity >= 0", name=op.f("ck_stages_capacity_positive")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_stages_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stages")),
        sa.UniqueConstraint("event_id", "name", name=op.f("uq_stages_event_id_name")),
    )
    op.create_index(op.f("ix_stages_event_id"), "stages", ["event_id"], unique=False)
    op.create_table(
        "slots",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("stage_id", sa.Uuid(), nullable=False),
        sa.Column("artist_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "confirmed", "cancelled", name="slotstatus", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("changeover_minutes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "changeover_minutes >= 0 AND changeover_minutes <= 240",
            name=op.f("ck_slots_changeover_range"),
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_slots_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["artist_id"],
            ["artists.id"],
            name=op.f("fk_slots_artist_id_artists"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_slots_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["stage_id"], ["stages.id"], name=op.f("fk_slots_stage_id_stages"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slots")),
    )
    op.create_index(op.f("ix_slots_artist_id"), "slots", ["artist_id"], unique=False)
    op.create_index("ix_slots_event_id_status", "slots", ["event_id", "status"], unique=False)
    op.create_index("ix_slots_stage_id_starts_at", "slots", ["stage_id", "starts_at"], unique=False)
    op.create_table(
        "schedule_stars",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("slot_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["slots.id"],
            name=op.f("fk_schedule_stars_slot_id_slots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_schedule_stars_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "slot_id", name=op.f("pk_schedule_stars")),
    )
    op.create_index(op.f("ix_schedule_stars_slot_id"), "schedule_stars", ["slot_id"], unique=False)
    op.create_table(
        "slot_changes",
        sa.Column("slot_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("moved", "cancelled", name="slotchangekind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("old_stage_id", sa.Uuid(), nullable=False),
        sa.Column("old_starts_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("old_ends_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["old_stage_id"],
            ["stages.id"],
            name=op.f("fk_slot_changes_old_stage_id_stages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["slots.id"],
            name=op.f("fk_slot_changes_slot_id_slots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slot_changes")),
    )
    op.create_index(op.f("ix_slot_changes_slot_id"), "slot_changes", ["slot_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_slot_changes_slot_id"), table_name="slot_changes")
    op.drop_table("slot_changes")
    op.drop_index(op.f("ix_schedule_stars_slot_id"), table_name="schedule_stars")
    op.drop_table("schedule_stars")
    op.drop_index("ix_slots_stage_id_starts_at", table_name="slots")
    op.drop_index("ix_slots_event_id_status", table_name="slots")
    op.drop_index(op.f("ix_slots_artist_id"), table_name="slots")
    op.drop_table("slots")
    op.drop_index(op.f("ix_stages_event_id"), table_name="stages")
    op.drop_table("stages")
    op.drop_index(op.f("ix_artists_event_id"), table_name="artists")
    op.drop_table("artists")
