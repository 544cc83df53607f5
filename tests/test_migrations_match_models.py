"""The migrations build exactly the tables the models describe, on the backend under test
(several revisions were written side by side: a column or index missing from one of them
would only show in production)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from admitone.db import Database
from admitone.migrate import upgrade_database
from admitone.models import Base


def _differences(url: str) -> list[object]:
    database = Database(url, pool_size=1)
    try:
        with database.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": False}
            )
            found = compare_metadata(context, Base.metadata)
    finally:
        database.dispose()

    def ours(difference: object) -> bool:
        # The search index is hand-made and kept out of the models (migration 0002).
        return "events_fts" not in repr(difference) and "search_vector" not in repr(difference)

    return [difference for difference in found if ours(difference)]


def test_head_matches_the_models(fresh_url: str) -> None:
    upgrade_database(fresh_url, "head")
    assert _differences(fresh_url) == []
