"""checkin_undos: a supervisor undoes a mistaken admission, who and when, without loss

Issue 15: an admission made by mistake at the gate can be undone by an organization's
admin or owner; the ticket may then be admitted again. The admitting scan keeps its
``checkins`` row; the undo is a new row here (``checkin_id`` unique: an admission is
undone once), and the ticket's ``admitted_at`` is cleared by the service, not here.

A new, empty table and its index: nothing existing is rewritten or locked beyond the
catalog. (Columns on ``checkins`` were tried first: SQLite can only declare a foreign
key on an added column inline, which SQLAlchemy reflects without its name.)

Revision ID: 0010_checkin_undo
Revises: 0009_payment_purposes
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import admitone.db


revision: str = "0010_checkin_undo"
down_revision: str | None = "0009_payment_purposes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkin_undos",
        sa.Column("checkin_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=True),
        sa.Column("undone_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("undone_by_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkin_id"], ["checkins.id"], name=op.f("fk_checkin_undos_checkin_id_checkins")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_checkin_undos_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_checkin_undos_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["undone_by_id"],
            ["users.id"],
            name=op.f("fk_checkin_undos_undone_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_undos")),
        sa.UniqueConstraint("checkin_id", name=op.f("uq_checkin_undos_checkin_id")),
    )
    op.create_index(
        op.f("ix_checkin_undos_ticket_id"), "checkin_undos", ["ticket_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_checkin_undos_ticket_id"), table_name="checkin_undos")
    op.drop_table("checkin_undos")
