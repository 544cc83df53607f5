"""hold limits: the client address of an order, a ticket type's limit per buyer

Issue 13 ("nobody can hold the whole stock"): before taking seats, the order service
sums the seats that the same account, e-mail or network address holds for the event
(docs/locking.md, "Hold limits"). ``orders.client_ip`` records the address; two
indexes let that sum read only the client's orders of the event (the user's orders
have ``ix_orders_user_id``). ``ticket_types.max_per_buyer`` is the organizer's limit
of tickets one buyer may have across orders (none: no limit).

Only columns are added (nullable, no default to write): no table is rewritten, on
SQLite ``batch_alter_table`` adds them with a plain ALTER TABLE (the events search
triggers of 0002 are not touched). Each new index costs every order's INSERT a little.

Revision ID: 0003_hold_limits
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_hold_limits"
down_revision: str | None = "0002"  # the file 0002_event_search.py
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs: a batch rebuild of orders or ticket_types on SQLite would break
    # the foreign keys that point at them.
    op.add_column("orders", sa.Column("client_ip", sa.String(length=45), nullable=True))
    op.create_index("ix_orders_event_id_buyer_email", "orders", ["event_id", "buyer_email"])
    op.create_index("ix_orders_event_id_client_ip", "orders", ["event_id", "client_ip"])
    op.add_column("ticket_types", sa.Column("max_per_buyer", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("ticket_types", "max_per_buyer")
    op.drop_index("ix_orders_event_id_client_ip", table_name="orders")
    op.drop_index("ix_orders_event_id_buyer_email", table_name="orders")
    op.drop_column("orders", "client_ip")
