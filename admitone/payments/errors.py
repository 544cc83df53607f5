"""Payments: the errors their services raise."""

from admitone.errors import Conflict, NotFound


class PaymentNotFound(NotFound):
    message = "No such payment."


class PaymentNotPending(Conflict):
    code = "PAYMENT_NOT_PENDING"
    message = "This payment is already completed."
