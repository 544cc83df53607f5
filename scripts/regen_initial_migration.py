"""Regenerate migrations/versions/0001_initial.py from the models.

Only while nothing is released: the first migration is rebuilt from the current models
(later migrations, like 0002's search index, are hand-written and stay). After the first
release, changes get new revisions with `alembic revision --autogenerate` instead.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from alembic import command

from admitone.migrate import MIGRATIONS_DIR, alembic_config

TARGET = MIGRATIONS_DIR / "versions" / "0001_initial.py"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = alembic_config(f"sqlite:///{tmp}/empty.db")
        config.set_main_option("version_locations", tmp)
        command.revision(config, message="initial schema", autogenerate=True, rev_id="0001")
        generated = next(Path(tmp).glob("0001_*.py"))
        shutil.copy(generated, TARGET)
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
