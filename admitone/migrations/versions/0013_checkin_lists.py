"""check-in lists, a ticket's presence per list, entry and exit scans

Issue 16: an event has check-in lists (which ticket types, re-entry, a time window);
a ticket's state on each list is a row of ``checkin_presences`` instead of the
``tickets.admitted_at`` / ``admitted_gate`` columns; a scan names its list and whether
it is an entry or an exit.

Data steps, in order:

1. every existing event gets its default list ("Default": all ticket types, no
   re-entry). Its id is derived from the event's (``uuid5``), so the step gives the
   same ids on every database and when run again after a downgrade;
2. every admitted ticket (``admitted_at`` set) becomes a presence on its event's default
   list: inside, one entry, no exit, first and last entry at ``admitted_at``, its gate;
3. every existing scan is an entry on its event's default list;
4. the two ticket columns are dropped (SQLite 3.35+: in place, no rebuild).

The downgrade puts the columns back and fills them from the default list (the first
entry's time and the last gate of a ticket with an entry there), then drops the tables.
Entries on other lists, exits and re-entries have no place in 0011's schema and are
lost, as a downgrade must.

Cost: step 2 reads the admitted tickets once and writes one row each; step 3 rewrites
every row of ``checkins`` once (one UPDATE; on PostgreSQL it holds the rows' locks until
the end, about a second per million scans). Adding ``checkins.kind`` with a server
default does not rewrite the table on PostgreSQL 11+ or SQLite. Dropping the ticket
columns is a catalogue change on PostgreSQL; on SQLite it rewrites ``tickets`` once in
place. Run it outside the hours of a gate.

Revision ID: 0013_checkin_lists
Revises: 0012_attendee_names
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import admitone.db

revision: str = "0013_checkin_lists"
down_revision: str | None = "0012_attendee_names"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied, not imported (docs/migrations.md, "frozen code"): the default list's name and
# the namespace its id is derived in.
DEFAULT_LIST_NAME = "Default"
DEFAULT_LIST_NAMESPACE = uuid.UUID("5d0f7a0e-3c1b-4f57-9a8e-0c1d2e3f4a5b")


def default_list_id(event_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(DEFAULT_LIST_NAMESPACE, str(event_id))


def _lists_table() -> sa.TableClause:
    return sa.table(
        "checkin_lists",
        sa.column("id", sa.Uuid()),
        sa.column("event_id", sa.Uuid()),
        sa.column("default_for_event_id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("all_ticket_types", sa.Boolean()),
        sa.column("allow_reentry", sa.Boolean()),
        sa.column("created_at", admitone.db.UTCDateTime(timezone=True)),
    )


def upgrade() -> None:
    op.create_table(
        "checkin_lists",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("default_for_event_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("all_ticket_types", sa.Boolean(), nullable=False),
        sa.Column("allow_reentry", sa.Boolean(), nullable=False),
        sa.Column("valid_from", admitone.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("valid_until", admitone.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["default_for_event_id"],
            ["events.id"],
            name=op.f("fk_checkin_lists_default_for_event_id_events"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_checkin_lists_event_id_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_lists")),
        sa.UniqueConstraint(
            "default_for_event_id", name=op.f("uq_checkin_lists_default_for_event_id")
        ),
    )
    op.create_index(op.f("ix_checkin_lists_event_id"), "checkin_lists", ["event_id"])
    op.create_table(
        "checkin_list_ticket_types",
        sa.Column("list_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_type_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["checkin_lists.id"],
            name=op.f("fk_checkin_list_ticket_types_list_id_checkin_lists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_type_id"],
            ["ticket_types.id"],
            name=op.f("fk_checkin_list_ticket_types_ticket_type_id_ticket_types"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "list_id", "ticket_type_id", name=op.f("pk_checkin_list_ticket_types")
        ),
    )
    op.create_index(
        op.f("ix_checkin_list_ticket_types_ticket_type_id"),
        "checkin_list_ticket_types",
        ["ticket_type_id"],
    )
    op.create_table(
        "checkin_presences",
        sa.Column("list_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("inside", sa.Boolean(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("exits", sa.Integer(), nullable=False),
        sa.Column("first_entry_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_entry_at", admitone.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_exit_at", admitone.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_gate", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["checkin_lists.id"],
            name=op.f("fk_checkin_presences_list_id_checkin_lists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_checkin_presences_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("list_id", "ticket_id", name=op.f("pk_checkin_presences")),
    )
    op.add_column("checkins", sa.Column("list_id", sa.Uuid(), nullable=True))
    op.add_column(
        "checkins",
        sa.Column(
            "kind",
            sa.Enum("entry", "exit", name="checkinkind", native_enum=False, length=10),
            server_default="entry",
            nullable=False,
        ),
    )
    op.create_index(op.f("ix_checkins_list_id"), "checkins", ["list_id"])

    bind = op.get_bind()
    # 1. A default list per event (ids derived, so the same on every run).
    events = sa.table("events", sa.column("id", sa.Uuid()))
    lists = _lists_table()
    rows = [
        {
            "id": default_list_id(event_id),
            "event_id": event_id,
            "default_for_event_id": event_id,
            "name": DEFAULT_LIST_NAME,
            "all_ticket_types": True,
            "allow_reentry": False,
            "created_at": admitone.db.utcnow(),
        }
        for event_id in bind.execute(sa.select(events.c.id)).scalars()
    ]
    if rows:
        bind.execute(sa.insert(lists), rows)
    # 2. Admissions become presences on the default list.
    bind.execute(
        sa.text(
            "INSERT INTO checkin_presences (list_id, ticket_id, inside, entries, exits,"
            " first_entry_at, last_entry_at, last_gate)"
            " SELECT l.id, t.id, :yes, 1, 0, t.admitted_at, t.admitted_at, t.admitted_gate"
            " FROM tickets t JOIN checkin_lists l ON l.default_for_event_id = t.event_id"
            " WHERE t.admitted_at IS NOT NULL"
        ).bindparams(sa.bindparam("yes", True, type_=sa.Boolean()))
    )
    # 3. Every scan so far was an entry on the default list.
    bind.execute(
        sa.text(
            "UPDATE checkins SET list_id = (SELECT l.id FROM checkin_lists l"
            " WHERE l.default_for_event_id = checkins.event_id)"
        )
    )
    # 4. The admission lives in the presences now.
    op.drop_column("tickets", "admitted_gate")
    op.drop_column("tickets", "admitted_at")


def downgrade() -> None:
    op.add_column(
        "tickets",
        sa.Column("admitted_at", admitone.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column("tickets", sa.Column("admitted_gate", sa.String(length=100), nullable=True))
    op.get_bind().execute(
        sa.text(
            "UPDATE tickets SET"
            " admitted_at = (SELECT p.first_entry_at FROM checkin_presences p"
            "   JOIN checkin_lists l ON l.id = p.list_id"
            "   WHERE l.default_for_event_id = tickets.event_id AND p.ticket_id = tickets.id),"
            " admitted_gate = (SELECT p.last_gate FROM checkin_presences p"
            "   JOIN checkin_lists l ON l.id = p.list_id"
            "   WHERE l.default_for_event_id = tickets.event_id AND p.ticket_id = tickets.id)"
            " WHERE EXISTS (SELECT 1 FROM checkin_presences p"
            "   JOIN checkin_lists l ON l.id = p.list_id"
            "   WHERE l.default_for_event_id = tickets.event_id AND p.ticket_id = tickets.id)"
        )
    )
    op.drop_index(op.f("ix_checkins_list_id"), table_name="checkins")
    op.drop_column("checkins", "kind")
    op.drop_column("checkins", "list_id")
    op.drop_table("checkin_presences")
    op.drop_index(
        op.f("ix_checkin_list_ticket_types_ticket_type_id"),
        table_name="checkin_list_ticket_types",
    )
    op.drop_table("checkin_list_ticket_types")
    op.drop_index(op.f("ix_checkin_lists_event_id"), table_name="checkin_lists")
    op.drop_table("checkin_lists")
