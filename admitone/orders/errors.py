"""Orders: the errors their services raise (codes are part of the API).

An unknown event or ticket type is the events domain's error (events/errors.py).
"""

from admitone.errors import Conflict, InvalidInput, NotFound
from admitone.errors import IdempotencyKeyReused as IdempotencyKeyReused


class OrderNotFound(NotFound):
    message = "No such order."


class EventNotPublished(Conflict):
    code = "EVENT_NOT_PUBLISHED"
    message = "This event is not on sale."


class TicketTypeInactive(Conflict):
    code = "TICKET_TYPE_INACTIVE"
    message = "This ticket type is not on sale."


class SalesNotOpen(Conflict):
    code = "SALES_NOT_OPEN"
    message = "Sales for this ticket type have not started yet."


class SalesClosed(Conflict):
    code = "SALES_CLOSED"
    message = "Sales for this ticket type are over."


class LimitExceeded(InvalidInput):
    code = "LIMIT_EXCEEDED"
    message = "The quantity is outside the limits per order."


class HoldLimitReached(Conflict):
    """One client (account, e-mail or network address) holds as many unpaid seats of the
    event as it may at once: pay or cancel an order first, or wait for a hold to expire."""

    code = "HOLD_LIMIT_REACHED"
    message = "You already hold as many unpaid tickets for this event as allowed at once."


class BuyerLimitReached(Conflict):
    """The organizer's limit of tickets of a type per buyer, across orders."""

    code = "BUYER_LIMIT_REACHED"
    message = "This order would exceed the number of tickets of this type allowed per buyer."


class SoldOut(Conflict):
    code = "SOLD_OUT"
    message = "Not enough tickets left."


class DuplicateTicketType(InvalidInput):
    message = "Each ticket type may appear once in an order."


class OrderNotPending(Conflict):
    code = "ORDER_NOT_PENDING"
    message = "Only a pending order can do this."


class HoldExpired(OrderNotPending):
    """The hold ran out: the order is now ``expired`` and its seats are back on sale.

    ``keep_changes``: the expiry this request performed is committed with the error.
    """

    code = "HOLD_EXPIRED"
    message = "The hold on these tickets has expired; please order again."
    keep_changes = True


class OrderNotPaid(Conflict):
    code = "ORDER_NOT_PAID"
    message = "Only a paid order can be refunded."
