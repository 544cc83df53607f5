"""Check-in lists: who a gate admits (issue 16). The organizer's use cases and the
default list every event gets at publish.

A list admits all the event's ticket types or a chosen set, optionally between
``valid_from`` and ``valid_until``, and allows re-entry after an exit or not. Its rules
are read by the scan (``checkin.service``) in the scan's one query; nothing here is on
the hot path. docs/gates.md has the semantics.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, case, delete, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from admitone.authorization import OrgAccess
from admitone.checkin.errors import (
    CheckinListHasScans,
    CheckinListNotFound,
    CheckinListTicketTypeUnknown,
    CheckinListWindowInvalid,
    DefaultListNotDeletable,
)
from admitone.checkin.models import (
    CheckIn,
    CheckinKind,
    CheckinList,
    CheckinListTicketType,
    CheckinPresence,
    CheckinUndo,
    ScanResult,
)
from admitone.db import insert_once, utcnow
from admitone.events import service as events
from admitone.events.models import Event, TicketType
from admitone.tickets.models import Ticket, TicketStatus

DEFAULT_LIST_NAME = "Default"
QUARTER_HOUR_SECONDS = 15 * 60


def ensure_default_list(session: Session, *, event_id: uuid.UUID) -> uuid.UUID:
    """The event's default list (all ticket types, no re-entry), made if it has none.

    Called at publish (events' outer layer: the API and the organizer page), by the
    demo data, and lazily by a scan or an undo that names no list, so an event published
    any other way (or before lists existed: migration 0013 made theirs) still has one.
    Race-safe without a lock: ``default_for_event_id`` is unique and the insert is
    ``ON CONFLICT DO NOTHING`` (``db.insert_once``); the loser reads the winner's list
    (PostgreSQL makes it wait for the winner's commit on the unique index).
    """
    found = _default_list_id(session, event_id)
    if found is not None:
        return found
    insert_once(
        session,
        CheckinList,
        {
            "id": uuid.uuid4(),
            "event_id": event_id,
            "default_for_event_id": event_id,
            "name": DEFAULT_LIST_NAME,
            "all_ticket_types": True,
            "allow_reentry": False,
            "valid_from": None,
            "valid_until": None,
            "created_at": utcnow(),
        },
    )
    made = _default_list_id(session, event_id)
    if made is None:  # pragma: no cover - the insert or its winner is there
        raise CheckinListNotFound()
    return made


def _default_list_id(session: Session, event_id: uuid.UUID) -> uuid.UUID | None:
    return session.scalar(
        select(CheckinList.id).where(CheckinList.default_for_event_id == event_id)
    )


@dataclass(frozen=True)
class ListView:
    """A list with the ticket types it admits (None: all of the event's)."""

    checkin_list: CheckinList
    ticket_type_ids: list[uuid.UUID] | None


def _views(session: Session, found: Sequence[CheckinList]) -> list[ListView]:
    restricted = [item.id for item in found if not item.all_ticket_types]
    chosen: dict[uuid.UUID, list[uuid.UUID]] = {list_id: [] for list_id in restricted}
    if restricted:
        rows = session.execute(
            select(CheckinListTicketType.list_id, CheckinListTicketType.ticket_type_id)
            .where(CheckinListTicketType.list_id.in_(restricted))
            .order_by(CheckinListTicketType.ticket_type_id)
        ).all()
        for list_id, ticket_type_id in rows:
            chosen[list_id].append(ticket_type_id)
    return [ListView(item, None if item.all_ticket_types else chosen[item.id]) for item in found]


def _lists_of(event_id: uuid.UUID) -> Any:
    # Default first, then by creation.
    return (
        select(CheckinList)
        .where(CheckinList.event_id == event_id)
        .order_by(
            CheckinList.default_for_event_id.is_(None),
            CheckinList.created_at,
            CheckinList.id,
        )
    )


def list_lists(session: Session, *, access: OrgAccess, event_id: uuid.UUID) -> list[ListView]:
    """The event's lists, the default first. Read-only (a published event missing its
    default list shows without one until a scan or publish makes it)."""
    event = events.get_event(session, access=access, event_id=event_id)
    return _views(session, session.scalars(_lists_of(event.id)).all())


def lists_of_event(session: Session, *, event_id: uuid.UUID) -> list[ListView]:
    """The lists of an event the caller was already checked for (the scanner page)."""
    return _views(session, session.scalars(_lists_of(event_id)).all())


def _get_list(session: Session, *, event: Event, list_id: uuid.UUID) -> CheckinList:
    found = session.scalar(
        select(CheckinList).where(CheckinList.id == list_id, CheckinList.event_id == event.id)
    )
    if found is None:
        raise CheckinListNotFound()
    return found


def get_list(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, list_id: uuid.UUID
) -> ListView:
    event = events.get_event(session, access=access, event_id=event_id)
    return _views(session, [_get_list(session, event=event, list_id=list_id)])[0]


def _check_types(event: Event, ticket_type_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    known = {ticket_type.id for ticket_type in event.ticket_types}
    unknown = sorted({str(item) for item in ticket_type_ids if item not in known})
    if unknown:
        raise CheckinListTicketTypeUnknown(ticket_type_ids=unknown)
    return sorted(set(ticket_type_ids))


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _check_window(valid_from: datetime | None, valid_until: datetime | None) -> None:
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        raise CheckinListWindowInvalid(
            valid_from=valid_from.isoformat(), valid_until=valid_until.isoformat()
        )


def _set_types(session: Session, list_id: uuid.UUID, ticket_type_ids: list[uuid.UUID]) -> None:
    session.execute(delete(CheckinListTicketType).where(CheckinListTicketType.list_id == list_id))
    session.add_all(
        CheckinListTicketType(list_id=list_id, ticket_type_id=ticket_type_id)
        for ticket_type_id in ticket_type_ids
    )


def create_list(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    name: str,
    ticket_type_ids: Sequence[uuid.UUID] | None,
    allow_reentry: bool,
    valid_from: datetime | None,
    valid_until: datetime | None,
) -> ListView:
    """A new list of the organization's event. ``ticket_type_ids`` None: all types (also
    those added later); else a non-empty set of the event's types (422 otherwise).
    No lock: a list is a new row."""
    event = events.get_event(session, access=access, event_id=event_id)
    chosen = None if ticket_type_ids is None else _check_types(event, ticket_type_ids)
    valid_from, valid_until = _utc(valid_from), _utc(valid_until)
    _check_window(valid_from, valid_until)
    created = CheckinList(
        event_id=event.id,
        name=name,
        all_ticket_types=chosen is None,
        allow_reentry=allow_reentry,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    session.add(created)
    session.flush()
    if chosen is not None:
        _set_types(session, created.id, chosen)
        session.flush()
    return _views(session, [created])[0]


def update_list(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    list_id: uuid.UUID,
    changes: dict[str, Any],
) -> ListView:
    """Change a list's name, types, re-entry or window (only the keys in ``changes``).

    A scan reads the list's rules in its one statement: a change applies to the scans
    that start after it commits (the default list may be changed too, not removed).
    """
    event = events.get_event(session, access=access, event_id=event_id)
    found = _get_list(session, event=event, list_id=list_id)
    valid_from = _utc(changes.get("valid_from", found.valid_from))
    valid_until = _utc(changes.get("valid_until", found.valid_until))
    _check_window(valid_from, valid_until)
    if "ticket_type_ids" in changes:
        chosen = changes["ticket_type_ids"]
        if chosen is None:
            found.all_ticket_types = True
            _set_types(session, found.id, [])
        else:
            found.all_ticket_types = False
            _set_types(session, found.id, _check_types(event, chosen))
    for field in ("name", "allow_reentry"):
        if field in changes and changes[field] is not None:
            setattr(found, field, changes[field])
    found.valid_from = valid_from
    found.valid_until = valid_until
    session.flush()
    return _views(session, [found])[0]


def delete_list(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, list_id: uuid.UUID
) -> None:
    """Delete a list that has never been scanned. The default list, and a list with
    scans (their record names it), answer 409 with a stable code."""
    event = events.get_event(session, access=access, event_id=event_id)
    found = _get_list(session, event=event, list_id=list_id)
    if found.is_default:
        raise DefaultListNotDeletable()
    scanned = session.scalar(select(CheckIn.id).where(CheckIn.list_id == found.id).limit(1))
    if scanned is not None:
        raise CheckinListHasScans()
    session.delete(found)
    session.flush()


def deletable_list_ids(session: Session, *, event_id: uuid.UUID) -> set[uuid.UUID]:
    """The lists of an event the caller was already checked for that ``delete_list``
    would delete: not the default one, never scanned (the organizer page's buttons)."""
    scanned = select(CheckIn.id).where(CheckIn.list_id == CheckinList.id).exists()
    return set(
        session.scalars(
            select(CheckinList.id).where(
                CheckinList.event_id == event_id,
                CheckinList.default_for_event_id.is_(None),
                ~scanned,
            )
        )
    )


# --- statistics per list ---------------------------------------------------------------


@dataclass(frozen=True)
class TypeCount:
    ticket_type_id: uuid.UUID
    name: str
    inside: int
    admitted: int
    total: int


@dataclass(frozen=True)
class GateCount:
    gate: str | None
    entries: int
    exits: int


@dataclass(frozen=True)
class QuarterCount:
    starts_at: datetime
    entries: int
    exits: int


@dataclass(frozen=True)
class ListStats:
    """A list's counters: ``inside`` now, ``admitted`` (tickets with at least one entry
    on it), ``total`` valid tickets it admits, all of valid tickets (a refunded ticket
    leaves them); entries and exits by gate and by quarter hour (UTC), from the
    successful scans that no supervisor undid."""

    list_id: uuid.UUID
    inside: int
    admitted: int
    total: int
    by_ticket_type: list[TypeCount]
    by_gate: list[GateCount]
    by_quarter_hour: list[QuarterCount]


def _quarter_of(session: Session, column: Any) -> ColumnElement[int]:
    """The start of a time's quarter hour as seconds since the epoch (UTC), per dialect."""
    if session.get_bind().dialect.name == "postgresql":
        seconds: Any = func.floor(func.extract("epoch", column) / QUARTER_HOUR_SECONDS)
    else:  # SQLite stores the UTC time as text; %s reads it as seconds
        seconds = func.cast(func.strftime("%s", column), Integer) / QUARTER_HOUR_SECONDS
    return func.cast(seconds, Integer) * QUARTER_HOUR_SECONDS


def list_stats(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, list_id: uuid.UUID
) -> ListStats:
    """The counters of one list (organizer). Four read-only aggregate queries, no lock:
    a snapshot per query is fine for counters."""
    event = events.get_event(session, access=access, event_id=event_id)
    found = _get_list(session, event=event, list_id=list_id)
    return stats_of_list(session, event_id=event.id, checkin_list=found)


def stats_of_list(session: Session, *, event_id: uuid.UUID, checkin_list: CheckinList) -> ListStats:
    """``list_stats`` for a list already found in an event the caller may see."""
    on_list = (CheckinPresence.list_id == checkin_list.id) & (
        CheckinPresence.ticket_id == Ticket.id
    )
    types = select(TicketType.id, TicketType.name).where(TicketType.event_id == event_id)
    if not checkin_list.all_ticket_types:
        types = types.where(
            TicketType.id.in_(
                select(CheckinListTicketType.ticket_type_id).where(
                    CheckinListTicketType.list_id == checkin_list.id
                )
            )
        )
    type_rows = session.execute(
        types.add_columns(TicketType.position, TicketType.created_at).order_by(
            TicketType.position, TicketType.created_at, TicketType.id
        )
    ).all()
    valid = Ticket.status == TicketStatus.valid
    entered = valid & CheckinPresence.ticket_id.is_not(None)
    inside = entered & CheckinPresence.inside.is_(True)
    counts = {
        row.ticket_type_id: row
        for row in session.execute(
            select(
                Ticket.ticket_type_id,
                func.coalesce(func.sum(case((entered, 1), else_=0)), 0).label("admitted"),
                func.coalesce(func.sum(case((inside, 1), else_=0)), 0).label("inside"),
                func.coalesce(func.sum(case((valid, 1), else_=0)), 0).label("total"),
            )
            .select_from(Ticket)
            .outerjoin(CheckinPresence, on_list)
            .where(Ticket.event_id == event_id)
            .group_by(Ticket.ticket_type_id)
        ).all()
    }
    by_type = []
    for row in type_rows:
        count = counts.get(row.id)
        by_type.append(
            TypeCount(
                ticket_type_id=row.id,
                name=row.name,
                inside=int(count.inside) if count else 0,
                admitted=int(count.admitted) if count else 0,
                total=int(count.total) if count else 0,
            )
        )
    # Valid tickets only (a refunded ticket leaves the counts, as it leaves the total);
    # tickets of types since taken off the list still count: they entered.
    totals = session.execute(
        select(
            func.count(CheckinPresence.ticket_id),
            func.coalesce(func.sum(case((CheckinPresence.inside.is_(True), 1), else_=0)), 0),
        )
        .join(Ticket, Ticket.id == CheckinPresence.ticket_id)
        .where(CheckinPresence.list_id == checkin_list.id, valid)
    ).one()
    successful = (
        select(CheckIn.gate, CheckIn.kind, CheckIn.scanned_at)
        .outerjoin(CheckinUndo, CheckinUndo.checkin_id == CheckIn.id)
        .where(
            CheckIn.event_id == event_id,
            CheckIn.list_id == checkin_list.id,
            CheckIn.result.in_([ScanResult.admitted, ScanResult.exited]),
            CheckinUndo.id.is_(None),
        )
        .subquery()
    )
    is_entry = successful.c.kind == CheckinKind.entry
    entries = func.coalesce(func.sum(case((is_entry, 1), else_=0)), 0).label("entries")
    exits = func.coalesce(func.sum(case((is_entry, 0), else_=1)), 0).label("exits")
    gates = session.execute(
        select(successful.c.gate, entries, exits)
        .group_by(successful.c.gate)
        .order_by(successful.c.gate)
    ).all()
    quarter = _quarter_of(session, successful.c.scanned_at).label("quarter")
    quarters = session.execute(
        select(quarter, entries, exits).group_by(quarter).order_by(quarter)
    ).all()
    return ListStats(
        list_id=checkin_list.id,
        inside=int(totals[1]),
        admitted=int(totals[0]),
        total=sum(item.total for item in by_type),
        by_ticket_type=by_type,
        by_gate=[GateCount(gate=row.gate, entries=row.entries, exits=row.exits) for row in gates],
        by_quarter_hour=[
            QuarterCount(
                starts_at=datetime.fromtimestamp(int(row.quarter), tz=UTC),
                entries=row.entries,
                exits=row.exits,
            )
            for row in quarters
        ],
    )
