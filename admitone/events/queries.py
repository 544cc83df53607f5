"""Scoped statements for events and ticket types.

Every organizer lookup of an event or a ticket type goes through ``events_of`` or
``ticket_types_of``, which filter by the caller's organization: a row of another
organization is simply not found (404), so ids do not leak. The public builders only
ever see published (or cancelled) events.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, Select, exists, func, select

from admitone.events.models import Event, EventStatus, TicketType
from admitone.orders.models import Order, OrderItem
from admitone.organizations.models import Membership, Role

# What the public may see: drafts never leave the organizer's back office.
PUBLIC_STATUSES = (EventStatus.published, EventStatus.cancelled)


def events_of(organization_id: uuid.UUID) -> Select[Event]:
    return select(Event).where(Event.organization_id == organization_id)


def ticket_types_of(organization_id: uuid.UUID, event_id: uuid.UUID) -> Select[TicketType]:
    return (
        select(TicketType)
        .join(Event, Event.id == TicketType.event_id)
        .where(Event.organization_id == organization_id, TicketType.event_id == event_id)
    )


def public_events() -> Select[Event]:
    return select(Event).where(Event.status.in_(PUBLIC_STATUSES))


def draft_events() -> Select[Event]:
    """Drafts of any organization: only for ``catalogue.get_draft_preview``, which checks
    the caller's membership of the event's organization before showing one."""
    return select(Event).where(Event.status == EventStatus.draft)


def member_role(organization_id: uuid.UUID, user_id: uuid.UUID) -> Select[Role]:
    return select(Membership.role).where(
        Membership.organization_id == organization_id, Membership.user_id == user_id
    )


def event_has_orders(event_id: uuid.UUID) -> Select[bool]:
    return select(exists().where(Order.event_id == event_id))


def ticket_type_has_orders(ticket_type_id: uuid.UUID) -> Select[bool]:
    return select(exists().where(OrderItem.ticket_type_id == ticket_type_id))


def ticket_type_in_an_order() -> ColumnElement[bool]:
    """Whether the ``TicketType`` of the enclosing statement appears in any order."""
    return exists().where(OrderItem.ticket_type_id == TicketType.id)


def cheapest_active_prices() -> Select[uuid.UUID, int]:
    """(event id, lowest active price): the price a catalogue shows and filters on."""
    return (
        select(TicketType.event_id, func.min(TicketType.price_minor).label("price_from"))
        .where(TicketType.is_active.is_(True))
        .group_by(TicketType.event_id)
    )
