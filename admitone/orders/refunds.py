"""Refunds of paid orders: in full or some of their tickets (the organizer), and the
full refunds of a cancelled event's orders (``orders.event_cancellation``).

The money goes back through the payment that paid (``payments``), tickets are revoked
and their seats go back on sale. Invariant: an order is refunded once (its guarded
paid -> refunded move), never beyond what was paid. Lock: the order row, its payments,
then its ticket types in id order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from admitone.authorization import OrgAccess
from admitone.config import Settings
from admitone.events import stock
from admitone.jobs import enqueue_after_commit
from admitone.orders import queries
from admitone.orders.details import OrderDetails, reload_details
from admitone.orders.errors import OrderNotFound, OrderNotPaid
from admitone.orders.fulfilment import ORDER_PURPOSE, valid_ticket_seats
from admitone.orders.models import Order, OrderItem, OrderStatus
from admitone.orders.transitions import move_orders
from admitone.payments import refunds as payment_refunds
from admitone.payments.errors import RefundTooLarge, TicketsNotRefundable
from admitone.tickets.models import Ticket, TicketStatus
from admitone.tickets.service import revoke_tickets


def refund_paid_orders(
    session: Session,
    *,
    order_ids: Sequence[uuid.UUID],
    reason: str,
    now: datetime,
    settings: Settings,
) -> list[uuid.UUID]:
    """paid -> refunded for these orders (their rows already locked or locked here, in id
    order); payments refunded through their provider, tickets revoked, seats back on sale.
    Returns the ids that this call refunded."""
    if not order_ids:
        return []
    refunded = move_orders(
        session, order_ids, source=OrderStatus.paid, target=OrderStatus.refunded, now=now
    )
    if not refunded:
        return []
    refunds = payment_refunds.refund_payments_of(
        session,
        purpose=ORDER_PURPOSE,
        purpose_ids=refunded,
        reason=reason,
        now=now,
        settings=settings,
    )
    # Seats still sold are those of the still valid tickets: a partial refund before this
    # one already put its seats back on sale.
    seats = valid_ticket_seats(session, refunded)
    for order_id in refunded:
        revoke_tickets(session, order_id=order_id)
    for refund in refunds:  # a notice per refund (none for a cancelled event's: see job)
        enqueue_after_commit(session, "notifications.send_refund_notice", refund_id=str(refund.id))
    stock.release_sold(session, seats)
    return refunded


def _refund_tickets(
    session: Session,
    *,
    order: Order,
    ticket_ids: Sequence[uuid.UUID],
    reason: str,
    now: datetime,
    settings: Settings,
) -> None:
    """Partial refund: these valid tickets of a paid order are revoked and refunded at
    their price, their seats back on sale; the order stays paid with ``refunded_minor``
    grown (or becomes refunded when no valid ticket is left).

    Invariant: a ticket is refunded once (two concurrent refunds of it: the order row
    lock serializes them and the second finds it revoked) and the order's refunds never
    exceed its total. Lock: the order row, the payment row, the tickets, ticket types.
    """
    status = session.scalar(
        select(Order.status)
        .where(Order.id == order.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if status != OrderStatus.paid:
        raise OrderNotPaid(status=str(status))
    wanted = sorted(set(ticket_ids))
    revoked = session.execute(
        update(Ticket)
        .where(
            Ticket.order_id == order.id,
            Ticket.id.in_(wanted),
            Ticket.status == TicketStatus.valid,
        )
        .values(status=TicketStatus.revoked, revoked_at=now)
        .returning(Ticket.ticket_type_id, Ticket.order_item_id)
        .execution_options(synchronize_session=False)
    ).all()
    if len(revoked) != len(wanted):
        # Rolled back with the whole unit of work: nothing is revoked.
        raise TicketsNotRefundable(requested=len(wanted), refundable=len(revoked))
    prices = dict(
        session.execute(
            select(OrderItem.id, OrderItem.unit_price_minor).where(OrderItem.order_id == order.id)
        ).all()
    )
    amount = sum(prices[item_id] for _type, item_id in revoked)
    still_valid = session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.order_id == order.id, Ticket.status == TicketStatus.valid)
    )
    if still_valid == 0:
        # The last tickets: everything left is refunded, whatever was refunded before
        # (also an amount refunded in the Stripe dashboard).
        moved = move_orders(
            session, [order], source=OrderStatus.paid, target=OrderStatus.refunded, now=now
        )
    else:
        grown = cast(
            CursorResult[Any],
            session.execute(
                update(Order)
                .where(
                    Order.id == order.id,
                    Order.status == OrderStatus.paid,
                    Order.refunded_minor + amount <= Order.total_minor,
                )
                .values(refunded_minor=Order.refunded_minor + amount, updated_at=now)
                .execution_options(synchronize_session=False)
            ),
        )
        moved = [order.id] if grown.rowcount == 1 else []
    if not moved:
        raise RefundTooLarge(requested_minor=amount)
    payment = payment_refunds.paying_payment(session, purpose=ORDER_PURPOSE, purpose_id=order.id)
    refund = None
    if still_valid == 0 and payment is not None:
        refund = payment_refunds.refund_payment(
            session, payment=payment, reason=reason, now=now, settings=settings
        )
    elif amount > 0 and payment is not None:
        refund = payment_refunds.refund_payment_amount(
            session,
            payment_id=payment.id,
            amount_minor=amount,
            reason=reason,
            now=now,
            settings=settings,
        )
    stock.release_sold(session, stock.sum_quantities((type_id, 1) for type_id, _item in revoked))
    if refund is not None:  # its own notice, naming the tickets it revoked
        enqueue_after_commit(
            session,
            "notifications.send_refund_notice",
            refund_id=str(refund.id),
            ticket_ids=[str(ticket_id) for ticket_id in wanted],
        )


def refund_order(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    order_id: uuid.UUID,
    reason: str,
    now: datetime,
    settings: Settings,
    ticket_ids: Sequence[uuid.UUID] | None = None,
) -> OrderDetails:
    """Refund a paid order: in full, or only ``ticket_ids`` (a partial refund).

    Provider refund, tickets revoked, seats back on sale. Invariant: refunded once
    (conditional paid -> refunded), never more than paid. Lock: the order row, its
    payments, then its ticket types in id order.
    """
    order = session.scalar(
        queries.orders_of_event(access.organization.id, event_id).where(Order.id == order_id)
    )
    if order is None:
        raise OrderNotFound()
    if ticket_ids:
        _refund_tickets(
            session,
            order=order,
            ticket_ids=ticket_ids,
            reason=reason or "organizer_refund",
            now=now,
            settings=settings,
        )
        return reload_details(session, order.id)
    if not refund_paid_orders(
        session,
        order_ids=[order.id],
        reason=reason or "organizer_refund",
        now=now,
        settings=settings,
    ):
        current = session.scalar(select(Order.status).where(Order.id == order.id))
        raise OrderNotPaid(status=str(current))
    return reload_details(session, order.id)
