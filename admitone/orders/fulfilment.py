"""The "order" payment purpose: what a payment of a ticket order does to the order.

Registered with payments (``payments.purposes``) when this module is imported; the
modules that open or refund an order's payments import ``ORDER_PURPOSE`` from here, so
any process that pays for orders has it. Payments moves the payment row and calls:

* ``payment_succeeded``: fulfil the paid order. It moves pending -> paid (a guarded
  transition: once, whatever the number of deliveries), its held seats become sold and
  one ticket per seat is issued. If the hold had expired, the seats are taken again
  through ``stock.take_seats`` when they are free; when they are not, or the order
  was cancelled, its event is off sale, or another payment paid it already, the
  payment is refunded at once and the buyer told why.
* ``payment_failed``: nothing changes; the order stays pending and may be paid again.
* ``refunded_at_provider``: a refund made in the Stripe dashboard; the order's
  ``refunded_minor`` follows, and a full refund revokes its tickets.

Only the order's buyer (its account or its secret token) may press a test checkout's
buttons: a stranger gets PaymentNotFound, checked on the order row each step reads
anyway. Lock order, as everywhere (docs/stock.md): the payment row (payments moved
it), the order row, then the ticket types in id order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from admitone import metrics
from admitone.authorization import BuyerProof, proves_buyer
from admitone.config import Settings
from admitone.db_direct import DirectLoad, load_direct
from admitone.events import stock
from admitone.events.models import Event, EventStatus
from admitone.jobs import enqueue_after_commit
from admitone.metrics import count_after_commit
from admitone.orders.expiry import release_expired_holds
from admitone.orders.models import Order, OrderItem, OrderStatus
from admitone.orders.transitions import move_orders
from admitone.payments import refunds as payment_refunds
from admitone.payments.errors import PaymentNotFound
from admitone.payments.models import Payment, Refund
from admitone.payments.purposes import Fulfilment, PaidFor, register_purpose
from admitone.tickets.models import Ticket, TicketStatus
from admitone.tickets.service import issue_tickets, revoke_tickets

# The purpose under which payments pay for orders (payments.purpose).
ORDER_PURPOSE = "order"


class LineSeats(NamedTuple):
    """An order line's seats, as paying it needs them (``tickets.service.OrderLineSeats``)."""

    id: uuid.UUID
    ticket_type_id: uuid.UUID
    quantity: int


def require_buyer(order: Order, payer: BuyerProof | None) -> None:
    """PaymentNotFound unless ``payer`` reaches ``order`` (no check when None: a provider's
    verified notification)."""
    # A stranger gets the 404 of a payment that does not exist (ids do not leak); the
    # unit of work rolls back what this notification already wrote, so nothing changes.
    if payer is not None and not proves_buyer(
        payer, buyer_user_id=order.user_id, order_token_hash=order.access_token_hash
    ):
        raise PaymentNotFound()


def order_payment(
    session: Session, *, payment_id: uuid.UUID, provider: str
) -> tuple[Payment, Order]:
    """A payment of ``provider`` for an order, with the order (the test provider's pages)."""
    row = session.execute(
        select(Payment, Order)
        .join(Order, Order.id == Payment.purpose_id)
        .where(
            Payment.id == payment_id,
            Payment.provider == provider,
            Payment.purpose == ORDER_PURPOSE,
        )
    ).first()
    if row is None:
        raise PaymentNotFound()
    payment, order = row
    return payment, order


def valid_ticket_seats(session: Session, order_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Seats per ticket type of these orders' still valid tickets (those still sold)."""
    rows = session.execute(
        select(Ticket.ticket_type_id, func.count())
        .where(Ticket.order_id.in_(list(order_ids)), Ticket.status == TicketStatus.valid)
        .group_by(Ticket.ticket_type_id)
    )
    return {ticket_type_id: int(quantity) for ticket_type_id, quantity in rows}


def record_provider_refund(
    session: Session, *, order_id: uuid.UUID, amount_minor: int, full: bool, now: datetime
) -> None:
    """A refund made at the provider itself (the Stripe dashboard), already recorded on
    its payment: the order's ``refunded_minor`` follows; a full refund of a paid order
    moves it to refunded, revokes its tickets and puts their seats back on sale.

    The caller holds the order row (FOR UPDATE). Lock: then the ticket types in id order.
    """
    if full:
        if move_orders(
            session, [order_id], source=OrderStatus.paid, target=OrderStatus.refunded, now=now
        ):
            seats = valid_ticket_seats(session, [order_id])
            revoke_tickets(session, order_id=order_id)
            stock.release_sold(session, seats)
        return
    session.execute(
        update(Order)
        .where(Order.id == order_id, Order.refunded_minor + amount_minor <= Order.total_minor)
        .values(refunded_minor=Order.refunded_minor + amount_minor, updated_at=now)
        .execution_options(synchronize_session=False)
    )


# Declared once: the order paid for, its event's status and its lines, read for every paid
# order (docs/hot-path.md). The lines come as plain columns: building
# ORM objects for them cost more than the query.
_ORDER_TO_FULFIL = DirectLoad(
    select(Order, Event.status, OrderItem.id, OrderItem.ticket_type_id, OrderItem.quantity)
    .join(Event, Event.id == Order.event_id)
    .join(OrderItem, OrderItem.order_id == Order.id)
    .where(Order.id == bindparam("order_id"))
    .order_by(OrderItem.ticket_type_id)
)


def _lock_status(session: Session, order: Order) -> OrderStatus:
    # FOR UPDATE (PostgreSQL): the order row is ours before any ticket type (lock order).
    status = session.scalar(select(Order.status).where(Order.id == order.id).with_for_update())
    assert status is not None  # orders are never deleted
    set_committed_value(order, "status", status)  # a read: the loaded order follows it
    return status


def _paid_for(order: Order) -> PaidFor:
    return PaidFor(title=f"Order {order.code}", status=str(order.status))


def _fulfil(
    session: Session,
    *,
    payment: Payment,
    order: Order,
    event_on_sale: bool,
    items: list[LineSeats],
    now: datetime,
    settings: Settings,
) -> bool:
    """Pay ``order`` with the succeeded ``payment`` and issue its tickets, or refund the
    payment; True when the order is paid by it.

    Invariants: tickets are issued once per order; nothing is ever oversold (a late
    payment takes seats only through ``stock.take_seats``, otherwise it is refunded);
    an event no longer on sale sells nothing (the payment is refunded).
    """
    quantities = stock.sum_quantities((item.ticket_type_id, item.quantity) for item in items)
    if event_on_sale and move_orders(
        session, [order], source=OrderStatus.pending, target=OrderStatus.paid, now=now
    ):
        issue_tickets(session, order=order, items=items)
        enqueue_after_commit(
            session, "notifications.send_order_confirmation", order_id=str(order.id)
        )
        count_after_commit(session, metrics.ORDERS_PAID)
        # The hot stock rows last: locked only from here to the commit.
        stock.convert_held_to_sold(session, quantities)
        return True

    status = _lock_status(session, order)
    reason = "order_cancelled" if status == OrderStatus.cancelled else "duplicate_payment"
    # The event was cancelled while this order waited for its payment (created as the
    # cancellation committed, the order escaped it): refunded, its hold released.
    held_off_sale = status == OrderStatus.pending and not event_on_sale
    if held_off_sale:
        reason = "event_not_on_sale"
    elif status == OrderStatus.expired:
        reason = "hold_expired_sold_out"
        if not event_on_sale:
            reason = "event_not_on_sale"
        else:
            # The hold ran out and its seats went back on sale: take them again if free.
            release_expired_holds(session, event_id=order.event_id, now=now)
            if stock.take_seats(session, quantities, as_sold=True) is None:
                if move_orders(
                    session, [order], source=OrderStatus.expired, target=OrderStatus.paid, now=now
                ):
                    issue_tickets(session, order=order, items=items)
                    enqueue_after_commit(
                        session, "notifications.send_order_confirmation", order_id=str(order.id)
                    )
                    count_after_commit(session, metrics.ORDERS_PAID)
                    return True
                # Another payment of this order won the same seats first: give ours back.
                stock.release_sold(session, quantities)
                status = _lock_status(session, order)
                reason = "duplicate_payment"

    refund = payment_refunds.refund_payment(
        session, payment=payment, reason=reason, now=now, settings=settings
    )
    if refund is not None:
        # The buyer paid and gets nothing: say so, and why (once per refund).
        enqueue_after_commit(
            session, "notifications.send_payment_returned", refund_id=str(refund.id)
        )
    if status in (OrderStatus.expired, OrderStatus.cancelled) or held_off_sale:
        refunded = move_orders(
            session, [order], source=status, target=OrderStatus.refunded, now=now
        )
        if refunded and held_off_sale:
            stock.release_held(session, quantities)
    return False


class OrderPayments:
    """The handler of the "order" purpose (``payments.purposes.PaymentPurpose``)."""

    def paid_for(self, session: Session, *, payment: Payment, payer: BuyerProof | None) -> PaidFor:
        order = session.get(Order, payment.purpose_id)
        assert order is not None  # orders are never deleted
        require_buyer(order, payer)
        return _paid_for(order)

    def payment_succeeded(
        self,
        session: Session,
        *,
        payment: Payment,
        payer: BuyerProof | None,
        now: datetime,
        settings: Settings,
    ) -> Fulfilment:
        rows = load_direct(session, _ORDER_TO_FULFIL, {"order_id": payment.purpose_id})
        order, event_status = rows[0][:2]
        require_buyer(order, payer)
        kept = _fulfil(
            session,
            payment=payment,
            order=order,
            event_on_sale=event_status == EventStatus.published,
            items=[LineSeats(*row[2:]) for row in rows],
            now=now,
            settings=settings,
        )
        return Fulfilment(kept=kept, paid_for=_paid_for(order))

    def payment_failed(
        self, session: Session, *, payment: Payment, payer: BuyerProof | None, now: datetime
    ) -> PaidFor:
        # The order stays pending: its buyer may pay again until the hold expires.
        return self.paid_for(session, payment=payment, payer=payer)

    def lock(self, session: Session, purpose_id: uuid.UUID) -> None:
        session.execute(select(Order.id).where(Order.id == purpose_id).with_for_update()).first()

    def refunded_at_provider(
        self, session: Session, *, payment: Payment, refund: Refund, full: bool, now: datetime
    ) -> None:
        record_provider_refund(
            session,
            order_id=payment.purpose_id,
            amount_minor=refund.amount_minor,
            full=full,
            now=now,
        )
        # The buyer hears of this refund like of the organizer's (keyed by the refund row,
        # so a redelivered event, a duplicate in the inbox, sends nothing more).
        enqueue_after_commit(session, "notifications.send_refund_notice", refund_id=str(refund.id))

    def sold_for_event(
        self, *, event_id: uuid.UUID, organization_id: uuid.UUID
    ) -> Select[uuid.UUID]:
        return select(Order.id).where(
            Order.event_id == event_id, Order.organization_id == organization_id
        )


register_purpose(ORDER_PURPOSE, OrderPayments())
