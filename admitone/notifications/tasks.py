"""Jobs of the notifications domain. Each takes ids, re-loads, re-checks, sends once."""

from __future__ import annotations

import smtplib
import uuid
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from functools import partial

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from admitone.db import utcnow
from admitone.events.models import Event, EventStatus
from admitone.jobs.registry import TRANSIENT_ERRORS, JobContext, job, test_checkpoint
from admitone.notifications import service
from admitone.notifications.service import Kind, OrderBundle, RefundFacts
from admitone.orders.models import OrderStatus
from admitone.tickets.signing import KeyRing

log = structlog.get_logger(__name__)

REMINDER_WINDOW = timedelta(hours=24)
# The catch-up of lost confirmations: orders paid at least this long ago (their own job,
# retries included, has had its chance: Celery's 8 backed-off retries take about 4
# minutes in all, the in-process runner's 5 about 30 seconds)...
CATCH_UP_SETTLED_FOR = timedelta(minutes=10)
# ...and at most this long ago (a buyer is not told of an order days later).
CATCH_UP_WITHIN = timedelta(days=3)
CATCH_UP_BATCH = 200
# SMTP answers that refuse one message, not the server being away.
MESSAGE_REFUSED = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)


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


@job("notifications.resend_order_confirmation")
def resend_order_confirmation(context: JobContext, *, order_id: str, resend_id: str) -> bool:
    """The confirmation again, at the organizer's request (``service.resend_order_confirmation``);
    once per request (its marker is the resend's id), and only while the order is paid."""
    keys = KeyRing(settings=context.settings, database=context.database)
    resend = uuid.UUID(resend_id)

    def build(session: Session, bundle: OrderBundle) -> EmailMessage | None:
        if bundle.order.status != OrderStatus.paid:
            return None  # refunded since the request: nothing to deliver
        return service.confirmation_message(
            session, bundle, keys=keys, settings=context.settings, object_id=resend
        )

    return service.send_once(
        context.database,
        context.settings,
        kind=Kind.order_confirmation_resent,
        order_id=uuid.UUID(order_id),
        object_id=resend,
        build=build,
    )


@job("notifications.send_refund_notice")
def send_refund_notice(
    context: JobContext, *, refund_id: str, ticket_ids: list[str] | None = None
) -> bool:
    """Tell the buyer of one refund (each refund of an order has its own notice, once).

    ``ticket_ids`` are the tickets this refund revoked (none for an amount refunded in
    the Stripe dashboard). A cancelled event's refunds are told by its own message.
    """
    revoked = frozenset(uuid.UUID(ticket_id) for ticket_id in ticket_ids or ())

    def build(bundle: OrderBundle, refund: RefundFacts) -> EmailMessage | None:
        if bundle.event.status == EventStatus.cancelled:
            return None
        return service.refund_message(
            bundle, refund=refund, revoked_ticket_ids=revoked, settings=context.settings
        )

    return _send_once_about_refund(context, refund_id, kind=Kind.order_refunded, build=build)


@job("notifications.send_payment_returned")
def send_payment_returned(context: JobContext, *, refund_id: str) -> bool:
    """Tell the buyer that a payment could not be used and was refunded automatically
    (orders.fulfilment: a late or a second payment). Once per refund."""
    return _send_once_about_refund(
        context,
        refund_id,
        kind=Kind.payment_returned,
        build=lambda bundle, refund: service.payment_returned_message(
            bundle, refund=refund, settings=context.settings
        ),
    )


def _send_once_about_refund(
    context: JobContext,
    refund_id: str,
    *,
    kind: str,
    build: Callable[[OrderBundle, RefundFacts], EmailMessage | None],
) -> bool:
    """Send the mail of ``kind`` about one refund, once: its delivery marker is keyed by
    the refund. False if the refund is gone."""
    with context.database.session(write=False) as session:
        refund = service.load_refund(session, uuid.UUID(refund_id))
    if refund is None:
        return False
    return service.send_once(
        context.database,
        context.settings,
        kind=kind,
        order_id=refund.order_id,
        object_id=refund.refund_id,
        build=lambda _session, bundle: build(bundle, refund),
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


@job("notifications.catch_up_confirmations")
def catch_up_confirmations(context: JobContext, *, settled_for_seconds: int | None = None) -> int:
    """Periodic: send the confirmation of paid orders whose job was lost.

    A job is handed to the queue after the commit; if the process dies in between, or
    Redis refuses the message, nothing else would ever send it. The delivery marker
    tells which orders never got theirs; sending goes through the confirmation job's
    own function, so its checks and marker apply (a job that is only late sends once
    too). ``settled_for_seconds`` overrides CATCH_UP_SETTLED_FOR (tests, a manual run).
    Returns how many this run sent; one order's bug does not hold up the others.
    """
    settled_for = (
        CATCH_UP_SETTLED_FOR
        if settled_for_seconds is None
        else timedelta(seconds=settled_for_seconds)
    )
    with context.database.session(write=False) as session:
        order_ids = service.unconfirmed_orders(
            session,
            now=utcnow(),
            settled_for=settled_for,
            within=CATCH_UP_WITHIN,
            limit=CATCH_UP_BATCH,
        )
    sent = 0
    for order_id in order_ids:
        try:
            sent += send_order_confirmation(context, order_id=str(order_id))
        except MESSAGE_REFUSED:
            # This message only (a dead address): the others may still go.
            log.warning("confirmation refused by the mail server", order_id=str(order_id))
        except TRANSIENT_ERRORS:
            raise  # the mail server or database is down: the whole run is retried later
        except Exception:
            log.exception("confirmation catch-up failed", order_id=str(order_id))
    if sent:
        log.warning("lost confirmations sent by the catch-up", count=sent)
    return sent
