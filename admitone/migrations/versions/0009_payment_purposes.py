"""payments and refunds say what they pay for: purpose + purpose_id instead of order_id

Issue 14: a payment may pay for something else than a ticket order (the cashless
wallet's top-ups). ``payments.order_id`` and ``refunds.order_id`` (foreign keys to
orders) become ``purpose`` ("order" for every existing row) and ``purpose_id`` (the
order's id), without a foreign key: the owning domain of each purpose keeps its own
integrity (docs/payments.md, "Purposes"). Orders are never deleted, so the cascade the
old keys declared never ran.

PostgreSQL: the columns are renamed in place and ``purpose`` is added with a default
that is then dropped: catalog changes only, no table is rewritten. Only the two new
indexes read their tables (the old ``order_id`` indexes are dropped).

SQLite cannot drop a foreign key in place, and rebuilding ``payments`` while
``refunds`` references it would cascade-delete every refund (foreign keys are on). So
``refunds`` is set aside first (copied, dropped), ``payments`` rebuilt, then
``refunds`` rebuilt from its copy: both tables are copied once.

Revision ID: 0009_payment_purposes
Revises: 0008_organization_verification
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import admitone.db

revision: str = "0009_payment_purposes"
down_revision: str | None = "0008_organization_verification"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORDER = "order"
# Every column of each table but the link to what it pays for, in their order.
PAYMENT_COLUMNS = (
    "provider, provider_ref, status, amount_minor, currency, refunded_minor, "
    "application_fee_minor, provider_payment_ref, transfer_destination, checkout_url, "
    "succeeded_at, id, created_at, updated_at"
)
REFUND_COLUMNS = "payment_id, amount_minor, currency, reason, provider_ref, created_at, id"


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if _is_sqlite():
        _rebuild_on_sqlite(link="purpose")
        return
    for table in ("payments", "refunds"):
        op.drop_constraint(f"fk_{table}_order_id_orders", table, type_="foreignkey")
        op.drop_index(f"ix_{table}_order_id", table_name=table)
        op.alter_column(table, "order_id", new_column_name="purpose_id")
        op.add_column(
            table, sa.Column("purpose", sa.String(length=30), nullable=False, server_default=ORDER)
        )
        op.alter_column(table, "purpose", server_default=None)
        op.create_index(f"ix_{table}_purpose_id_purpose", table, ["purpose_id", "purpose"])


def downgrade() -> None:
    others = op.get_bind().scalar(
        sa.text(
            "SELECT (SELECT count(*) FROM payments WHERE purpose <> :order)"
            " + (SELECT count(*) FROM refunds WHERE purpose <> :order)"
        ),
        {"order": ORDER},
    )
    if others:
        raise RuntimeError(
            f"{others} payments or refunds pay for something else than an order: "
            "revision 0008 cannot hold them"
        )
    if _is_sqlite():
        _rebuild_on_sqlite(link="order")
        return
    for table in ("payments", "refunds"):
        op.drop_index(f"ix_{table}_purpose_id_purpose", table_name=table)
        op.drop_column(table, "purpose")
        op.alter_column(table, "purpose_id", new_column_name="order_id")
        op.create_index(f"ix_{table}_order_id", table, ["order_id"])
        op.create_foreign_key(
            f"fk_{table}_order_id_orders",
            table,
            "orders",
            ["order_id"],
            ["id"],
            ondelete="CASCADE",
        )


# --- SQLite ------------------------------------------------------------------------------


def _link_columns(link: str, table: str) -> list[sa.schema.SchemaItem]:
    """The link to what a row pays for: purpose + purpose_id (this revision), or the
    order_id foreign key (revision 0008)."""
    if link == "purpose":
        return [
            sa.Column("purpose", sa.String(length=30), nullable=False),
            sa.Column("purpose_id", sa.Uuid(), nullable=False),
        ]
    return [
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=f"fk_{table}_order_id_orders", ondelete="CASCADE"
        ),
    ]


def _link_indexes(link: str, table: str) -> None:
    if link == "purpose":
        op.create_index(f"ix_{table}_purpose_id_purpose", table, ["purpose_id", "purpose"])
    else:
        op.create_index(f"ix_{table}_order_id", table, ["order_id"])


def _link_values(link: str) -> tuple[str, str]:
    """(the new link columns, the expressions that fill them from the old ones)."""
    if link == "purpose":
        return "purpose, purpose_id", f"'{ORDER}', order_id"
    return "order_id", "purpose_id"


def _rebuild_on_sqlite(*, link: str) -> None:
    old_link = "order" if link == "purpose" else "purpose"
    new_columns, from_old = _link_values(link)
    # 1. refunds aside: nothing may reference payments while it is rebuilt.
    op.execute("CREATE TABLE _refunds_0009 AS SELECT * FROM refunds")
    op.drop_index(
        "ix_refunds_order_id" if old_link == "order" else "ix_refunds_purpose_id_purpose",
        table_name="refunds",
    )
    op.drop_index("ix_refunds_payment_id", table_name="refunds")
    op.drop_table("refunds")
    # 2. payments rebuilt under a new name, then put in place.
    op.create_table(
        "_payments_0009",
        *_link_columns(link, "payments"),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("provider_ref", sa.String(length=255), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "succeeded",
                "failed",
                "refunded",
                name="paymentstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("refunded_minor", sa.Integer(), nullable=False),
        sa.Column("application_fee_minor", sa.Integer(), nullable=False),
        sa.Column("provider_payment_ref", sa.String(length=255), nullable=True),
        sa.Column("transfer_destination", sa.String(length=255), nullable=True),
        sa.Column("checkout_url", sa.Text(), nullable=True),
        sa.Column("succeeded_at", admitone.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        sa.UniqueConstraint(
            "provider", "provider_ref", name="uq_payments_provider_provider_ref"
        ),
    )
    op.execute(
        f"INSERT INTO _payments_0009 ({new_columns}, {PAYMENT_COLUMNS}) "  # noqa: S608
        f"SELECT {from_old}, {PAYMENT_COLUMNS} FROM payments"
    )
    op.drop_index(
        "ix_payments_order_id" if old_link == "order" else "ix_payments_purpose_id_purpose",
        table_name="payments",
    )
    op.drop_index("ix_payments_provider_payment_ref", table_name="payments")
    op.drop_table("payments")
    op.rename_table("_payments_0009", "payments")
    _link_indexes(link, "payments")
    op.create_index("ix_payments_provider_payment_ref", "payments", ["provider_payment_ref"])
    # 3. refunds rebuilt from the copy, referencing the new payments.
    op.create_table(
        "refunds",
        *_link_columns(link, "refunds"),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.Column("provider_ref", sa.String(length=255), nullable=True),
        sa.Column("created_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name="fk_refunds_payment_id_payments",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_refunds"),
    )
    op.execute(
        f"INSERT INTO refunds ({new_columns}, {REFUND_COLUMNS}) "  # noqa: S608
        f"SELECT {from_old}, {REFUND_COLUMNS} FROM _refunds_0009"
    )
    op.drop_table("_refunds_0009")
    _link_indexes(link, "refunds")
    op.create_index("ix_refunds_payment_id", "refunds", ["payment_id"])
