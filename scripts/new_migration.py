"""Draft a new Alembic revision: what the models have that the migrations do not build.

    .venv/bin/python scripts/new_migration.py 0009_payment_purpose "payments: what a payment pays for"

Migrates a scratch SQLite database to the current head, compares it with the models and
writes admitone/migrations/versions/<revision id>.py, chained after the head. It is a
draft: read every line, write the data steps (backfills) and the docstring, and follow
docs/migrations.md. Migration 0001 is frozen; this never touches it.
"""

from __future__ import annotations

import sys
import tempfile

from alembic import command

from admitone.migrate import alembic_config, upgrade_database


def main(revision_id: str, message: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/head.db"
        upgrade_database(url, "head")
        config = alembic_config(url)
        # The file is named after the revision id alone: 0009_payment_purpose.py.
        config.set_main_option("file_template", "%%(rev)s")
        script = command.revision(config, message=message, autogenerate=True, rev_id=revision_id)
    path = script.path if script is not None and not isinstance(script, list) else "?"
    print(f"wrote {path}: a draft, read it before committing (docs/migrations.md)")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
