"""db_direct.execute_direct and load_direct: the hot path's statements on the driver's cursor.

What they answer must be what ``session.execute`` answers for the same statement, on
SQLite and on PostgreSQL: the same values (UUIDs, aware UTC datetimes, enums), the same
row counts, the same errors, and, for entities, instances that behave as loaded ones.
A statement they cannot run is refused when it is declared (``DirectStatement``,
``DirectLoad``), not when it runs.
"""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Integer, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from admitone import db_direct
from admitone.db import Database
from admitone.db_direct import (
    DirectLoad,
    DirectStatement,
    StatementNotSupported,
    execute_direct,
    load_direct,
)
from admitone.events.models import Event, EventStatus, TicketType
from admitone.organizations.models import Membership, Organization
from tests.factories import make_shop

_EVENT_TERMS_SELECT = select(
    Event.id, Event.status, Event.starts_at, Event.currency, Event.organization_id
).where(Event.id == bindparam("event_id"))
_EVENT_TERMS = DirectStatement(_EVENT_TERMS_SELECT)
_TYPES = TicketType.__table__
_RENAME_TYPE = DirectStatement(
    update(_TYPES)
    .where(_TYPES.c.id == bindparam("type_id"))
    .values(name=bindparam("new_name"))  # updated_at: its Python onupdate fills it in
    .returning(_TYPES.c.id, _TYPES.c.name, _TYPES.c.updated_at)
)
_EVENT_AND_ORGANIZATION = DirectLoad(
    select(Event, Organization, Membership.role)
    .join(Organization, Organization.id == Event.organization_id)
    .outerjoin(
        Membership,
        (Membership.organization_id == Organization.id)
        & (Membership.user_id == bindparam("user_id")),
    )
    .where(Event.id == bindparam("event_id"))
)
_ORGANIZATION_OF_MAYBE_EVENT = DirectLoad(
    select(Organization, Event)
    .outerjoin(Event, (Event.organization_id == Organization.id) & (Event.id == bindparam("e")))
    .where(Organization.id == bindparam("org"))
)


def test_rows_are_what_session_execute_reads(clean_database: Database):
    shop = make_shop(clean_database)
    with clean_database.session() as session:
        direct = execute_direct(session, _EVENT_TERMS, {"event_id": shop.event_id}).first()
        through_orm = session.execute(_EVENT_TERMS_SELECT, {"event_id": shop.event_id}).one()
    assert tuple(direct) == tuple(through_orm)
    assert direct.id == shop.event_id and isinstance(direct.id, uuid.UUID)
    assert direct.status is EventStatus.published
    assert direct.starts_at.tzinfo is not None and direct.starts_at.utcoffset() == timedelta(0)
    assert direct._fields == ("id", "status", "starts_at", "currency", "organization_id")


def test_no_row_reads_as_none(clean_database: Database):
    with clean_database.session() as session:
        result = execute_direct(session, _EVENT_TERMS, {"event_id": uuid.uuid4()})
    assert result.first() is None and result.scalar() is None and result.all() == []


def test_update_fills_python_defaults_and_counts_rows(clean_database: Database):
    shop = make_shop(clean_database)
    before = datetime.now(UTC)
    with clean_database.session() as session:
        result = execute_direct(
            session, _RENAME_TYPE, {"type_id": shop.ticket_type_id, "new_name": "Balcony"}
        )
        missed = execute_direct(
            session,
            DirectStatement(
                update(_TYPES).where(_TYPES.c.id == bindparam("type_id")).values(capacity=1)
            ),
            {"type_id": uuid.uuid4()},
        )
    assert missed.rowcount == 0
    row = result.first()
    assert row.id == shop.ticket_type_id and row.name == "Balcony"
    assert row.updated_at >= before  # the column's onupdate, as SQLAlchemy would fill it
    with clean_database.session(write=False) as session:
        stored = session.get(TicketType, shop.ticket_type_id)
        assert stored.name == "Balcony" and stored.updated_at == row.updated_at


def test_several_rows_go_in_with_one_call(clean_database: Database):
    organizations = Organization.__table__
    rows = [
        {"id": uuid.uuid4(), "name": f"Org {n}", "slug": f"org-{n}-{uuid.uuid4().hex[:6]}"}
        for n in range(3)
    ]
    with clean_database.session() as session:
        execute_direct(
            session, DirectStatement(insert(organizations), columns=("id", "name", "slug")), rows
        )
        # Columns left out get their Python defaults, as through SQLAlchemy.
    with clean_database.session(write=False) as session:
        stored = {
            row.id: row
            for row in session.execute(
                select(Organization.id, Organization.name, Organization.created_at)
            )
        }
    assert set(stored) == {row["id"] for row in rows}
    assert all(stored[row["id"]].name == row["name"] for row in rows)
    assert all(stored[row["id"]].created_at is not None for row in rows)


def test_driver_errors_are_sqlalchemy_errors_and_roll_back(clean_database: Database):
    shop = make_shop(clean_database)
    duplicate = DirectStatement(
        TicketType.__table__.insert(), columns=tuple(TicketType.__table__.c.keys())
    )
    with pytest.raises(IntegrityError), clean_database.session() as session:
        execute_direct(session, _RENAME_TYPE, {"type_id": shop.ticket_type_id, "new_name": "Gone"})
        row = session.execute(
            select(TicketType.__table__).where(TicketType.id == shop.ticket_type_id)
        ).one()
        execute_direct(session, duplicate, dict(row._mapping))  # the same primary key
    with clean_database.session(write=False) as session:
        assert session.get(TicketType, shop.ticket_type_id).name != "Gone"  # rolled back


def test_expanding_parameters_are_refused():
    statement = select(Event.id).where(Event.id.in_(bindparam("ids", expanding=True)))
    # At declaration: no session, nothing run.
    with pytest.raises(TypeError, match="expanding"):
        DirectStatement(statement)


def test_loaded_entities_behave_as_the_orm_loads_them(clean_database: Database):
    shop = make_shop(clean_database)
    with clean_database.session() as session:
        rows = load_direct(
            session, _EVENT_AND_ORGANIZATION, {"event_id": shop.event_id, "user_id": uuid.uuid4()}
        )
        assert len(rows) == 1
        event, organization, role = rows[0]
        assert (
            rows[0].Event is event and role is None and rows[0].role is None
        )  # named as ORM rows are
        assert isinstance(event, Event) and event.id == shop.event_id
        assert event.status is EventStatus.published and event.starts_at.tzinfo is not None
        assert organization.id == shop.organization_id and organization.slug == shop.org_slug
        # Persistent and clean: in the identity map, nothing to flush, a change is tracked.
        assert session.get(Event, shop.event_id) is event
        assert not session.dirty and not session.new
        event.title = "Renamed"
        assert event in session.dirty
    with clean_database.session(write=False) as session:
        assert session.get(Event, shop.event_id).title == "Renamed"


def test_an_instance_already_in_the_session_is_kept(clean_database: Database):
    shop = make_shop(clean_database)
    with clean_database.session() as session:
        loaded = session.get(Organization, shop.organization_id)
        loaded.name = "Unflushed"  # load_direct flushes first, as session.execute does
        (organization, event) = load_direct(
            session, _ORGANIZATION_OF_MAYBE_EVENT, {"org": shop.organization_id, "e": uuid.uuid4()}
        )[0]
        assert organization is loaded and organization.name == "Unflushed"
        assert event is None  # an outer join that found nothing


def test_a_statement_is_compiled_once_and_never_goes_through_the_orm(
    clean_database: Database, monkeypatch: pytest.MonkeyPatch
):
    shop = make_shop(clean_database)
    statement = DirectStatement(select(Event.id).where(Event.id == bindparam("event_id")))
    # Checked at declaration with stand-in dialects; compiled on its first run with the
    # engine's own dialect, then kept.
    compiled: list[object] = []
    original_compile = db_direct._compile
    monkeypatch.setattr(
        db_direct, "_compile", lambda *args: compiled.append(args[0]) or original_compile(*args)
    )
    monkeypatch.setattr(Session, "execute", lambda *args, **kwargs: pytest.fail("ORM used"))
    with clean_database.session() as session:
        found = [
            execute_direct(session, statement, {"event_id": shop.event_id}).scalar()
            for _ in range(3)
        ]
    assert found == [shop.event_id] * 3
    assert compiled == [statement]


# --- refused at declaration ------------------------------------------------------------
#
# Each of these is refused by the constructor itself: no database, no session, nothing
# run. A module declaring such a statement fails when it is imported.


def test_an_insert_naming_an_unknown_column_is_refused():
    # SQLAlchemy alone would leave the unknown key out of the INSERT without a word.
    with pytest.raises(StatementNotSupported, match=r"unknown parameter.*'nickname'"):
        DirectStatement(insert(Organization.__table__), columns=("id", "name", "nickname"))


def test_an_insert_leaving_out_a_required_column_is_refused():
    with pytest.raises(StatementNotSupported, match=r"missing parameter.*'slug'"):
        DirectStatement(insert(Organization.__table__), columns=("id", "name"))


def test_an_insert_says_which_columns_its_rows_give():
    with pytest.raises(StatementNotSupported, match="columns="):
        DirectStatement(insert(Organization.__table__))


def test_a_parameter_of_unknown_type_is_refused():
    # Without a type nothing would convert its value (a UUID, a datetime) for the driver.
    with pytest.raises(StatementNotSupported, match="unknown type"):
        DirectStatement(select(Event.id).limit(bindparam("how_many")))
    DirectStatement(select(Event.id).limit(bindparam("how_many", type_=Integer)))


def test_a_parameter_name_the_driver_would_not_see_is_refused():
    with pytest.raises(StatementNotSupported, match="plain parameter names"):
        DirectStatement(select(Event.id).where(Event.id == bindparam("event.id")))


def test_whole_entities_are_for_direct_load():
    with pytest.raises(StatementNotSupported, match="DirectLoad"):
        DirectStatement(select(Event).where(Event.id == bindparam("event_id")))
    with pytest.raises(StatementNotSupported, match="select"):
        DirectLoad(update(_TYPES).values(capacity=1))  # type: ignore[arg-type]


def test_what_one_database_cannot_compile_is_refused_unless_declared_for_the_other():
    per_event = select(func.array_agg(aggregate_order_by(Event.id, Event.starts_at)))
    with pytest.raises(StatementNotSupported, match="sqlite cannot compile"):
        DirectStatement(per_event)
    DirectStatement(per_event, dialects=("postgresql",))
    with pytest.raises(StatementNotSupported, match="runs on"):
        DirectStatement(select(Event.id), dialects=("mysql",))


def test_a_declaration_for_one_database_does_not_run_on_the_other(clean_database: Database):
    other = "sqlite" if clean_database.engine.dialect.name == "postgresql" else "postgresql"
    statement = DirectStatement(select(Event.id), dialects=(other,))
    with clean_database.session() as session, pytest.raises(StatementNotSupported):
        execute_direct(session, statement)


def test_the_app_declares_its_direct_statements_when_imported():
    # Every statement the hot path runs is a module constant (or made by a cached
    # builder from the model), so importing the app checked them all.
    import admitone.app  # noqa: F401

    declared = [
        value
        for module in list(sys.modules.values())
        if module is not None and module.__name__.startswith("admitone.")
        for value in vars(module).values()
        if isinstance(value, DirectStatement | DirectLoad)
    ]
    assert len(declared) >= 10
