"""Check-in's statements for the domains that check-in builds on, so that they read
check-in's state without naming its tables or importing it (check-in imports tickets).

The outer layer (routes, pages) takes them from here and hands them to those domains'
services: ``tickets.service.set_holder_name`` is given ``ticket_admitted()``, the
ticket API's reads ``first_entry_at()``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, select

from admitone.checkin.models import CheckinList, CheckinPresence
from admitone.tickets.models import Ticket


def ticket_admitted() -> ColumnElement[bool]:
    """Whether the enclosing statement's ``Ticket`` has been admitted: an entry on any of
    its event's check-in lists (docs/gates.md). An EXISTS correlated to ``tickets``, for
    a SELECT's columns or an UPDATE's WHERE; it reaches the presences through the event's
    lists, so each probe uses the presences' key ``(list_id, ticket_id)``."""
    return exists().where(
        CheckinList.event_id == Ticket.event_id,
        CheckinPresence.list_id == CheckinList.id,
        CheckinPresence.ticket_id == Ticket.id,
        CheckinPresence.entries > 0,
    )


def first_entry_at() -> ColumnElement[datetime]:
    """The enclosing statement's ``Ticket``'s first entry on any of its event's check-in
    lists, NULL if it never entered: what a ticket shows as ``admitted_at``, as
    ``checkin.service.first_entries`` reads it for a list of ticket ids. A scalar
    subquery correlated to ``tickets``, for a SELECT's columns, so that the tickets and
    their first entries are one statement; through the event's lists, as above."""
    return (
        select(func.min(CheckinPresence.first_entry_at))
        .join(CheckinList, CheckinList.id == CheckinPresence.list_id)
        .where(CheckinList.event_id == Ticket.event_id, CheckinPresence.ticket_id == Ticket.id)
        .correlate(Ticket)
        .scalar_subquery()
    )
