"""identity links: sign in with an OpenID Connect provider

One table, ``identity_links``: a provider's subject (provider, sub) bound to an account,
unique per (provider, subject). New and empty: nothing is rewritten.

Revision ID: 0006_identity_providers
Revises: 0005_two_factor
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import admitone.db

revision: str = "0006_identity_providers"
# 0002_event_search.py's revision id is "0002" (the lead re-chains the revisions at merge).
down_revision: str | None = "0005_two_factor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_links",
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("email_at_link", sa.String(length=320), nullable=False),
        sa.Column("created_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_identity_links_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_links")),
        sa.UniqueConstraint(
            "provider", "subject", name=op.f("uq_identity_links_provider_subject")
        ),
    )
    with op.batch_alter_table("identity_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_links_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_links_user_id"))
    op.drop_table("identity_links")
