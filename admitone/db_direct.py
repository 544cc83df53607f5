"""The hot path's direct execution: declared statements run on the driver's cursor.

The buying, paying and scanning statements are SQLAlchemy Core statements, built once.
Executed through SQLAlchemy, each costs about 110 us of CPU around the driver's own
15 us (an execution context, a cursor result, the driver's column descriptions), as
much as the round trip itself (docs/hot-path.md). Here a statement is compiled once per
dialect and run on the driver's connection inside the session's transaction, with
SQLAlchemy's own type processors for the parameters and the rows, so the values in and
out are the same as through ``session.execute``.

Only for the hot routes (docs/hot-path.md lists them and the rules); everything else,
and every new domain, uses the ordinary ORM session.

- ``DirectStatement(statement)`` declares a Core statement, as a module constant. The
  declaration compiles it for SQLite and PostgreSQL and refuses, there and then, what
  the direct path cannot run: an ``IN`` list (expanding parameter), a parameter of
  unknown type or whose name the driver would not see as written, a column to fill
  whose default is not a Python value, an INSERT naming an unknown column or leaving
  out a required one, a select of whole entities (that is ``DirectLoad``), anything
  either compiler refuses. So a statement the path cannot run fails when its module is
  imported, not on the first request.
- ``execute_direct(session, declared, parameters)`` runs it: rows as named tuples and
  the row count, SQLAlchemy's exceptions.
- ``DirectLoad(select)`` and ``load_direct`` do the same for an ORM select of entities:
  each entity joins the session as a loaded one.
- ``insert_untracked(session, instances)`` inserts fresh ORM objects with one Core
  INSERT per table; the session does not track them afterwards.
- ``as_loaded(session, model, values)`` makes a row that a statement wrote and returned
  (``UPDATE ... RETURNING``) a loaded object of the session.

This module is the database layer's second half and imports nothing of the app's.
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar, cast

from sqlalchemy import Insert, Select, Table, insert, inspect
from sqlalchemy.dialects.postgresql import psycopg
from sqlalchemy.dialects.sqlite import pysqlite
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.engine.interfaces import DBAPIModule
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict, set_committed_value
from sqlalchemy.schema import ColumnDefault
from sqlalchemy.sql.selectable import ExecutableReturnsRows
from sqlalchemy.types import NullType

# The databases the app runs on (config.py accepts no other), as SQLAlchemy names them.
SUPPORTED_DIALECTS = ("sqlite", "postgresql")


class StatementNotSupported(TypeError):
    """A statement the direct path cannot run, found when it is declared."""


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A statement compiled for one dialect, with what running it needs."""

    sql: str
    positional: tuple[str, ...] | None  # parameter names in order (qmark dialects)
    bound_values: dict[str, Any]  # values written in the statement (literals, defaults)
    defaults: tuple[tuple[str, Callable[[], Any]], ...]  # columns filled in by Python
    bind_processors: tuple[tuple[str, Callable[[Any], Any]], ...]
    row_type: type[Any] | None  # a named tuple of the returned columns
    result_processors: tuple[Callable[[Any], Any] | None, ...]


class DirectStatement:
    """A Core statement declared for ``execute_direct``: checked at declaration.

    Declare it once, at module level (or in a cached builder, for statements made per
    shape). ``columns``: for an INSERT without ``.values()``, the column keys every row
    gives. ``dialects``: for a statement written for one database only (an
    ``on_conflict_do_nothing`` of that dialect's ``insert``).

    The declaration compiles with stand-in dialects, to check; the statement is compiled
    again, once per dialect, with the engine's own dialect on its first run (which knows
    the server and the engine's options) and kept for the next runs.
    """

    __slots__ = ("_prepared", "columns", "dialects", "statement")

    def __init__(
        self,
        statement: ExecutableReturnsRows,
        *,
        columns: Sequence[str] | None = None,
        dialects: Sequence[str] = SUPPORTED_DIALECTS,
    ) -> None:
        self.statement = statement
        self.columns = tuple(columns) if columns is not None else None
        self.dialects = tuple(dialects)
        self._prepared: dict[str, _Prepared] = {}  # per dialect name, made on first run
        _check_shape(self)
        for name in self.dialects:
            _compile(self, _stand_in_dialect(name))

    def __repr__(self) -> str:
        return f"DirectStatement({_sql_excerpt(self.statement)})"


class DirectLoad:
    """An ORM select of entities (and columns) declared for ``load_direct``.

    Its plan (which columns make which entity) is made at declaration, and the select
    with each entity spread into its columns is declared as a ``DirectStatement``.
    ``statement`` is the select as given, to build other statements on.
    """

    __slots__ = ("_layout", "_row_type", "columns", "statement")

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self.statement = statement
        spread, self._row_type, self._layout = _plan_entities(statement)
        self.columns = DirectStatement(spread)

    def __repr__(self) -> str:
        return f"DirectLoad({_sql_excerpt(self.statement)})"


# --- running ----------------------------------------------------------------------------


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
    statement: DirectStatement,
    parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] = _NO_PARAMETERS,
) -> DirectResult:
    """Run a declared statement on the session's connection, in its transaction.

    ``parameters`` is one mapping, or several for an INSERT of several rows. Rows come
    back as named tuples, processed as SQLAlchemy would (UUIDs, UTC datetimes, enums).
    Errors are SQLAlchemy's (``OperationalError``, ``IntegrityError``), as the error
    handlers expect. No ORM: nothing is flushed first, nothing is loaded into the session.
    """
    connection, cursor = _cursor_of(session)
    dialect = connection.dialect
    prepared = statement._prepared.get(dialect.name) or _prepare(statement, dialect)
    if isinstance(parameters, Mapping):
        bound = [_bind(prepared, parameters)]
    else:
        bound = [_bind(prepared, values) for values in parameters]
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


def load_direct(
    session: Session, statement: DirectLoad, parameters: Mapping[str, Any] = _NO_PARAMETERS
) -> list[tuple[Any, ...]]:
    """``session.execute(statement, parameters).all()`` for a declared ORM select of
    entities and columns, run with ``execute_direct``.

    Each entity is made from its columns in the row and joins the session as if loaded
    (persistent, unchanged, in the identity map: an instance already there is kept, as
    a load would); an outer-joined entity that is absent is None. The ORM's loading
    costs more than the query on the hot path (docs/hot-path.md).
    """
    session.flush()  # as session.execute autoflushes
    rows = execute_direct(session, statement.columns, parameters).rows
    row_type = statement._row_type
    layout = statement._layout
    return [
        row_type._make(
            row[first] if entity is None else _adopt(session, entity, row, first)
            for entity, first in layout
        )
        for row in rows
    ]


def insert_untracked(session: Session, instances: Iterable[Any]) -> None:
    """INSERT fresh ORM objects with one Core statement per table; the session does not
    track them.

    For the buying path's few fresh rows (an order and its items, a payment, tickets),
    the session's flush bookkeeping costs more than the INSERT (docs/hot-path.md).
    Python-side column defaults are filled in on the objects first, so they read as
    inserted. The objects stay out of the session: a later change to one is never
    written, and a query through the session loads a new object for the row. Suits rows
    written once and then only answered.
    """
    session.flush()  # pending ORM rows this insert may refer to go first
    rows_by_statement: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
    for instance in instances:
        # Typed as the class it is: mypy takes a type[Any] for unhashable (the cache key).
        model: type = type(instance)
        table, columns = _insertable_columns(model)
        row: dict[str, Any] = {}
        for attribute_key, column_key, default, server_default in columns:
            value = getattr(instance, attribute_key)
            if value is None and default is not None:
                value = default.arg(None) if default.is_callable else default.arg
                setattr(instance, attribute_key, value)
            if value is None and server_default:
                continue  # the database fills it in
            row[column_key] = value
        rows_by_statement.setdefault((table, tuple(row)), []).append(row)
    for (table, keys), rows in rows_by_statement.items():
        execute_direct(session, _insert_into(table, keys), rows)


@functools.cache
def _insertable_columns(model: type) -> tuple[Table, tuple[tuple[str, str, Any, bool], ...]]:
    """A model's table and, per column: attribute, column key, Python default (callable
    or scalar, else None) and whether the database has a default. Read once per model."""
    mapper: Mapper[Any] = inspect(model)
    columns = []
    for attribute in mapper.column_attrs:
        column = attribute.columns[0]
        default = column.default
        if default is not None and not (default.is_callable or default.is_scalar):
            default = None
        columns.append((attribute.key, column.key, default, column.server_default is not None))
    table = cast(Table, mapper.local_table)  # a declarative model's table is a Table
    return table, tuple(columns)


@functools.cache
def _insert_into(table: Table, columns: tuple[str, ...]) -> DirectStatement:
    # Made from the model's own columns, once per table and set of columns given.
    return DirectStatement(insert(table), columns=columns)


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
    driver_connection = connection.connection.driver_connection
    assert driver_connection is not None  # a connection just handed out is live
    cursor = driver_connection.cursor()
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
    connection: Connection, exc: DBAPIModule.Error, sql: str, parameters: Any, cursor: Any
) -> NoReturn:
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


# --- entities ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entity:
    mapper: Mapper[Any]
    keys: tuple[str, ...]  # the attributes of its columns, in the row's order
    primary_key: tuple[int, ...]  # where its primary key is among them


def _plan_entities(
    statement: Select[*tuple[Any, ...]],
) -> tuple[Select[*tuple[Any, ...]], type[Any], tuple[tuple[_Entity | None, int], ...]]:
    """The select with each entity spread into its columns; a row type named after the
    elements, as ORM rows are; and per element, (its entity or None for a column, the
    index of its first column)."""
    if not isinstance(statement, Select):
        raise StatementNotSupported(f"DirectLoad takes a select: {_sql_excerpt(statement)}")
    columns: list[Any] = []
    layout: list[tuple[_Entity | None, int]] = []
    for position, description in enumerate(statement.column_descriptions):
        expression, entity = description["expr"], description.get("entity")
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
    return (
        statement.with_only_columns(*columns),
        namedtuple("Row", names, rename=True),
        tuple(layout),
    )


def _adopt(session: Session, entity: _Entity, row: tuple[Any, ...], first: int) -> Any:
    columns = row[first : first + len(entity.keys)]
    primary_key = tuple(columns[index] for index in entity.primary_key)
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


ModelT = TypeVar("ModelT")


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
    # As _adopt: straight into the instance's dict, then reset as freshly loaded.
    instance_dict(instance).update(values)
    make_transient_to_detached(instance)
    session.add(instance)
    return cast(ModelT, instance)


# --- declaring and compiling -------------------------------------------------------------


@functools.cache
def _stand_in_dialect(name: str) -> Dialect:
    """The dialect a declaration is checked with: the drivers the app ships."""
    if name == "sqlite":
        return pysqlite.dialect()
    if name == "postgresql":
        return psycopg.dialect()
    raise StatementNotSupported(f"the direct path runs on {', '.join(SUPPORTED_DIALECTS)}")


def _check_shape(declared: DirectStatement) -> None:
    """What can be refused before compiling: the statement's kind and its columns."""
    statement = declared.statement
    unknown = set(declared.dialects) - set(SUPPORTED_DIALECTS)
    if unknown or not declared.dialects:
        raise StatementNotSupported(
            f"dialects {sorted(unknown) or '()'}: the direct path runs on "
            f"{', '.join(SUPPORTED_DIALECTS)}"
        )
    if isinstance(statement, Select) and any(
        description["expr"] is description.get("entity") is not None
        for description in statement.column_descriptions
    ):
        raise StatementNotSupported(
            f"selects whole entities, declare it as a DirectLoad: {_sql_excerpt(statement)}"
        )
    if not isinstance(statement, Insert):
        if declared.columns is not None:
            raise StatementNotSupported("columns= is for an INSERT's rows")
        return
    if declared.columns is None:
        # INSERT ... SELECT takes its rows from the select: its parameters are the
        # select's, checked as any statement's when it is compiled.
        if not statement._values and not statement._multi_values and statement.select is None:
            raise StatementNotSupported(
                f"an INSERT declares the columns its rows give (columns=...): "
                f"{_sql_excerpt(statement)}"
            )
        return
    table = cast(Table, statement.table)  # a model's table: INSERTs are into those
    unknown_columns = [key for key in declared.columns if key not in table.c]
    if unknown_columns:
        # SQLAlchemy would leave them out of the INSERT without a word.
        raise StatementNotSupported(
            f"unknown parameter(s) {unknown_columns} for table {table.name}"
        )
    missing = [
        column.key
        for column in table.c
        if column.key not in declared.columns
        and not column.nullable
        and column.default is None
        and column.server_default is None
        and column is not table.autoincrement_column
    ]
    if missing:
        raise StatementNotSupported(
            f"missing parameter(s) {missing}: required columns of {table.name} without a default"
        )


def _prepare(declared: DirectStatement, dialect: Dialect) -> _Prepared:
    """The statement compiled with the engine's dialect, on its first run there."""
    if dialect.name not in declared.dialects:
        raise StatementNotSupported(f"{declared!r} is declared for {declared.dialects} only")
    prepared = _compile(declared, dialect)
    declared._prepared[dialect.name] = prepared
    return prepared


def _compile(declared: DirectStatement, dialect: Dialect) -> _Prepared:
    statement = declared.statement
    columns = declared.columns
    try:
        compiled = statement.compile(
            dialect=dialect, column_keys=list(columns) if columns is not None else None
        )
    except SQLAlchemyError as exc:
        raise StatementNotSupported(
            f"{dialect.name} cannot compile {_sql_excerpt(statement)}: {exc}"
        ) from exc
    if any(bind.expanding for bind in compiled.bind_names):
        raise StatementNotSupported(
            f"expanding IN parameters are not supported (write one parameter per value, "
            f"or comparisons): {_sql_excerpt(statement)}"
        )
    if getattr(compiled, "escaped_bind_names", None):
        raise StatementNotSupported(
            f"use plain parameter names, not {sorted(compiled.escaped_bind_names)}"
        )
    untyped = sorted(
        name
        for bind, name in compiled.bind_names.items()
        if isinstance(bind.type, NullType) and not bind.literal_execute
    )
    if untyped:
        raise StatementNotSupported(
            f"parameter(s) {untyped} of unknown type: give them a type "
            f"(bindparam(..., type_=...)) in {_sql_excerpt(statement)}"
        )
    defaults = []
    for column in [*compiled.insert_prefetch, *compiled.update_prefetch]:
        default = column.default if column in compiled.insert_prefetch else column.onupdate
        if default is None or not (default.is_callable or default.is_scalar):
            raise StatementNotSupported(f"no Python default for {column}")
        value = cast(ColumnDefault, default).arg  # callable or scalar: a ColumnDefault
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
    row_type: type[Any] | None = None
    result_processors: tuple[Callable[[Any], Any] | None, ...] = ()
    returned = [(key, column.type) for key, column in statement.exported_columns.items()]
    if returned:
        # Cast: mypy reads "x = namedtuple(...)" as a class with literal field names.
        row_type = cast(type[Any], namedtuple("Row", [name for name, _type in returned]))
        result_processors = tuple(
            type_.dialect_impl(dialect).result_processor(dialect, None) for _n, type_ in returned
        )
    positional = None
    if dialect.positional:
        assert compiled.positiontup is not None  # a positional compile sets it
        positional = tuple(compiled.positiontup)
    return _Prepared(
        sql=compiled.string,
        positional=positional,
        bound_values=bound_values,
        defaults=tuple(defaults),
        bind_processors=tuple(bind_processors),
        row_type=row_type,
        result_processors=result_processors,
    )


def _sql_excerpt(statement: Any) -> str:
    text = " ".join(str(statement).split())
    return text if len(text) <= 160 else text[:157] + "..."
