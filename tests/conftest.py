"""Test fixtures: a real database (SQLite or PostgreSQL), a fresh app per test.

``ADMITONE_TEST_DATABASE=postgresql`` runs the suite on PostgreSQL (a database of its
own per test process, created and dropped here); the default is a SQLite file. Both are
migrated with Alembic, so every run also checks the migrations. Each test starts on
empty tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from admitone.app import create_app
from admitone.config import Settings
from admitone.db import Database
from admitone.migrate import upgrade_database
from admitone.models import Base

BACKEND = os.environ.get("ADMITONE_TEST_DATABASE", "sqlite")
POSTGRES_SERVER = os.environ.get(
    "ADMITONE_TEST_POSTGRES_SERVER", "postgresql://postgres@127.0.0.1:5432"
)


def pytest_report_header() -> str:
    return f"admitone database backend: {BACKEND}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if BACKEND == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'admitone-test.db'}"
        upgrade_database(url)
        yield url
        return
    if BACKEND != "postgresql":
        raise pytest.UsageError(
            f"ADMITONE_TEST_DATABASE must be sqlite or postgresql, not {BACKEND!r}"
        )
    name = f"admitone_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://{POSTGRES_SERVER.split('://', 1)[1]}/{name}"
    upgrade_database(url)
    yield url
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the backend under test, apart from the shared one (for the
    migration tests)."""
    if BACKEND == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    name = f"admitone_migration_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://{POSTGRES_SERVER.split('://', 1)[1]}/{name}"
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url, pool_size=20)
    yield database
    database.dispose()


def _empty_tables(database: Database) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as connection:
        if database.is_sqlite:
            for table in tables:
                connection.execute(text(f'DELETE FROM "{table}"'))
        else:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def make_settings(database_url: str, media_dir: Path) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "env": "test",
            "database_url": database_url,
            "media_dir": media_dir,
            "log_json": True,
            "migrate_on_start": False,
            "log_level": "WARNING",
            # Each test's own counters, also when a test sets ADMITONE_REDIS_URL (the
            # limits would otherwise follow it into the Redis shared by every run).
            "rate_limit_storage_url": "memory://",
            "rate_limit_login": "1000/minute",
            "rate_limit_register": "1000/minute",
            "rate_limit_refresh": "1000/minute",
            "rate_limit_account_mail": "1000/minute",
            "rate_limit_account_token": "1000/minute",
            "rate_limit_payment": "1000/minute",
            "rate_limit_order": "1000/minute",
            "rate_limit_second_factor": "1000/minute",
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def clean_database(database: Database) -> Iterator[Database]:
    _empty_tables(database)
    yield database
    _empty_tables(database)


@pytest.fixture
def make_app(
    clean_database: Database, make_settings: Callable[..., Settings]
) -> Callable[..., FastAPI]:
    def make(**overrides: object) -> FastAPI:
        return create_app(make_settings(**overrides), database=clean_database)

    return make


@pytest.fixture
def app(make_app: Callable[..., FastAPI]) -> FastAPI:
    return make_app()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # raise_server_exceptions=False: a bug must show up as the 500 a client would see.
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def session(clean_database: Database) -> Iterator[Session]:
    """A unit of work for service-level tests (committed at the end of the test)."""
    with clean_database.session() as session:
        yield session
