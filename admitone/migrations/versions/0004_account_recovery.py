"""account recovery: password-reset and e-mail-verification tokens, verified addresses,
the user agent and last use of each login

Existing accounts are marked verified: they predate the rule that an organization needs
a verified address. Operations note: the users and auth_sessions ALTERs add nullable
columns (no table rewrite on either database).

Revision ID: 0004_account_recovery
Revises: 0003_hold_limits
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import admitone.db

revision: str = "0004_account_recovery"
down_revision: str | None = "0003_hold_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs (no table rebuild on SQLite, which would break foreign keys).
    op.add_column(
        "users",
        sa.Column("email_verified_at", admitone.db.UTCDateTime(timezone=True), nullable=True),
    )
    # Accounts made before verification existed keep what they could do.
    op.execute("UPDATE users SET email_verified_at = created_at")

    op.add_column("auth_sessions", sa.Column("user_agent", sa.String(length=300), nullable=True))
    op.add_column(
        "auth_sessions",
        sa.Column("last_used_at", admitone.db.UTCDateTime(timezone=True), nullable=True),
    )

    op.create_table(
        "account_tokens",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "password_reset",
                "email_verification",
                name="accounttokenpurpose",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", admitone.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_account_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_tokens_token_hash")),
    )
    op.create_index(
        "ix_account_tokens_user_purpose_created",
        "account_tokens",
        ["user_id", "purpose", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_account_tokens_user_purpose_created", table_name="account_tokens")
    op.drop_table("account_tokens")
    # Columns dropped in place (SQLite 3.35+): a batch rebuild of users or auth_sessions
    # would break the foreign keys that point at them.
    op.drop_column("auth_sessions", "last_used_at")
    op.drop_column("auth_sessions", "user_agent")
    op.drop_column("users", "email_verified_at")
