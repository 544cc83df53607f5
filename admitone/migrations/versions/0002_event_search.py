"""event search: SQLite FTS5 table, PostgreSQL tsvector column

Hand-written, kept out of the models so that regenerating 0001 never drops it; the
queries that use it live in admitone/events/search.py.

SQLite: ``events_fts`` is an FTS5 external-content table over ``events`` keyed by the
events' rowid, with triggers that keep it in sync. A migration that rebuilds ``events``
(Alembic's batch mode on SQLite copies the table) drops those triggers and renumbers
rowids: downgrade this revision's objects before it and re-create them after (the
upgrade ends with a 'rebuild' of the index).

PostgreSQL: ``events.search_vector`` is a generated stored column with a GIN index,
'simple' configuration (events are in French and English; no stemming, no stop words).
Accented Latin letters are folded with translate() so that "theatre" finds "Théâtre",
as FTS5's remove_diacritics does. Operations note: adding a stored generated column
rewrites the events table once (fast at catalogue sizes; plan a window beyond ~1M rows).

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of admitone.events.search.ACCENTED / UNACCENTED (a test checks they match).
ACCENTED = "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯȰȱȲȳ"
UNACCENTED = "AAAAAACEEEEIIIINOOOOOUUUUYaaaaaaceeeeiiiinooooouuuuyyAaAaAaCcCcCcCcDdEeEeEeEeEeGgGgGgGgHhIiIiIiIiIJjKkLlLlLlNnNnNnOoOoOoRrRrRrSsSsSsSsTtTtUuUuUuUuUuUuWwYyYZzZzZzOoUuAaIiOoUuUuUuUuUuAaAaGgKkOoOojGgNnAaAaAaEeEeIiIiOoOoRrRrUuUuSsTtHhAaEeOoOoOoOoYy"

FTS_COLUMNS = "title, description, venue_name, city"

SQLITE_UPGRADE = [
    f"""
    CREATE VIRTUAL TABLE events_fts USING fts5(
        {FTS_COLUMNS},
        content='events', content_rowid='rowid',
        tokenize='unicode61 remove_diacritics 2', prefix='2 3'
    )
    """,
    f"""
    CREATE TRIGGER events_fts_after_insert AFTER INSERT ON events BEGIN
        INSERT INTO events_fts(rowid, {FTS_COLUMNS})
        VALUES (new.rowid, new.title, new.description, new.venue_name, new.city);
    END
    """,
    f"""
    CREATE TRIGGER events_fts_after_delete AFTER DELETE ON events BEGIN
        INSERT INTO events_fts(events_fts, rowid, {FTS_COLUMNS})
        VALUES ('delete', old.rowid, old.title, old.description, old.venue_name, old.city);
    END
    """,
    f"""
    CREATE TRIGGER events_fts_after_update
    AFTER UPDATE OF {FTS_COLUMNS} ON events BEGIN
        INSERT INTO events_fts(events_fts, rowid, {FTS_COLUMNS})
        VALUES ('delete', old.rowid, old.title, old.description, old.venue_name, old.city);
        INSERT INTO events_fts(rowid, {FTS_COLUMNS})
        VALUES (new.rowid, new.title, new.description, new.venue_name, new.city);
    END
    """,
    # Index the events that exist already.
    "INSERT INTO events_fts(events_fts) VALUES ('rebuild')",
]

SQLITE_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS events_fts_after_update",
    "DROP TRIGGER IF EXISTS events_fts_after_delete",
    "DROP TRIGGER IF EXISTS events_fts_after_insert",
    "DROP TABLE IF EXISTS events_fts",
]


def _fold(column: str) -> str:
    return f"translate(coalesce({column}, ''), '{ACCENTED}', '{UNACCENTED}')"


POSTGRESQL_UPGRADE = [
    f"""
    ALTER TABLE events ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        to_tsvector('simple'::regconfig,
            {_fold("title")} || ' ' || {_fold("venue_name")} || ' '
            || {_fold("city")} || ' ' || {_fold("description")})
    ) STORED
    """,
    "CREATE INDEX ix_events_search_vector ON events USING gin (search_vector)",
]

POSTGRESQL_DOWNGRADE = [
    "DROP INDEX IF EXISTS ix_events_search_vector",
    "ALTER TABLE events DROP COLUMN IF EXISTS search_vector",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_UPGRADE)
    elif dialect == "postgresql":
        _run(POSTGRESQL_UPGRADE)
    else:
        raise NotImplementedError(f"no event search for {dialect}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_DOWNGRADE)
    elif dialect == "postgresql":
        _run(POSTGRESQL_DOWNGRADE)
