"""organizations: verified by the platform (mail to strangers, issue 13)

An organization's events mail buyers the organization does not know (a free order
with any e-mail address). Until the platform has verified the organization, its mail
carries no free text of its own in the subject and its free orders mail a bounded
number of strangers a day (docs/mail.md). Organizations that exist before this revision
were accepted by the operator under the old rules: they start verified.

Revision ID: 0008_organization_verification
Revises: 0006_identity_providers
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import admitone.db

revision: str = "0008_organization_verification"
down_revision: str | None = "0006_identity_providers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (no table rebuild on SQLite).
    op.add_column("organizations", sa.Column("verified_at", admitone.db.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE organizations SET verified_at = created_at")


def downgrade() -> None:
    # Not batch mode: rebuilding organizations on SQLite would break the foreign keys of
    # its events; SQLite 3.35+ drops a plain column in place.
    op.drop_column("organizations", "verified_at")
