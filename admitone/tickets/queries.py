"""Scoped statements for tickets: every lookup of a ticket by id goes through here.

A ticket is readable by the account that placed its order, by whoever holds its order
token (guest checkout), and by members of the event's organization whose role may view
orders (``authorization``). Anyone else gets nothing, which the API turns into a 404.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, Select, exists, false, or_, select

from admitone.accounts.models import User
from admitone.authorization import Permission, acts_everywhere_with, roles_allowed
from admitone.events.models import Event, TicketType
from admitone.orders.models import Order
from admitone.organizations.models import Membership
from admitone.tickets.models import Ticket

ORDER_VIEWER_ROLES = roles_allowed(Permission.view_orders)


def ticket_rows() -> Select[Ticket, Order, Event, TicketType]:
    """Tickets with what a ticket page shows: its order, event and ticket type."""
    return (
        select(Ticket, Order, Event, TicketType)
        .join(Order, Order.id == Ticket.order_id)
        .join(Event, Event.id == Ticket.event_id)
        .join(TicketType, TicketType.id == Ticket.ticket_type_id)
    )


def order_readable_by(
    *, user: User | None, order_token_hash: str | None
) -> ColumnElement[bool] | None:
    """Who may read an order, its tickets and documents (see the module docstring), as a
    condition on ``Order``; None for a caller who may view the orders of every
    organization (a platform admin), who reads all."""
    if acts_everywhere_with(user, Permission.view_orders):
        return None
    allowed: list[ColumnElement[bool]] = []
    if user is not None:
        allowed.append(Order.user_id == user.id)
        allowed.append(
            exists().where(
                Membership.organization_id == Order.organization_id,
                Membership.user_id == user.id,
                Membership.role.in_(ORDER_VIEWER_ROLES),
            )
        )
    if order_token_hash is not None:
        allowed.append(Order.access_token_hash == order_token_hash)
    return or_(*allowed) if allowed else false()


def readable_tickets(
    *, user: User | None, order_token_hash: str | None
) -> Select[Ticket, Order, Event, TicketType]:
    """Tickets the caller may read (``order_readable_by``)."""
    condition = order_readable_by(user=user, order_token_hash=order_token_hash)
    return ticket_rows() if condition is None else ticket_rows().where(condition)


def buyer_tickets(
    *, order_id: uuid.UUID, user_id: uuid.UUID | None, order_token_hash: str | None
) -> Select[Ticket, Event, TicketType]:
    """An order's tickets, with their event and type, as the order's buyer reaches them:
    their account or the order token (``authorization.BuyerProof``). Organizers and
    platform admins do not: what the buyer alone may change goes through here."""
    reached: list[ColumnElement[bool]] = []
    if user_id is not None:
        reached.append(Order.user_id == user_id)
    if order_token_hash is not None:
        reached.append(Order.access_token_hash == order_token_hash)
    return (
        select(Ticket, Event, TicketType)
        .join(Order, Order.id == Ticket.order_id)
        .join(Event, Event.id == Ticket.event_id)
        .join(TicketType, TicketType.id == Ticket.ticket_type_id)
        .where(Ticket.order_id == order_id, or_(*reached) if reached else false())
    )


def tickets_of_user(user_id: uuid.UUID) -> Select[Ticket, Order, Event, TicketType]:
    """The tickets of the orders an account placed ("my tickets")."""
    return ticket_rows().where(Order.user_id == user_id)
