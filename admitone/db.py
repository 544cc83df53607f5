"""Database engine, sessions and the declarative base.

One unit of work per request or job: ``Database.session()`` commits when the block ends
normally and rolls back on any exception. Services only ``flush()``.

SQLite: pysqlite delays BEGIN until the first write, so two transactions can both read
"20 seats left" and then both write. Write sessions therefore start with
``BEGIN IMMEDIATE`` (SQLAlchemy's documented recipe), which takes SQLite's single write
lock up front; read sessions start a plain deferred ``BEGIN``. See docs/locking.md.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import (
    DateTime,
    Insert,
    MetaData,
    Select,
    Table,
    TypeDecorator,
    Uuid,
    create_engine,
    event,
    insert,
    inspect,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Mapper,
    Session,
    make_transient_to_detached,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.orm.attributes import instance_dict, set_committed_value
from sqlalchemy.sql import ClauseElement

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


# --- rows written by one statement -----------------------------------------------------


def insert_once(session: Session, model: type[Base], values: dict[str, Any]) -> bool:
    """INSERT a row unless its unique key exists already; True when this call inserted it.

    ``INSERT ... ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite): on PostgreSQL an insert
    racing an uncommitted one with the same key waits for it, then does nothing if it
    committed. Used for the payment-notification inbox, idempotency keys, delivery
    markers and the scans' nonces.
    """
    session.flush()  # a Core statement does not autoflush the ORM objects it may refer to
    statement = _insert_once_statement(session.get_bind().dialect.name, model.__table__)
    return execute_direct(session, statement, values).first() is not None


@functools.cache
def _insert_once_statement(dialect_name: str, table: Table) -> Insert:
    # Built once per table: payment notifications arrive on every paid order.
    insert = postgresql_insert if dialect_name == "postgresql" else sqlite_insert
    # A returned row, not the row count: some drivers report none for this statement.
    return insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)


ModelT = TypeVar("ModelT", bound=Base)


def as_loaded(session: Session, model: type[ModelT], values: Mapping[str, Any]) -> ModelT:
    """A row that a statement wrote and returned (``UPDATE ... RETURNING``, keyed by
    attribute), as if ``session`` had loaded it: persistent, unchanged, in the identity
    map. An instance already there takes the returned values, as a refresh would.

    So a guarded transition and the read of its row are one round trip, not two.
    """
    mapper = inspect(model)
    identity = mapper.identity_key_from_primary_key(
        [values[mapper.get_property_by_column(column).key] for column in mapper.primary_key]
    )
    existing = session.identity_map.get(identity)
    if existing is not None:
        for key, value in values.items():
            set_committed_value(existing, key, value)
        return cast(ModelT, existing)
    instance = mapper.class_manager.new_instance()
    # Straight into the instance's dict, then reset "as though freshly loaded" (see
    # load_direct): no change event per attribute.
    instance_dict(instance).update(values)
    make_transient_to_detached(instance)
    session.add(instance)
    return cast(ModelT, instance)


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
# 15 % of its scans (docs/ARCHITECTURE.md, "Performance"). So only a connection that sat
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


def insert_new(session: Session, instances: Iterable[Base]) -> None:
    """INSERT new ORM objects with one Core statement per table, outside the unit of work.

    For the buying path's few fresh rows (an order and its items, a payment, tickets),
    the session's flush bookkeeping costs more than the INSERT (docs/ARCHITECTURE.md,
    "Performance"). Python-side column defaults are filled in on the objects first, so
    they read as inserted; the objects stay out of the session (nothing tracks later
    changes to them), which suits rows written once and then only answered.
    """
    session.flush()  # pending ORM rows this insert may refer to go first
    rows_by_table: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
    for instance in instances:
        table, columns = _insertable_columns(type(instance))
        row: dict[str, Any] = {}
        for attribute_key, column_key, default, server_default in columns:
            value = getattr(instance, attribute_key)
            if value is None and default is not None:
                value = default.arg(None) if default.is_callable else default.arg
                setattr(instance, attribute_key, value)
            if value is None and server_default:
                continue  # the database fills it in
            row[column_key] = value
        rows_by_table.setdefault((table, tuple(row)), []).append(row)
    for (table, _keys), rows in rows_by_table.items():
        execute_direct(session, _insert_into(table), rows)


@functools.cache
def _insertable_columns(model: type) -> tuple[Table, tuple[tuple[str, str, Any, bool], ...]]:
    """A model's table and, per column: attribute, column key, Python default (callable
    or scalar, else None) and whether the database has a default. Read once per model."""
    mapper = inspect(model)
    columns = []
    for attribute in mapper.column_attrs:
        column = attribute.columns[0]
        default = column.default
        if default is not None and not (default.is_callable or default.is_scalar):
            default = None
        columns.append((attribute.key, column.key, default, column.server_default is not None))
    return mapper.local_table, tuple(columns)


@functools.cache
def _insert_into(table: Table) -> Insert:
    return insert(table)  # built once per table; its compiled forms are cached by key set


# --- direct execution ------------------------------------------------------------------
#
# The hot path's statements (buying, paying, scanning) are SQLAlchemy Core statements,
# built once. Executed through SQLAlchemy, each costs about 110 us of CPU around the
# driver's own 15 us (an execution context, a cursor result, the driver's column
# descriptions), as much as the round trip itself (docs/ARCHITECTURE.md, "Performance").
# ``execute_direct`` compiles such a statement once per dialect and runs it on the
# driver's connection inside the session's transaction, with SQLAlchemy's own type
# processors for the parameters and the rows, so the values in and out are the same as
# through ``session.execute``.


@dataclass(frozen=True, slots=True)
class _Prepared:
    sql: str
    positional: tuple[str, ...] | None  # parameter names in order (qmark dialects)
    bound_values: dict[str, Any]  # values written in the statement (literals, defaults)
    defaults: tuple[tuple[str, Callable[[], Any]], ...]  # columns filled in by Python
    bind_processors: tuple[tuple[str, Callable[[Any], Any]], ...]
    row_type: type[tuple[Any, ...]] | None  # a named tuple of the returned columns
    result_processors: tuple[Callable[[Any], Any] | None, ...]


_NO_PARAMETERS: Mapping[str, Any] = {}


class DirectResult:
    """What ``execute_direct`` answers: the rows (named tuples) and the row count."""

    __slots__ = ("rowcount", "rows")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount

    def all(self) -> list[Any]:
        return self.rows

    def first(self) -> Any | None:
        return self.rows[0] if self.rows else None

    def scalar(self) -> Any | None:
        return self.rows[0][0] if self.rows else None


def execute_direct(
    session: Session,
    statement: ClauseElement,
    parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] = _NO_PARAMETERS,
) -> DirectResult:
    """Run a Core statement (built once, at import) on the session's connection.

    ``parameters`` is one mapping, or several for an INSERT of several rows. Rows come
    back as named tuples, processed as SQLAlchemy would (UUIDs, UTC datetimes, enums).
    Errors are SQLAlchemy's (``OperationalError``, ``IntegrityError``), as the error
    handlers expect. No ORM: nothing is flushed first, nothing is loaded into the session.
    """
    connection, cursor = _cursor_of(session)
    dialect = connection.dialect
    given = [parameters] if isinstance(parameters, Mapping) else list(parameters)
    # An INSERT names its columns after the parameters, as SQLAlchemy does (those of the
    # first row: the rows of one call have the same keys).
    column_keys = tuple(given[0]) if isinstance(statement, Insert) else None
    prepared = _prepare(statement, dialect, column_keys)
    bound = [_bind(prepared, values) for values in given]
    try:
        if len(bound) == 1:
            cursor.execute(prepared.sql, bound[0])
        else:
            cursor.executemany(prepared.sql, bound)
        rows = cursor.fetchall() if prepared.row_type is not None else []
        rowcount = cursor.rowcount
    except dialect.loaded_dbapi.Error as exc:
        _raise_from_driver(connection, exc, prepared.sql, bound, cursor)
    if rows:
        rows = _processed_rows(prepared, rows)
    return DirectResult(rows, rowcount)


_DIRECT_CONNECTION = "admitone.direct_connection"  # the session.info key


def _cursor_of(session: Session) -> tuple[Connection, Any]:
    """``session.connection()`` and a driver cursor on it, remembered for the session's
    transaction: the session hands out the same connection until the transaction ends
    (asking costs about 30 us), and a cursor serves one statement after another."""
    transaction = session.get_transaction()
    remembered = session.info.get(_DIRECT_CONNECTION)
    if (
        remembered is not None
        and transaction is not None
        and remembered[0] is transaction
        and transaction.is_active
    ):
        return remembered[1], remembered[2]
    connection = session.connection()
    cursor = connection.connection.driver_connection.cursor()
    session.info[_DIRECT_CONNECTION] = (session.get_transaction(), connection, cursor)
    return connection, cursor


def _bind(prepared: _Prepared, parameters: Mapping[str, Any]) -> Any:
    values = {**prepared.bound_values, **parameters}
    for name, default in prepared.defaults:
        if values.get(name) is None:
            values[name] = default()
    for name, process in prepared.bind_processors:
        values[name] = process(values[name])
    if prepared.positional is None:
        return values
    return tuple(values[name] for name in prepared.positional)


def load_direct(
    session: Session, statement: Select[Any], parameters: Mapping[str, Any] = _NO_PARAMETERS
) -> list[tuple[Any, ...]]:
    """``session.execute(statement, parameters).all()`` for an ORM select of entities and
    columns (built once), run with ``execute_direct``.

    Each entity is made from its columns in the row and joins the session as if loaded
    (persistent, unchanged, in the identity map: an instance already there is kept, as
    a load would); an outer-joined entity that is absent is None. The ORM's loading
    costs more than the query on the hot path (docs/ARCHITECTURE.md, "Performance").
    """
    session.flush()  # as session.execute autoflushes
    plan = _entity_plan(statement)
    rows = execute_direct(session, plan.columns, parameters).rows
    return [
        plan.row_type._make(
            row[first] if entity is None else _adopt(session, entity, row, first)
            for entity, first in plan.layout
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class _EntityPlan:
    columns: Select[Any]  # the statement with each entity spread into its columns
    row_type: type[tuple[Any, ...]]  # named after the elements, as ORM rows are
    # Per element: (its entity or None for a column, index of its first column).
    layout: tuple[tuple[_Entity | None, int], ...]


@dataclass(frozen=True, slots=True)
class _Entity:
    mapper: Mapper[Any]
    keys: tuple[str, ...]  # the attributes of its columns, in the row's order
    primary_key: tuple[int, ...]  # where its primary key is among them


_ENTITY_PLANS: dict[tuple[Any, ...], tuple[Any, Any]] = {}


def _entity_plan(statement: Select[Any]) -> _EntityPlan:
    return _built_once(_ENTITY_PLANS, (id(statement),), statement, _plan_entities)


def _plan_entities(statement: Select[Any]) -> _EntityPlan:
    columns: list[Any] = []
    layout = []
    for position, description in enumerate(statement.column_descriptions):
        expression, entity = description["expr"], description["entity"]
        if expression is entity:  # a whole entity
            mapper = inspect(entity)
            keys = tuple(attribute.key for attribute in mapper.column_attrs)
            primary_key = tuple(
                keys.index(mapper.get_property_by_column(column).key)
                for column in mapper.primary_key
            )
            layout.append((_Entity(mapper, keys, primary_key), len(columns)))
            columns.extend(
                attribute.columns[0].label(f"e{position}_{attribute.key}")
                for attribute in mapper.column_attrs
            )
        else:
            layout.append((None, len(columns)))
            columns.append(expression.label(f"c{position}"))
    names = [description["name"] for description in statement.column_descriptions]
    return _EntityPlan(
        columns=statement.with_only_columns(*columns),
        row_type=namedtuple("Row", names, rename=True),
        layout=tuple(layout),
    )


def _adopt(session: Session, entity: _Entity, row: tuple[Any, ...], first: int) -> Any:
    columns = row[first : first + len(entity.keys)]
    primary_key = [columns[index] for index in entity.primary_key]
    if all(value is None for value in primary_key):
        return None  # an outer join found nothing
    mapper = entity.mapper
    identity = mapper.identity_key_from_primary_key(primary_key)
    existing = session.identity_map.get(identity)
    if existing is not None:
        return existing
    instance = mapper.class_manager.new_instance()
    # Straight into the instance's dict, then make_transient_to_detached resets the
    # history "as though freshly loaded from a query" (its documentation): no change
    # event per attribute.
    instance_dict(instance).update(zip(entity.keys, columns, strict=True))
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


def _processed_rows(prepared: _Prepared, rows: list[Any]) -> list[Any]:
    row_type = prepared.row_type
    processors = prepared.result_processors
    assert row_type is not None
    if not any(processors):
        return [row_type._make(row) for row in rows]
    return [
        row_type._make(
            value if process is None else process(value)
            for process, value in zip(processors, row, strict=True)
        )
        for row in rows
    ]


def _raise_from_driver(
    connection: Connection, exc: Exception, sql: str, parameters: Any, cursor: Any
) -> None:
    dialect = connection.dialect
    lost = dialect.is_disconnect(exc, connection.connection.dbapi_connection, cursor)
    if lost:
        # The pool must not hand this connection out again.
        connection.invalidate(exc)
    raise DBAPIError.instance(
        sql,
        parameters,
        exc,
        dialect.loaded_dbapi.Error,
        connection_invalidated=lost,  # a retryable 503, as from SQLAlchemy (error_handlers.py)
        dialect=dialect,
    ) from exc


_PREPARED: dict[tuple[Any, ...], tuple[Any, Any]] = {}
# Statements are meant to be built once; this bounds the caches if some are not.
_CACHE_MAX = 1000


def _prepare(
    statement: ClauseElement, dialect: Dialect, column_keys: tuple[str, ...] | None
) -> _Prepared:
    return _built_once(
        _PREPARED,
        (id(statement), dialect.name, column_keys),
        statement,
        lambda statement: _compile(statement, dialect, column_keys),
    )


def _built_once(
    cache: dict[tuple[Any, ...], tuple[Any, Any]],
    key: tuple[Any, ...],
    statement: Any,
    build: Callable[[Any], Any],
) -> Any:
    """What ``build`` makes of ``statement``, made once per key. The key holds the
    statement's id, and the entry the statement itself, so that id is never reused by
    another statement while cached."""
    found = cache.get(key)
    if found is not None and found[0] is statement:
        return found[1]
    made = build(statement)
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[key] = (statement, made)
    return made


def _compile(
    statement: ClauseElement, dialect: Dialect, column_keys: tuple[str, ...] | None
) -> _Prepared:
    compiled = statement.compile(
        dialect=dialect, column_keys=list(column_keys) if column_keys is not None else None
    )
    if any(bind.expanding for bind in compiled.bind_names):
        raise TypeError("execute_direct: expanding IN parameters are not supported")
    if getattr(compiled, "escaped_bind_names", None):
        raise TypeError("execute_direct: use plain parameter names")
    defaults = []
    for column in [*compiled.insert_prefetch, *compiled.update_prefetch]:
        default = column.default if column in compiled.insert_prefetch else column.onupdate
        if default is None or not (default.is_callable or default.is_scalar):
            raise TypeError(f"execute_direct: no Python default for {column}")
        value = default.arg
        defaults.append(
            (
                column.key,
                functools.partial(value, None) if default.is_callable else lambda v=value: v,
            )
        )
    binds = {name: bind for bind, name in compiled.bind_names.items()}
    bound_values = {
        name: bind.effective_value
        for name, bind in binds.items()
        if not bind.required and (bind.value is not None or bind.callable is not None)
    }
    bind_processors = []
    for name, bind in binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            bind_processors.append((name, process))
    row_type = None
    result_processors: tuple[Callable[[Any], Any] | None, ...] = ()
    columns = _returned_columns(statement)
    if columns:
        names = [name for name, _type in columns]
        row_type = namedtuple("Row", names)
        result_processors = tuple(
            type_.dialect_impl(dialect).result_processor(dialect, None) for _n, type_ in columns
        )
    return _Prepared(
        sql=compiled.string,
        positional=tuple(compiled.positiontup) if dialect.positional else None,
        bound_values=bound_values,
        defaults=tuple(defaults),
        bind_processors=tuple(bind_processors),
        row_type=row_type,
        result_processors=result_processors,
    )


def _returned_columns(statement: ClauseElement) -> list[tuple[str, Any]]:
    """(name, type) of each column a SELECT or a DML ... RETURNING answers."""
    return [(key, column.type) for key, column in statement.exported_columns.items()]
