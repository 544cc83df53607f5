"""Migrations are operations (docs/migrations.md): installed databases have data in them.

- Migration 0001 is frozen: every database made since the first release has run it, and
  none will run it again, so a change to it reaches nobody. A schema change is a new
  revision.
- Every revision upgrades and downgrades a database that has rows in every table, one
  step at a time, on the backend under test (CI runs both): up to head, down to 0001, up
  to head again, then down to the empty base. After each step every row is still there
  with the values it was given, wherever the schema still has its table and column, and
  on SQLite no foreign key dangles (a batch rebuild of a referenced table breaks them).
  At head, the current models load every row.

The steps are read from the revision scripts: a new revision is walked without touching
this file. A revision that adds a table may add rows for it to ``ROWS_ADDED_AT``, and one
that fills a new column from old data may state the values in ``BACKFILLED_AT``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Column, Connection, MetaData, Table, Uuid, insert, inspect, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import sqltypes

from admitone.db import Database
from admitone.migrate import MIGRATIONS_DIR, alembic_config, downgrade_database, upgrade_database
from admitone.models import Base

INITIAL_MIGRATION = MIGRATIONS_DIR / "versions" / "0001_initial.py"
# SHA-256 of 0001_initial.py (line endings as LF). Do not update it: restore the file.
INITIAL_MIGRATION_SHA256 = "c09a1ef29b80386b2cd4605b351442c4914669d8ee187abfc2a76e153ca1cf18"


def test_initial_migration_is_frozen() -> None:
    content = INITIAL_MIGRATION.read_bytes().replace(b"\r\n", b"\n")
    assert hashlib.sha256(content).hexdigest() == INITIAL_MIGRATION_SHA256, (
        "admitone/migrations/versions/0001_initial.py has changed. Databases already "
        "installed ran it once and never will again, so the change would reach nobody: "
        "restore the file and add a new revision instead (docs/migrations.md)."
    )


def _revisions() -> list[str]:
    """The revision ids from the first to the head: one line, no branch."""
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(scripts.get_heads()) == 1, "the revisions must form one line (one head)"
    return [script.revision for script in reversed(list(scripts.walk_revisions()))]


def _id(number: int) -> uuid.UUID:
    return uuid.UUID(int=number)


T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
STARTS = datetime(2027, 6, 1, 18, 0, tzinfo=UTC)
USER, STAFF, ORGANIZATION, EVENT, TICKET_TYPE = _id(1), _id(2), _id(3), _id(4), _id(5)
ORDER, ORDER_ITEM, PAYMENT, TICKET, AUTH_SESSION = _id(6), _id(7), _id(8), _id(9), _id(10)

# Migration 0012 derives each event's default check-in list id from the event's
# (copied from the revision, as revisions copy what they need).
DEFAULT_LIST = uuid.uuid5(uuid.UUID("5d0f7a0e-3c1b-4f57-9a8e-0c1d2e3f4a5b"), str(EVENT))
OTHER_LIST = _id(40)

# Rows inserted when a step reaches the revision (the key), in the shape of that
# revision's tables: a paid order, its ticket admitted once, a partial refund, and the
# accounts and records around it. The first revision fills every one of its tables.
ROWS_ADDED_AT: dict[str, dict[str, list[dict[str, Any]]]] = {
    "0001": {
        "users": [
            {
                "id": USER,
                "email": "ada@example.com",
                "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
                "full_name": "Ada Lovelace",
                "locale": "fr",
                "is_active": True,
                "is_platform_admin": False,
                "created_at": T0,
                "updated_at": T0,
            },
            {
                "id": STAFF,
                "email": "gate@example.com",
                "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
                "full_name": "Gate Staff",
                "locale": "en",
                "is_active": True,
                "is_platform_admin": False,
                "created_at": T0,
                "updated_at": T0,
            },
        ],
        "organizations": [
            {
                "id": ORGANIZATION,
                "name": "Nightfall",
                "slug": "nightfall",
                "stripe_account_id": "acct_123",
                "created_at": T0,
                "updated_at": T0,
            }
        ],
        "memberships": [
            {
                "id": _id(20),
                "organization_id": ORGANIZATION,
                "user_id": STAFF,
                "role": "staff",
                "created_at": T0,
                "updated_at": T0,
            }
        ],
        "auth_sessions": [
            {
                "id": AUTH_SESSION,
                "user_id": USER,
                "created_at": T0,
                "revoked_at": None,
                "revoked_reason": None,
            }
        ],
        "refresh_tokens": [
            {
                "id": _id(21),
                "session_id": AUTH_SESSION,
                "token_hash": "a" * 64,
                "created_at": T0,
                "expires_at": T0 + timedelta(days=30),
                "used_at": None,
            }
        ],
        "events": [
            {
                "id": EVENT,
                "organization_id": ORGANIZATION,
                "slug": "moonlight-jazz",
                "title": "Moonlight Jazz",
                "description": "Trio, then jam session.",
                "category": "concert",
                "venue_name": "Le Caveau",
                "venue_address": "5 rue de la Huchette",
                "city": "Paris",
                "country": "FR",
                "timezone": "Europe/Paris",
                "starts_at": STARTS,
                "ends_at": STARTS + timedelta(hours=3),
                "currency": "EUR",
                "image_path": None,
                "status": "published",
                "published_at": T0,
                "cancelled_at": None,
                "created_at": T0,
                "updated_at": T0,
            }
        ],
        "event_signing_keys": [
            {
                "event_id": EVENT,
                "public_key": bytes(range(32)),
                "encrypted_private_key": bytes(range(100)),
                "created_at": T0,
            }
        ],
        "ticket_types": [
            {
                "id": TICKET_TYPE,
                "event_id": EVENT,
                "name": "Standard",
                "description": "",
                "price_minor": 2500,
                "vat_rate_bp": 550,
                "capacity": 100,
                "quantity_sold": 1,
                "quantity_held": 0,
                "sales_start": None,
                "sales_end": None,
                "min_per_order": 1,
                "max_per_order": 10,
                "is_active": True,
                "position": 0,
                "created_at": T0,
                "updated_at": T0,
            }
        ],
        "orders": [
            {
                "id": ORDER,
                "code": "K7Q2-M9XA",
                "organization_id": ORGANIZATION,
                "event_id": EVENT,
                "user_id": USER,
                "buyer_name": "Ada Lovelace",
                "buyer_email": "ada@example.com",
                "access_token_hash": "b" * 64,
                "status": "paid",
                "currency": "EUR",
                "total_minor": 2500,
                "refunded_minor": 500,
                "expires_at": T0 + timedelta(minutes=15),
                "paid_at": T0 + timedelta(minutes=2),
                "cancelled_at": None,
                "locale": "fr",
                "created_at": T0,
                "updated_at": T0,
            }
        ],
        "order_items": [
            {
                "id": ORDER_ITEM,
                "order_id": ORDER,
                "ticket_type_id": TICKET_TYPE,
                "quantity": 1,
                "unit_price_minor": 2500,
            }
        ],
        "payments": [
            {
                "id": PAYMENT,
                "order_id": ORDER,
                "provider": "stripe",
                "provider_ref": "cs_test_1",
                "status": "succeeded",
                "amount_minor": 2500,
                "currency": "EUR",
                "refunded_minor": 500,
                "application_fee_minor": 100,
                "provider_payment_ref": "pi_test_1",
                "transfer_destination": "acct_123",
                "checkout_url": "https://checkout.example.com/cs_test_1",
                "succeeded_at": T0 + timedelta(minutes=2),
                "created_at": T0,
                "updated_at": T0,
            }
        ],
        "refunds": [
            {
                "id": _id(22),
                "order_id": ORDER,
                "payment_id": PAYMENT,
                "amount_minor": 500,
                "currency": "EUR",
                "reason": "goodwill",
                "provider_ref": "re_test_1",
                "created_at": T0 + timedelta(days=1),
            }
        ],
        "payment_notifications": [
            {
                "id": _id(23),
                "provider": "stripe",
                "external_id": "evt_test_1",
                "kind": "checkout.session.completed",
                "received_at": T0 + timedelta(minutes=2),
                "handled_at": T0 + timedelta(minutes=2),
            }
        ],
        "tickets": [
            {
                "id": TICKET,
                "order_id": ORDER,
                "order_item_id": ORDER_ITEM,
                "event_id": EVENT,
                "ticket_type_id": TICKET_TYPE,
                "holder_name": "Ada Lovelace",
                "status": "valid",
                "created_at": T0 + timedelta(minutes=2),
                "revoked_at": None,
                "admitted_at": STARTS,
                "admitted_gate": "north",
            }
        ],
        "checkins": [
            {
                "id": _id(24),
                "event_id": EVENT,
                "ticket_id": TICKET,
                "result": "admitted",
                "gate": "north",
                "scanned_at": STARTS,
                "scanned_by_id": STAFF,
                "nonce": "gate-north-0001",
                "payload_hash": "c" * 64,
            }
        ],
        "idempotency_records": [
            {
                "id": _id(25),
                "scope": f"orders:{USER}",
                "key": "retry-me",
                "request_hash": "d" * 64,
                "resource_id": ORDER,
                "created_at": T0,
            }
        ],
        "deliveries": [
            {
                "id": _id(26),
                "kind": "order_confirmation",
                "object_id": ORDER,
                "recipient": "ada@example.com",
                "message_id": "<order-1@admitone.example>",
                "sent_at": T0 + timedelta(minutes=3),
            }
        ],
    },
    "0004_account_recovery": {
        "account_tokens": [
            {
                "id": _id(30),
                "user_id": USER,
                "purpose": "password_reset",
                "email": "ada@example.com",
                "token_hash": "e" * 64,
                "created_at": T0,
                "expires_at": T0 + timedelta(hours=1),
                "used_at": None,
            }
        ],
    },
    "0005_two_factor": {
        "recovery_codes": [{"id": _id(31), "user_id": USER, "code_hash": "f" * 64}],
        "passkeys": [
            {
                "id": _id(32),
                "user_id": USER,
                "credential_id": b"credential",
                "public_key": b"public key",
                "sign_count": 3,
                "name": "Laptop",
                "transports": "internal",
                "created_at": T0,
            }
        ],
    },
    "0006_identity_providers": {
        "identity_links": [
            {
                "id": _id(33),
                "provider": "google",
                "subject": "1234567890",
                "user_id": USER,
                "email_at_link": "ada@example.com",
                "created_at": T0,
                "last_login_at": T0,
            }
        ],
    },
    # A second list of the event, for the ticket type alone, with re-entry and a window;
    # the ticket went in and out there.
    "0013_checkin_lists": {
        "checkin_lists": [
            {
                "id": OTHER_LIST,
                "event_id": EVENT,
                "default_for_event_id": None,
                "name": "Pass-out",
                "all_ticket_types": False,
                "allow_reentry": True,
                "valid_from": STARTS - timedelta(hours=1),
                "valid_until": STARTS + timedelta(hours=6),
                "created_at": T0,
            }
        ],
        "checkin_list_ticket_types": [{"list_id": OTHER_LIST, "ticket_type_id": TICKET_TYPE}],
        "checkin_presences": [
            {
                "list_id": OTHER_LIST,
                "ticket_id": TICKET,
                "inside": False,
                "entries": 1,
                "exits": 1,
                "first_entry_at": STARTS,
                "last_entry_at": STARTS,
                "last_exit_at": STARTS + timedelta(hours=1),
                "last_gate": "south",
            }
        ],
    },
    # The owner undid the admission of checkin 24 (rows only in the tables a revision
    # adds: a walk back up inserts them again).
    "0010_checkin_undo": {
        "checkin_undos": [
            {
                "id": _id(35),
                "checkin_id": _id(24),
                "event_id": EVENT,
                "ticket_id": TICKET,
                "undone_at": STARTS + timedelta(minutes=2),
                "undone_by_id": USER,
            }
        ],
    },
}

# Values a revision computes from the rows already there (table -> primary key ->
# column -> value), checked from that step on. A row the revision makes from old data
# (in a table it adds) is declared whole here.
BACKFILLED_AT: dict[str, dict[str, dict[Any, dict[str, Any]]]] = {
    # Accounts made before verification existed count as verified.
    "0004_account_recovery": {"users": {USER: {"email_verified_at": T0}}},
    "0005_two_factor": {
        "users": {USER: {"two_factor_enabled": False}},
        "organizations": {ORGANIZATION: {"require_two_factor": False}},
    },
    # Organizations accepted under the old rules start verified.
    "0008_organization_verification": {"organizations": {ORGANIZATION: {"verified_at": T0}}},
    # A payment and its refunds paid for an order: order_id became purpose_id.
    "0009_payment_purposes": {
        "payments": {PAYMENT: {"purpose": "order", "purpose_id": ORDER}},
        "refunds": {_id(22): {"purpose": "order", "purpose_id": ORDER}},
    },
    # Events made before attendee names existed do not ask for them.
    "0012_attendee_names": {"events": {EVENT: {"ask_attendee_names": False}}},
    # Every event got its default list; the admitted ticket is inside it; every scan
    # was an entry on it.
    "0013_checkin_lists": {
        "checkin_lists": {
            DEFAULT_LIST: {
                "event_id": EVENT,
                "default_for_event_id": EVENT,
                "name": "Default",
                "all_ticket_types": True,
                "allow_reentry": False,
                "valid_from": None,
                "valid_until": None,
            }
        },
        "checkin_presences": {
            (DEFAULT_LIST, TICKET): {
                "list_id": DEFAULT_LIST,
                "ticket_id": TICKET,
                "inside": True,
                "entries": 1,
                "exits": 0,
                "first_entry_at": STARTS,
                "last_entry_at": STARTS,
                "last_exit_at": None,
                "last_gate": "north",
            }
        },
        "checkins": {_id(24): {"list_id": DEFAULT_LIST, "kind": "entry"}},
    },
}


class Rows:
    """The rows the database should hold: table -> primary key -> column -> value."""

    def __init__(self) -> None:
        self.expected: dict[str, dict[Any, dict[str, Any]]] = {}

    def add(self, connection: Connection, revision: str) -> None:
        for table_name, rows in ROWS_ADDED_AT.get(revision, {}).items():
            table = _table_as_it_is(connection, table_name)
            for row in rows:
                connection.execute(insert(table).values(row))
                self.expected.setdefault(table_name, {})[_key(connection, table_name, row)] = dict(
                    row
                )
        for table_name, rows_by_key in BACKFILLED_AT.get(revision, {}).items():
            for key, values in rows_by_key.items():
                self.expected.setdefault(table_name, {}).setdefault(key, {}).update(values)

    def check(self, connection: Connection, step: str) -> None:
        inspector = inspect(connection)
        tables = set(inspector.get_table_names())
        for table_name in list(self.expected):
            if table_name not in tables:
                # The schema dropped the table: its rows are gone for good.
                del self.expected[table_name]
                continue
            table = _table_as_it_is(connection, table_name)
            key_columns = [table.c[name] for name in _key_names(connection, table_name)]
            for key, row in self.expected[table_name].items():
                for column in [name for name in row if name not in table.c]:
                    del row[column]  # dropped: a column added back later starts anew
                where = [c == v for c, v in zip(key_columns, _as_tuple(key), strict=True)]
                found = connection.execute(select(table).where(*where)).mappings().one_or_none()
                assert found is not None, f"{step}: a row of {table_name} is gone ({key})"
                assert {name: _comparable(found[name]) for name in row} == {
                    name: _comparable(value) for name, value in row.items()
                }, f"{step}: a row of {table_name} changed ({key})"
        if connection.dialect.name == "sqlite":
            dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            assert dangling == [], f"{step}: foreign keys point at nothing: {dangling}"


def _table_as_it_is(connection: Connection, name: str) -> Table:
    """The table with the columns it has at this revision, each typed as the models type
    it (UUIDs, UTC datetimes, enums) while they still have it, else as reflected."""
    modelled = Base.metadata.tables.get(name)
    columns = []
    for reflected in inspect(connection).get_columns(name):
        column_name = reflected["name"]
        if modelled is not None and column_name in modelled.c:
            columns.append(Column(column_name, modelled.c[column_name].type))
        elif _is_uuid_storage(reflected["type"]):
            # A UUID column the models no longer have (renamed or dropped since): SQLite
            # stores it as 32 hex characters, which a UUID value cannot bind to as such.
            columns.append(Column(column_name, Uuid()))
        else:
            columns.append(Column(column_name, reflected["type"]))
    return Table(name, MetaData(), *columns)


def _is_uuid_storage(column_type: Any) -> bool:
    return isinstance(column_type, sqltypes.UUID) or (
        isinstance(column_type, sqltypes.CHAR) and column_type.length == 32
    )


def _key_names(connection: Connection, table_name: str) -> list[str]:
    return inspect(connection).get_pk_constraint(table_name)["constrained_columns"]


def _key(connection: Connection, table_name: str, row: dict[str, Any]) -> Any:
    values = tuple(row[name] for name in _key_names(connection, table_name))
    return values[0] if len(values) == 1 else values


def _as_tuple(key: Any) -> tuple[Any, ...]:
    return key if isinstance(key, tuple) else (key,)


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, memoryview):
        return value.tobytes()
    return value


@contextmanager
def _connection(url: str) -> Iterator[Connection]:
    """One transaction on a database of its own (an engine per step: Alembic's steps
    change the schema under it)."""
    database = Database(url, pool_size=1)
    try:
        with database.engine.begin() as connection:
            yield connection
    finally:
        database.dispose()


def _step(url: str, rows: Rows, *, revision: str, step: str, add: bool) -> None:
    with _connection(url) as connection:
        if add:
            rows.add(connection, revision)
        rows.check(connection, step)


def test_every_revision_upgrades_and_downgrades_with_data(fresh_url: str) -> None:
    revisions = _revisions()
    assert revisions[0] == "0001"
    assert set(ROWS_ADDED_AT) <= set(revisions) and set(BACKFILLED_AT) <= set(revisions)
    rows = Rows()

    upgrade_database(fresh_url, "0001")
    with _connection(fresh_url) as connection:
        first_tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
        assert first_tables == set(ROWS_ADDED_AT["0001"]), "every table of 0001 gets a row"
    _step(fresh_url, rows, revision="0001", step="at 0001", add=True)

    steps = list(pairwise(revisions))
    for previous, revision in steps:
        upgrade_database(fresh_url, revision)
        _step(fresh_url, rows, revision=revision, step=f"{previous} -> {revision}", add=True)

    for previous, revision in reversed(steps):
        downgrade_database(fresh_url, previous)
        _step(fresh_url, rows, revision=previous, step=f"{revision} -> {previous}", add=False)

    for previous, revision in steps:
        upgrade_database(fresh_url, revision)
        step = f"{previous} -> {revision}, again"
        _step(fresh_url, rows, revision=revision, step=step, add=True)

    # The current models read every row the steps kept.
    database = Database(fresh_url, pool_size=1)
    try:
        with Session(database.engine) as session:
            for mapper in Base.registry.mappers:
                for key in rows.expected.get(mapper.local_table.name, {}):
                    assert session.get(mapper.class_, key) is not None
    finally:
        database.dispose()

    downgrade_database(fresh_url, "base")
    with _connection(fresh_url) as connection:
        assert set(inspect(connection).get_table_names()) == {"alembic_version"}
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 0


def test_0012_downgrade_puts_the_admission_back_on_the_ticket(fresh_url: str) -> None:
    """The walk above forgets a column once a step drops it; here the ticket columns
    0012 drops come back on the way down, filled from the default list."""
    revisions = _revisions()
    upto = revisions[: revisions.index("0013_checkin_lists") + 1]
    rows = Rows()
    for revision in upto:
        upgrade_database(fresh_url, revision)
        _step(fresh_url, rows, revision=revision, step=f"at {revision}", add=True)
    downgrade_database(fresh_url, "0011_guest_order_claims")
    with _connection(fresh_url) as connection:
        tickets = _table_as_it_is(connection, "tickets")
        admitted = connection.execute(
            select(tickets.c.admitted_at, tickets.c.admitted_gate).where(tickets.c.id == TICKET)
        ).one()
    assert (_comparable(admitted[0]), admitted[1]) == (STARTS, "north")
