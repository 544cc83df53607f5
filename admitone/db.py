"""Database engine, sessions and the declarative base.

One unit of work per request or job: ``Database.session()`` commits when the block ends
normally and rolls back on any exception. Services only ``flush()``.

SQLite: pysqlite delays BEGIN until the first write, so two transactions can both read
"20 seats left" and then both write. Write sessions therefore start with
``BEGIN IMMEDIATE`` (SQLAlchemy's documented recipe), which takes SQLite's single write
lock up front; read sessions start a plain deferred ``BEGIN``. See docs/locking.md.

The hot path's statements run on the driver's cursor instead: ``db_direct.py``.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import DateTime, MetaData, Table, TypeDecorator, Uuid, create_engine, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from admitone.db_direct import DirectStatement, execute_direct
from admitone.errors import DomainError

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# SQLite has one writer at a time: a burst of writes queues on its lock. A laptop install
# under a rush should wait rather than answer 503 BUSY.
SQLITE_BUSY_TIMEOUT = 15


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (naive storage) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), uuid.UUID: Uuid()}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- rows written once ----------------------------------------------------------------


def insert_once(session: Session, model: type[Base], values: dict[str, Any]) -> bool:
    """INSERT a row unless its unique key exists already; True when this call inserted it.

    ``INSERT ... ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite): on PostgreSQL an insert
    racing an uncommitted one with the same key waits for it, then does nothing if it
    committed. Used for the payment-notification inbox, idempotency keys, delivery
    markers and the scans' nonces.
    """
    session.flush()  # a Core statement does not autoflush the ORM objects it may refer to
    statement = _insert_once_statement(
        session.get_bind().dialect.name, model.__table__, tuple(values)
    )
    return execute_direct(session, statement, values).first() is not None


def insert_returning(
    session: Session, model: type, rows: list[dict[str, Any]], *returning: Any
) -> set[tuple[Any, ...]]:
    """INSERT the rows ... ON CONFLICT DO NOTHING, in the order given; the ``returning``
    columns of the rows inserted (a row whose key was taken inserts nothing).

    One statement with the rows as parameters (SQLAlchemy's "insertmanyvalues": a few
    multi-row INSERTs, compiled once), not ``.values(rows)``, which compiles a new
    statement with a parameter per cell for each batch (0.6 s for 500 scans)."""
    table = cast(Table, model.__table__)  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    dialect_insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = dialect_insert(table).on_conflict_do_nothing().returning(*returning)
    return {tuple(row) for row in session.execute(statement, rows)}


@functools.cache
def _insert_once_statement(
    dialect_name: str, table: Table, columns: tuple[str, ...]
) -> DirectStatement:
    # Declared once per table and columns given: payment notifications arrive on every
    # paid order. Each database has its own ON CONFLICT construct.
    insert = postgresql_insert if dialect_name == "postgresql" else sqlite_insert
    # A returned row, not the row count: some drivers report none for this statement.
    return DirectStatement(
        insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns),
        columns=columns,
        dialects=(dialect_name,),
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, emit BEGIN (see module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("sqlite_begin_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def build_engine(url: str, *, pool_size: int = 10) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT},
            pool_size=pool_size,
        )
        _configure_sqlite(engine)
        return engine
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=10,
        # The most recently returned connection first: under a light load the same few
        # stay in use (warm), and the rest idle out to the idle-ping below.
        pool_use_lifo=True,
        # A row lock that waits longer than this becomes a retryable Busy error.
        connect_args={"options": "-c lock_timeout=5000"},
    )
    _ping_idle_connections(engine)
    return engine


# A connection handed back by a unit of work that just committed is alive; pinging every
# checkout (pool_pre_ping) costs a round trip per request: 6 % of a flash sale's orders,
# 15 % of its scans (docs/performance-log.md). So only a connection that sat
# idle longer than this is pinged; one that died in between fails its request with a
# retryable 503 (error_handlers.py) and the pool replaces it.
PING_AFTER_IDLE_SECONDS = 5.0


def _ping_idle_connections(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in_at = record.info.get("checked_in_at")
        if checked_in_at is None or time.monotonic() - checked_in_at < PING_AFTER_IDLE_SECONDS:
            return  # new (just connected) or recently used
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool discards this connection and checks out a fresh one.
            raise DisconnectionError("idle connection is gone") from exc


class Database:
    """An engine with a read and a write session factory."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = build_engine(url, pool_size=pool_size)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        write_engine = self.engine.execution_options(sqlite_begin_immediate=True)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(write_engine, expire_on_commit=False)

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on error.

        A DomainError raised with ``keep_changes`` (for instance a refresh-token replay,
        which must revoke the token family) still commits what was flushed before it.
        """
        session = (self._write if write else self._read)()
        try:
            yield session
            session.commit()
        except DomainError as exc:
            if exc.keep_changes:
                session.commit()
            else:
                session.rollback()
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
