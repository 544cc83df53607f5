"""tickets: index (event_id, id) instead of (event_id)

The gate's claim, ``UPDATE tickets ... WHERE id = :id AND event_id = :event_id AND
status = 'valid' AND admitted_at IS NULL``, could be planned on the event_id index when
the table had no statistics yet (a fresh database, a table never analyzed): every scan
then read all the tickets of the event. With (event_id, id), both candidate indexes
answer it with a single-row probe. The new index serves the event_id lookups as before.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tickets_event_id_id", "tickets", ["event_id", "id"])
    op.drop_index("ix_tickets_event_id", table_name="tickets")


def downgrade() -> None:
    op.create_index("ix_tickets_event_id", "tickets", ["event_id"])
    op.drop_index("ix_tickets_event_id_id", table_name="tickets")
