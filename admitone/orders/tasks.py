"""Jobs of the orders domain: the hold sweep, and the refunds of a cancelled event.

The hold sweep (``orders.expire_holds``), a periodic job (admitone/domains.py): every
``hold_sweep_interval_seconds`` Celery beat runs it with Redis, the app's in-process loop
without (unless ``hold_sweep_enabled`` is off), and ``admitone expire-holds`` runs it
once. Correctness never depends on it (expired holds stop counting at once; the next
write on the event releases them), so a missed or doubled run is harmless.

The refunds of a cancelled event (``orders.refund_cancelled_event``), asked for by the
cancellation, and their periodic catch-up (``orders.catch_up_cancelled_refunds``).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog

from admitone.db import Database, utcnow
from admitone.jobs.registry import TRANSIENT_ERRORS, JobContext, TransientJobError, enqueue, job
from admitone.orders import event_cancellation, expiry, idempotency
from admitone.payments.errors import PaymentProviderError

log = structlog.get_logger(__name__)

# The refund job of a cancellation has had its chance (and its retries) after this long;
# events cancelled longer ago than CATCH_UP_WITHIN are left to the organizer.
CATCH_UP_SETTLED_FOR = timedelta(minutes=10)
CATCH_UP_WITHIN = timedelta(days=3)


@job("orders.refund_cancelled_event")
def refund_cancelled_event(context: JobContext, *, event_id: str) -> int:
    """Refund every paid order of a cancelled event, each in a unit of work of its own,
    then tell the buyers (one message per refunded order, once). Returns orders refunded.

    A refund the provider refuses leaves its order paid and the others go on; the job
    then fails as transient, so the runner tries again later, and a retry refunds only
    what is still paid (each refund's idempotency key comes from its payment's state).
    """
    refunded, left = 0, 0
    with context.database.session(write=False) as session:
        order_ids = event_cancellation.paid_orders_of_cancelled_event(session, uuid.UUID(event_id))
    for order_id in order_ids:
        try:
            with context.database.session() as session:
                refunded += event_cancellation.refund_cancelled_event_order(
                    session, order_id=order_id, now=utcnow(), settings=context.settings
                )
        except PaymentProviderError as exc:
            left += 1
            log.warning("refund refused", order_id=str(order_id), error=str(exc))
        except TRANSIENT_ERRORS:
            raise  # the database is away: the whole job is retried later
        except Exception:  # this order only: the others are still refunded
            left += 1
            log.exception("refund failed", order_id=str(order_id))
    enqueue("notifications.send_event_cancelled", event_id=event_id)
    if left:
        raise TransientJobError(f"{left} orders of cancelled event {event_id} not refunded")
    return refunded


@job("orders.catch_up_cancelled_refunds")
def catch_up_cancelled_refunds(
    context: JobContext, *, settled_for_seconds: int | None = None
) -> int:
    """Periodic: run the refund job again for events cancelled within CATCH_UP_WITHIN,
    at least CATCH_UP_SETTLED_FOR ago, that still have paid orders: their job was lost
    (the process died after the commit, Redis refused the message) or gave up on a
    refused refund. ``settled_for_seconds`` overrides CATCH_UP_SETTLED_FOR (tests).
    Returns the orders this run refunded; one event's refusals do not hold up the others.
    """
    settled_for = (
        CATCH_UP_SETTLED_FOR
        if settled_for_seconds is None
        else timedelta(seconds=settled_for_seconds)
    )
    now = utcnow()
    with context.database.session(write=False) as session:
        event_ids = event_cancellation.cancelled_events_with_paid_orders(
            session, cancelled_after=now - CATCH_UP_WITHIN, cancelled_before=now - settled_for
        )
    refunded = 0
    for event_id in event_ids:
        try:
            refunded += refund_cancelled_event(context, event_id=str(event_id))
        except TransientJobError as exc:  # orders left paid: the next run tries again
            log.warning("cancelled event refunds still refused", error=str(exc))
        except TRANSIENT_ERRORS:
            raise  # the database is away: the whole run is retried later
        except Exception:  # this event only
            log.exception("cancelled event refunds failed", event_id=str(event_id))
    if refunded:
        log.warning("refunds of cancelled events made by the catch-up", count=refunded)
    return refunded


@job("orders.expire_holds")
def expire_holds_job(context: JobContext) -> int:
    """Periodic: expire every hold past its time (idempotent: a doubled run expires
    nothing more). Returns the orders expired."""
    expired = expire_holds(context.database)
    if expired:
        log.info("orders.expire_holds", expired=expired)
    return expired


def expire_holds(database: Database) -> int:
    """One run of ``orders.expire_holds`` in its own unit of work; returns orders expired."""
    with database.session() as session:
        now = utcnow()
        expired = expiry.expire_holds(session, now=now)
        idempotency.purge_idempotency_keys(session, now=now)
    return expired
