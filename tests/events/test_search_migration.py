"""Migration 0002 (the search index): upgrades, downgrades and upgrades again cleanly."""

from __future__ import annotations

import importlib.util
from datetime import timedelta

from sqlalchemy import inspect, select

from admitone.db import Database, utcnow
from admitone.events import search
from admitone.events.models import Category, Event
from admitone.migrate import MIGRATIONS_DIR, downgrade_database, upgrade_database
from admitone.organizations.models import Organization


def _search_objects(database: Database) -> set[str]:
    inspector = inspect(database.engine)
    if database.is_sqlite:
        return {name for name in inspector.get_table_names() if name.startswith("events_fts")}
    return {c["name"] for c in inspector.get_columns("events") if c["name"] == "search_vector"}


def _matching_titles(database: Database, query: str) -> list[str]:
    terms = search.search_terms(query)
    dialect = database.engine.dialect.name
    with database.session(write=False) as session:
        return list(session.scalars(select(Event.title).where(search.match_events(dialect, terms))))


def test_upgrade_downgrade_upgrade(fresh_url):
    upgrade_database(fresh_url, "head")
    database = Database(fresh_url, pool_size=1)
    try:
        assert _search_objects(database)
        with database.session() as session:
            organization = Organization(name="Org", slug="org")
            session.add(organization)
            session.flush()
            starts_at = utcnow() + timedelta(days=3)
            session.add(
                Event(
                    organization_id=organization.id,
                    slug="opera-night",
                    title="Soirée à l'Opéra",
                    description="Verdi",
                    category=Category.concert,
                    venue_name="Opéra Garnier",
                    city="Paris",
                    country="FR",
                    timezone="Europe/Paris",
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(hours=3),
                    currency="EUR",
                )
            )
        assert _matching_titles(database, "opera verdi") == ["Soirée à l'Opéra"]

        database.engine.dispose()
        downgrade_database(fresh_url, "0001")
        assert _search_objects(database) == set()
        with database.session(write=False) as session:
            assert session.scalar(select(Event.slug)) == "opera-night"

        database.engine.dispose()
        upgrade_database(fresh_url, "head")
        # Rows that existed before the upgrade are indexed too.
        assert _matching_titles(database, "garnier") == ["Soirée à l'Opéra"]
        assert _matching_titles(database, "soiree") == ["Soirée à l'Opéra"]
    finally:
        database.dispose()


def test_migration_folds_accents_like_the_query_side():
    path = MIGRATIONS_DIR / "versions" / "0002_event_search.py"
    spec = importlib.util.spec_from_file_location("migration_0002", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.ACCENTED == search.ACCENTED
    assert module.UNACCENTED == search.UNACCENTED
    assert len(search.ACCENTED) == len(search.UNACCENTED) > 200
