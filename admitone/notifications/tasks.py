"""Jobs of the notifications domain. Each takes ids, re-loads, re-checks, sends once."""

from __future__ import annotations

import uuid
from datetime import timedelta
from email.message import EmailMessage
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from admitone.db import utcnow
from admitone.events.models import Event, EventStatus
from admitone.jobs.registry import JobContext, job, test_checkpoint
from admitone.notifications import service
from admitone.notifications.service import Kind, OrderBundle
from admitone.orders.models import OrderStatus
from admitone.tickets.signing import KeyRing

REMINDER_WINDOW = timedelta(hours=24)


@job("notifications.send_order_confirmation")
def send_order_confirmation(context: JobContext, *, order_id: str) -> bool:
    """The buyer's tickets (PDF each), the .ics and the receipt, once the order is paid."""
    keys = KeyRing(settings=context.settings, database=context.database)

    def build(session: Session, bundle: OrderBundle) -> EmailMessage | None:
        if bundle.order.status != OrderStatus.paid:
            return None  # refunded or cancelled before the job ran: nothing to deliver
        return service.confirmation_message(session, bundle, keys=keys, settings=context.settings)

    return service.send_once(
        context.database,
        context.settings,
        kind=Kind.order_confirmation,
        order_id=uuid.UUID(order_id),
        build=build,
        before_send=partial(test_checkpoint, context, "notifications.send_order_confirmation"),
    )


@job("notifications.send_refund_notice")
def send_refund_notice(
    context: JobContext, *, refund_id: str, ticket_ids: list[str] | None = None
) -> bool:
    """Tell the buyer of one refund (each refund of an order has its own notice, once).

    ``ticket_ids`` are the tickets this refund revoked (none for an amount refunded in
    the Stripe dashboard). A cancelled event's refunds are told by its own message.
    """
    with context.database.session(write=False) as session:
        refund = service.load_refund(session, uuid.UUID(refund_id))
    if refund is None:
        return False
    revoked = frozenset(uuid.UUID(ticket_id) for ticket_id in ticket_ids or ())

    def build(_session: Session, bundle: OrderBundle) -> EmailMessage | None:
        if bundle.event.status == EventStatus.cancelled:
            return None
        return service.refund_message(
            bundle, refund=refund, revoked_ticket_ids=revoked, settings=context.settings
        )

    return service.send_once(
        context.database,
        context.settings,
        kind=Kind.order_refunded,
        order_id=refund.order_id,
        object_id=refund.refund_id,
        build=build,
    )


@job("notifications.send_event_cancelled")
def send_event_cancelled(context: JobContext, *, event_id: str) -> int:
    """Tell every holder of a cancelled event; one message per order, once."""
    with context.database.session(write=False) as session:
        status = session.scalar(select(Event.status).where(Event.id == uuid.UUID(event_id)))
        if status != EventStatus.cancelled:
            return 0
        order_ids = service.orders_to_tell_of_cancellation(session, uuid.UUID(event_id))

    def build(_session: Session, bundle: OrderBundle) -> EmailMessage | None:
        return service.simple_message(bundle, kind=Kind.event_cancelled, settings=context.settings)

    return sum(
        service.send_once(
            context.database,
            context.settings,
            kind=Kind.event_cancelled,
            order_id=order_id,
            build=build,
        )
        for order_id in order_ids
    )


@job("notifications.send_event_reminder")
def send_event_reminder(context: JobContext, *, order_id: str) -> bool:
    def build(_session: Session, bundle: OrderBundle) -> EmailMessage | None:
        if bundle.order.status != OrderStatus.paid or bundle.event.status != EventStatus.published:
            return None
        return service.simple_message(bundle, kind=Kind.event_reminder, settings=context.settings)

    return service.send_once(
        context.database,
        context.settings,
        kind=Kind.event_reminder,
        order_id=uuid.UUID(order_id),
        build=build,
    )


@job("notifications.send_event_reminders")
def send_event_reminders(context: JobContext) -> int:
    """Periodic: a reminder for each paid order of an event starting within 24 hours.

    Each order's reminder is sent once (its delivery marker), so overlapping or repeated
    runs are harmless; returns how many this run sent.
    """
    with context.database.session(write=False) as session:
        order_ids = service.reminder_orders(session, now=utcnow(), within=REMINDER_WINDOW)
    return sum(send_event_reminder(context, order_id=str(order_id)) for order_id in order_ids)
