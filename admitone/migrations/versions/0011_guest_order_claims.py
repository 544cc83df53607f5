"""orders.buyer_email indexed: a verified address finds its guest orders at login

Issue 15: a buyer who registers or logs in with a verified address finds the guest
orders placed with it (``orders.buyer_orders.claim_guest_orders``: one UPDATE by
address at each login). Without an index of its own that UPDATE reads every order
(``ix_orders_event_id_buyer_email`` leads with the event).

Builds one index on ``orders``. On PostgreSQL ``CREATE INDEX`` blocks writes to orders
while it runs (about a second per million orders); run the migration outside an
on-sale.

Revision ID: 0011_guest_order_claims
Revises: 0010_checkin_undo
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_guest_order_claims"
down_revision: str | None = "0010_checkin_undo"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_orders_buyer_email", "orders", ["buyer_email"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_orders_buyer_email", table_name="orders")
