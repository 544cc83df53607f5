"""PostgreSQL connections: idle ones are pinged before use, recently used ones are not,
and a connection lost anyway fails its request with a retryable 503, not a 500.

These use the PostgreSQL server directly (its ``postgres`` database), whichever backend
the rest of the suite runs on: SQLite has no server connection to lose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from admitone import db as db_module
from admitone.db import Database
from admitone.db_direct import DirectStatement, execute_direct
from admitone.error_handlers import install_error_handlers
from tests.conftest import POSTGRES_SERVER


@pytest.fixture
def postgres() -> Iterator[Database]:
    database = Database(
        f"postgresql+psycopg://{POSTGRES_SERVER.split('://', 1)[1]}/postgres", pool_size=1
    )
    yield database
    database.dispose()


def _backend_pid(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pid: int) -> None:
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _count_pings(monkeypatch: pytest.MonkeyPatch, database: Database) -> list[int]:
    pings: list[int] = []
    real_ping = database.engine.dialect.do_ping

    def counting_ping(dbapi_connection: Any) -> bool:
        pings.append(1)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(database.engine.dialect, "do_ping", counting_ping)
    return pings


def test_recently_used_connections_are_not_pinged(
    postgres: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = _count_pings(monkeypatch, postgres)
    first = _backend_pid(postgres)
    assert [_backend_pid(postgres) for _ in range(5)] == [first] * 5  # the same connection
    assert pings == []  # no round trip spent on checking it


def test_an_idle_connection_that_died_is_replaced_before_use(
    postgres: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = _count_pings(monkeypatch, postgres)
    dead = _backend_pid(postgres)
    _terminate(dead)
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)  # as if idle for long
    fresh = _backend_pid(postgres)  # no error: the ping found it dead, the pool replaced it
    assert fresh != dead
    assert len(pings) == 1


_BACKEND_PID = DirectStatement(select(func.pg_backend_pid()), dialects=("postgresql",))


def _direct_backend_pid(database: Database) -> int:
    # As the hot path runs its statements: on the driver's cursor (db_direct.execute_direct).
    with database.session() as session:
        return int(execute_direct(session, _BACKEND_PID).scalar())


@pytest.mark.parametrize(
    "backend_pid", [_backend_pid, _direct_backend_pid], ids=["sqlalchemy", "direct"]
)
def test_a_connection_lost_while_in_use_is_a_retryable_503(
    postgres: Database, backend_pid: Callable[[Database], int]
) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/query")
    def query() -> dict[str, int]:
        return {"pid": backend_pid(postgres)}

    with TestClient(app, raise_server_exceptions=False) as client:
        pid = client.get("/query").json()["pid"]
        _terminate(pid)  # lost within the no-ping window: the next use finds out
        lost = client.get("/query")
        assert lost.status_code == 503
        assert lost.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert lost.headers["Retry-After"] == "2"
        again = client.get("/query")
        assert again.status_code == 200
        assert again.json()["pid"] != pid


def test_a_database_that_refuses_connections_is_a_retryable_503_not_a_500() -> None:
    # What the pool meets while PostgreSQL restarts: nothing listens on the port.
    down = Database("postgresql+psycopg://nobody@127.0.0.1:1/nothing", pool_size=1)
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/query")
    def query() -> dict[str, int]:
        return {"pid": _backend_pid(down)}

    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            refused = client.get("/query")
    finally:
        down.dispose()
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert refused.headers["Retry-After"] == "2"


def test_a_closed_driver_connection_is_a_retryable_503(postgres: Database) -> None:
    # psycopg raises InterfaceError ("the connection is closed") on a connection closed
    # under it; whether SQLAlchemy wraps it or it escapes raw, the answer is a 503.
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raw")
    def raw() -> None:
        connection = psycopg.connect(f"{POSTGRES_SERVER}/postgres")
        connection.close()
        connection.execute("SELECT 1")

    @app.get("/wrapped")
    def wrapped() -> None:
        with postgres.engine.connect() as connection:
            connection.connection.dbapi_connection.close()
            connection.execute(text("SELECT 1"))

    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/raw", "/wrapped"):
            answer = client.get(path)
            assert answer.status_code == 503, (path, answer.text)
            assert answer.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
            assert answer.headers["Retry-After"] == "2"


def test_a_lock_timeout_stays_a_busy_503() -> None:
    from sqlalchemy.exc import OperationalError as SAOperationalError

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/locked")
    def locked() -> None:
        orig = psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")
        raise SAOperationalError("UPDATE ticket_types ...", {}, orig)

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/locked")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "BUSY"
