"""festival cashless: settings, wallets and passes, stands and products, the ledger

Issue 17:

- ``cashless_settings``: an event's cashless (limits, offline caps, refund window);
- ``wallets`` (one per account and event) and ``wallet_passes`` (the QR and printed
  codes attendees pay with; revoked and reissued when lost);
- ``stands``, ``stand_cashiers``, ``products``, ``cash_registers``, ``pos_devices`` (a
  paired device selling at a stand, and its upload figures);
- the ledger: ``ledger_accounts`` (cached balances, a wallet never below zero and a
  debt never above it, as CHECK constraints), ``journal_entries`` (unique idempotency
  key per event, at most one reversal per entry), ``ledger_transfers``, ``sale_lines``;
- ``wallet_topups`` (an online top-up is a payment's purpose).

Cost: new tables only, created empty.

Revision ID: 0015_cashless
Revises: 0014_gate_devices
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import admitone.db

revision: str = "0015_cashless"
down_revision: str | None = "0014_gate_devices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cashless_settings",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("unit_name", sa.String(length=30), nullable=True),
        sa.Column("topup_minimum_minor", sa.BigInteger(), nullable=False),
        sa.Column("topup_maximum_minor", sa.BigInteger(), nullable=False),
        sa.Column("balance_maximum_minor", sa.BigInteger(), nullable=False),
        sa.Column("offline_wallet_cap_minor", sa.BigInteger(), nullable=False),
        sa.Column("offline_sale_cap_minor", sa.BigInteger(), nullable=False),
        sa.Column("pass_validity_minutes", sa.Integer(), nullable=False),
        sa.Column("wallet_with_ticket", sa.Boolean(), nullable=False),
        sa.Column("refund_window_days", sa.Integer(), nullable=False),
        sa.Column("refund_minimum_minor", sa.BigInteger(), nullable=False),
        sa.Column("refund_fee_minor", sa.BigInteger(), nullable=False),
        sa.Column(
            "unclaimed_policy",
            sa.Enum("keep", "donate", name="unclaimedpolicy", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("donation_recipient", sa.String(length=200), nullable=True),
        sa.Column("updated_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "balance_maximum_minor > 0", name=op.f("ck_cashless_settings_balance_maximum_positive")
        ),
        sa.CheckConstraint(
            "offline_sale_cap_minor >= 0 AND offline_sale_cap_minor <= offline_wallet_cap_minor",
            name=op.f("ck_cashless_settings_offline_sale_cap"),
        ),
        sa.CheckConstraint(
            "offline_wallet_cap_minor >= 0", name=op.f("ck_cashless_settings_offline_wallet_cap")
        ),
        sa.CheckConstraint(
            "pass_validity_minutes > 0", name=op.f("ck_cashless_settings_pass_validity_positive")
        ),
        sa.CheckConstraint("refund_fee_minor >= 0", name=op.f("ck_cashless_settings_refund_fee")),
        sa.CheckConstraint(
            "refund_minimum_minor >= 0", name=op.f("ck_cashless_settings_refund_minimum")
        ),
        sa.CheckConstraint(
            "refund_window_days >= 0", name=op.f("ck_cashless_settings_refund_window")
        ),
        sa.CheckConstraint(
            "topup_maximum_minor >= topup_minimum_minor",
            name=op.f("ck_cashless_settings_topup_range"),
        ),
        sa.CheckConstraint(
            "topup_minimum_minor > 0", name=op.f("ck_cashless_settings_topup_minimum_positive")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_cashless_settings_event_id_events")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_cashless_settings")),
    )
    op.create_table(
        "stands",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "bar",
                "food",
                "merchandise",
                "topup_desk",
                name="standkind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_stands_event_id_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stands")),
        sa.UniqueConstraint("event_id", "name", name=op.f("uq_stands_event_id_name")),
    )
    op.create_index(op.f("ix_stands_event_id"), "stands", ["event_id"], unique=False)
    op.create_table(
        "wallets",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "blocked",
                "payout_pending",
                "closed",
                name="walletstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("offline_blocked", sa.Boolean(), nullable=False),
        sa.Column("created_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_wallets_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_wallets_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallets")),
        sa.UniqueConstraint("event_id", "user_id", name=op.f("uq_wallets_event_id_user_id")),
    )
    op.create_index(op.f("ix_wallets_event_id"), "wallets", ["event_id"], unique=False)
    op.create_index(
        "ix_wallets_event_id_changed_at", "wallets", ["event_id", "changed_at"], unique=False
    )
    op.create_index(op.f("ix_wallets_user_id"), "wallets", ["user_id"], unique=False)
    op.create_table(
        "cash_registers",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("stand_id", sa.Uuid(), nullable=False),
        sa.Column("cashier_id", sa.Uuid(), nullable=True),
        sa.Column("open_key", sa.String(length=80), nullable=True),
        sa.Column("opening_float_minor", sa.BigInteger(), nullable=False),
        sa.Column("opened_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", admitone.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expected_minor", sa.BigInteger(), nullable=True),
        sa.Column("counted_minor", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cashier_id"],
            ["users.id"],
            name=op.f("fk_cash_registers_cashier_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_cash_registers_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["stand_id"], ["stands.id"], name=op.f("fk_cash_registers_stand_id_stands")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cash_registers")),
        sa.UniqueConstraint("open_key", name=op.f("uq_cash_registers_open_key")),
    )
    op.create_index(
        op.f("ix_cash_registers_event_id"), "cash_registers", ["event_id"], unique=False
    )
    op.create_index(
        op.f("ix_cash_registers_stand_id"), "cash_registers", ["stand_id"], unique=False
    )
    op.create_table(
        "products",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("stand_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("vat_rate_bp", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=50), nullable=True),
        sa.Column("stock", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("deposit", sa.Boolean(), nullable=False),
        sa.Column("created_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("price_minor >= 0", name=op.f("ck_products_price_positive")),
        sa.CheckConstraint("stock IS NULL OR stock >= 0", name=op.f("ck_products_stock_positive")),
        sa.CheckConstraint(
            "vat_rate_bp >= 0 AND vat_rate_bp <= 10000", name=op.f("ck_products_vat_rate")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_products_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["stand_id"], ["stands.id"], name=op.f("fk_products_stand_id_stands")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    op.create_index(op.f("ix_products_event_id"), "products", ["event_id"], unique=False)
    op.create_index(op.f("ix_products_stand_id"), "products", ["stand_id"], unique=False)
    op.create_table(
        "stand_cashiers",
        sa.Column("stand_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("assigned_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["stand_id"],
            ["stands.id"],
            name=op.f("fk_stand_cashiers_stand_id_stands"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_stand_cashiers_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("stand_id", "user_id", name=op.f("pk_stand_cashiers")),
    )
    op.create_index(op.f("ix_stand_cashiers_user_id"), "stand_cashiers", ["user_id"], unique=False)
    op.create_table(
        "wallet_passes",
        sa.Column("wallet_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("issued_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("issued_by_id", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", admitone.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_id", sa.Uuid(), nullable=True),
        sa.Column("revoke_reason", sa.String(length=200), nullable=True),
        sa.Column("changed_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_wallet_passes_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["issued_by_id"],
            ["users.id"],
            name=op.f("fk_wallet_passes_issued_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"],
            ["users.id"],
            name=op.f("fk_wallet_passes_revoked_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["wallet_id"], ["wallets.id"], name=op.f("fk_wallet_passes_wallet_id_wallets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_passes")),
        sa.UniqueConstraint("event_id", "code", name=op.f("uq_wallet_passes_event_id_code")),
    )
    op.create_index(
        "ix_wallet_passes_event_id_changed_at",
        "wallet_passes",
        ["event_id", "changed_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_wallet_passes_wallet_id"), "wallet_passes", ["wallet_id"], unique=False
    )
    op.create_table(
        "journal_entries",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "topup",
                "sale",
                "reversal",
                "debt_payment",
                "register_close",
                "payout",
                "unclaimed",
                "write_off",
                name="entrykind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "origin",
            sa.Enum(
                "online",
                "offline",
                "provider",
                "organizer",
                name="entryorigin",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("shortfall_minor", sa.BigInteger(), nullable=False),
        sa.Column("flag", sa.String(length=30), nullable=True),
        sa.Column("wallet_id", sa.Uuid(), nullable=True),
        sa.Column("pass_id", sa.Uuid(), nullable=True),
        sa.Column("stand_id", sa.Uuid(), nullable=True),
        sa.Column("cash_register_id", sa.Uuid(), nullable=True),
        sa.Column("operator_id", sa.Uuid(), nullable=True),
        sa.Column("device_id", sa.Uuid(), nullable=True),
        sa.Column("device_seq", sa.BigInteger(), nullable=True),
        sa.Column("occurred_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reverses_entry_id", sa.Uuid(), nullable=True),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount_minor >= 0", name=op.f("ck_journal_entries_amount_positive")),
        sa.CheckConstraint(
            "shortfall_minor >= 0", name=op.f("ck_journal_entries_shortfall_positive")
        ),
        sa.ForeignKeyConstraint(
            ["cash_register_id"],
            ["cash_registers.id"],
            name=op.f("fk_journal_entries_cash_register_id_cash_registers"),
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["checkin_devices.id"],
            name=op.f("fk_journal_entries_device_id_checkin_devices"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_journal_entries_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["users.id"],
            name=op.f("fk_journal_entries_operator_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["pass_id"], ["wallet_passes.id"], name=op.f("fk_journal_entries_pass_id_wallet_passes")
        ),
        sa.ForeignKeyConstraint(
            ["reverses_entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_journal_entries_reverses_entry_id_journal_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["stand_id"], ["stands.id"], name=op.f("fk_journal_entries_stand_id_stands")
        ),
        sa.ForeignKeyConstraint(
            ["wallet_id"], ["wallets.id"], name=op.f("fk_journal_entries_wallet_id_wallets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entries")),
        sa.UniqueConstraint(
            "event_id", "idempotency_key", name=op.f("uq_journal_entries_event_id_idempotency_key")
        ),
        sa.UniqueConstraint("reverses_entry_id", name=op.f("uq_journal_entries_reverses_entry_id")),
    )
    op.create_index(
        "ix_journal_entries_device_id_device_seq",
        "journal_entries",
        ["device_id", "device_seq"],
        unique=False,
    )
    op.create_index(
        "ix_journal_entries_event_id_recorded_at",
        "journal_entries",
        ["event_id", "recorded_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_journal_entries_stand_id"), "journal_entries", ["stand_id"], unique=False
    )
    op.create_index(
        "ix_journal_entries_wallet_id_recorded_at",
        "journal_entries",
        ["wallet_id", "recorded_at"],
        unique=False,
    )
    op.create_table(
        "pos_devices",
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("stand_id", sa.Uuid(), nullable=False),
        sa.Column("sales_received", sa.BigInteger(), nullable=False),
        sa.Column("duplicates", sa.BigInteger(), nullable=False),
        sa.Column("refused", sa.BigInteger(), nullable=False),
        sa.Column("last_upload_at", admitone.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["checkin_devices.id"],
            name=op.f("fk_pos_devices_device_id_checkin_devices"),
        ),
        sa.ForeignKeyConstraint(
            ["stand_id"], ["stands.id"], name=op.f("fk_pos_devices_stand_id_stands")
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_pos_devices")),
    )
    op.create_index(op.f("ix_pos_devices_stand_id"), "pos_devices", ["stand_id"], unique=False)
    op.create_table(
        "ledger_accounts",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "wallet",
                "wallet_debt",
                "sales",
                "online_payments",
                "card_terminal",
                "cash_register",
                "cash_vault",
                "cash_imbalance",
                "bank_payouts",
                "fees",
                "unclaimed",
                "offline_loss",
                "provider_refunds",
                name="accountkind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("wallet_id", sa.Uuid(), nullable=True),
        sa.Column("stand_id", sa.Uuid(), nullable=True),
        sa.Column("cash_register_id", sa.Uuid(), nullable=True),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "kind <> 'wallet' OR balance_minor >= 0",
            name=op.f("ck_ledger_accounts_wallet_not_negative"),
        ),
        sa.CheckConstraint(
            "kind <> 'wallet_debt' OR balance_minor <= 0",
            name=op.f("ck_ledger_accounts_debt_not_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["cash_register_id"],
            ["cash_registers.id"],
            name=op.f("fk_ledger_accounts_cash_register_id_cash_registers"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_ledger_accounts_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["stand_id"], ["stands.id"], name=op.f("fk_ledger_accounts_stand_id_stands")
        ),
        sa.ForeignKeyConstraint(
            ["wallet_id"], ["wallets.id"], name=op.f("fk_ledger_accounts_wallet_id_wallets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("event_id", "key", name=op.f("uq_ledger_accounts_event_id_key")),
    )
    op.create_index(
        op.f("ix_ledger_accounts_cash_register_id"),
        "ledger_accounts",
        ["cash_register_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ledger_accounts_event_id"), "ledger_accounts", ["event_id"], unique=False
    )
    op.create_index(
        op.f("ix_ledger_accounts_stand_id"), "ledger_accounts", ["stand_id"], unique=False
    )
    op.create_index(
        op.f("ix_ledger_accounts_wallet_id"), "ledger_accounts", ["wallet_id"], unique=False
    )
    op.create_table(
        "ledger_transfers",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("source_account_id", sa.Uuid(), nullable=False),
        sa.Column("target_account_id", sa.Uuid(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_ledger_transfers_amount_positive")),
        sa.CheckConstraint(
            "source_account_id <> target_account_id", name=op.f("ck_ledger_transfers_two_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_ledger_transfers_entry_id_journal_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["source_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_transfers_source_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["target_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_transfers_target_account_id_ledger_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transfers")),
    )
    op.create_index(
        op.f("ix_ledger_transfers_entry_id"), "ledger_transfers", ["entry_id"], unique=False
    )
    op.create_index(
        op.f("ix_ledger_transfers_source_account_id"),
        "ledger_transfers",
        ["source_account_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ledger_transfers_target_account_id"),
        "ledger_transfers",
        ["target_account_id"],
        unique=False,
    )
    op.create_table(
        "sale_lines",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_minor", sa.BigInteger(), nullable=False),
        sa.Column("vat_rate_bp", sa.Integer(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("vat_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity <> 0", name=op.f("ck_sale_lines_quantity_not_zero")),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_sale_lines_entry_id_journal_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_sale_lines_product_id_products")
        ),
        sa.PrimaryKeyConstraint("entry_id", "line_no", name=op.f("pk_sale_lines")),
    )
    op.create_index("ix_sale_lines_product_id", "sale_lines", ["product_id"], unique=False)
    op.create_table(
        "wallet_topups",
        sa.Column("wallet_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum("online", "cash", "card", name="topupchannel", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "credited", "failed", name="topupstatus", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("requested_by_id", sa.Uuid(), nullable=True),
        sa.Column("entry_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("credited_at", admitone.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_wallet_topups_amount_positive")),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_wallet_topups_entry_id_journal_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_wallet_topups_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_wallet_topups_requested_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["wallet_id"], ["wallets.id"], name=op.f("fk_wallet_topups_wallet_id_wallets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_topups")),
    )
    op.create_index(op.f("ix_wallet_topups_event_id"), "wallet_topups", ["event_id"], unique=False)
    op.create_index(
        op.f("ix_wallet_topups_wallet_id"), "wallet_topups", ["wallet_id"], unique=False
    )

    op.create_table(
        "payout_exports",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("payouts", sa.Integer(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.Column("created_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_payout_exports_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_payout_exports_event_id_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_exports")),
    )
    op.create_index(
        op.f("ix_payout_exports_event_id"), "payout_exports", ["event_id"], unique=False
    )
    op.create_table(
        "wallet_payouts",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("wallet_id", sa.Uuid(), nullable=False),
        sa.Column("requested_by_id", sa.Uuid(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "exported",
                "completed",
                name="payoutstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("card_minor", sa.BigInteger(), nullable=False),
        sa.Column("bank_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("debt_settled_minor", sa.BigInteger(), nullable=False),
        sa.Column("card_refunds", sa.JSON(), nullable=False),
        sa.Column("account_holder", sa.String(length=70), nullable=True),
        sa.Column("iban", sa.String(length=34), nullable=True),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("export_id", sa.Uuid(), nullable=True),
        sa.Column("requested_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("exported_at", admitone.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "card_minor >= 0 AND bank_minor >= 0", name=op.f("ck_wallet_payouts_parts_positive")
        ),
        sa.CheckConstraint(
            "amount_minor = card_minor + bank_minor", name=op.f("ck_wallet_payouts_parts_add_up")
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_wallet_payouts_amount_positive")),
        sa.CheckConstraint(
            "bank_minor = 0 OR iban IS NOT NULL", name=op.f("ck_wallet_payouts_bank_has_iban")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_wallet_payouts_entry_id_journal_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_wallet_payouts_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["export_id"],
            ["payout_exports.id"],
            name=op.f("fk_wallet_payouts_export_id_payout_exports"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_wallet_payouts_requested_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["wallet_id"], ["wallets.id"], name=op.f("fk_wallet_payouts_wallet_id_wallets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_payouts")),
        sa.UniqueConstraint("wallet_id", name=op.f("uq_wallet_payouts_wallet_id")),
    )
    op.create_index(
        "ix_wallet_payouts_event_id_status", "wallet_payouts", ["event_id", "status"], unique=False
    )
    op.create_index(
        op.f("ix_wallet_payouts_export_id"), "wallet_payouts", ["export_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_wallet_payouts_export_id"), table_name="wallet_payouts")
    op.drop_index("ix_wallet_payouts_event_id_status", table_name="wallet_payouts")
    op.drop_table("wallet_payouts")
    op.drop_index(op.f("ix_payout_exports_event_id"), table_name="payout_exports")
    op.drop_table("payout_exports")
    op.drop_index(op.f("ix_pos_devices_stand_id"), table_name="pos_devices")
    op.drop_table("pos_devices")
    op.drop_index(op.f("ix_wallet_topups_wallet_id"), table_name="wallet_topups")
    op.drop_index(op.f("ix_wallet_topups_event_id"), table_name="wallet_topups")
    op.drop_table("wallet_topups")
    op.drop_index("ix_sale_lines_product_id", table_name="sale_lines")
    op.drop_table("sale_lines")
    op.drop_index(op.f("ix_ledger_transfers_target_account_id"), table_name="ledger_transfers")
    op.drop_index(op.f("ix_ledger_transfers_source_account_id"), table_name="ledger_transfers")
    op.drop_index(op.f("ix_ledger_transfers_entry_id"), table_name="ledger_transfers")
    op.drop_table("ledger_transfers")
    op.drop_index(op.f("ix_ledger_accounts_wallet_id"), table_name="ledger_accounts")
    op.drop_index(op.f("ix_ledger_accounts_stand_id"), table_name="ledger_accounts")
    op.drop_index(op.f("ix_ledger_accounts_event_id"), table_name="ledger_accounts")
    op.drop_index(op.f("ix_ledger_accounts_cash_register_id"), table_name="ledger_accounts")
    op.drop_table("ledger_accounts")
    op.drop_index("ix_journal_entries_wallet_id_recorded_at", table_name="journal_entries")
    op.drop_index(op.f("ix_journal_entries_stand_id"), table_name="journal_entries")
    op.drop_index("ix_journal_entries_event_id_recorded_at", table_name="journal_entries")
    op.drop_index("ix_journal_entries_device_id_device_seq", table_name="journal_entries")
    op.drop_table("journal_entries")
    op.drop_index(op.f("ix_wallet_passes_wallet_id"), table_name="wallet_passes")
    op.drop_index("ix_wallet_passes_event_id_changed_at", table_name="wallet_passes")
    op.drop_table("wallet_passes")
    op.drop_index(op.f("ix_stand_cashiers_user_id"), table_name="stand_cashiers")
    op.drop_table("stand_cashiers")
    op.drop_index(op.f("ix_products_stand_id"), table_name="products")
    op.drop_index(op.f("ix_products_event_id"), table_name="products")
    op.drop_table("products")
    op.drop_index(op.f("ix_cash_registers_stand_id"), table_name="cash_registers")
    op.drop_index(op.f("ix_cash_registers_event_id"), table_name="cash_registers")
    op.drop_table("cash_registers")
    op.drop_index(op.f("ix_wallets_user_id"), table_name="wallets")
    op.drop_index("ix_wallets_event_id_changed_at", table_name="wallets")
    op.drop_index(op.f("ix_wallets_event_id"), table_name="wallets")
    op.drop_table("wallets")
    op.drop_index(op.f("ix_stands_event_id"), table_name="stands")
    op.drop_table("stands")
    op.drop_table("cashless_settings")
