"""events: ask for attendee names (the name on each ticket, set by the buyer)

Issue 15: an organizer may ask for the name of each attendee; the buyer then sets it per
ticket on the order (``tickets.holder_name``, which until now always held the buyer's
name). Adds ``events.ask_attendee_names``, a boolean with a server default: existing
events get false, so nothing changes for them.

A plain ADD COLUMN on both databases: SQLite adds it in place (no table copy, the search
triggers of 0002 untouched; a batch rebuild of ``events`` would break the foreign keys
that point at it), PostgreSQL 11+ stores the constant default without rewriting the
table. Nothing large is rewritten or locked beyond the catalog.

Revision ID: 0012_attendee_names
Revises: 0011_guest_order_claims
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_attendee_names"
down_revision: str | None = "0011_guest_order_claims"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "events",
        sa.Column("ask_attendee_names", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    # SQLite 3.35+ drops a plain column in place (no batch rebuild of a referenced table).
    op.drop_column("events", "ask_attendee_names")
