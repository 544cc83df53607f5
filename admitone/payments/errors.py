"""Payments: the errors their services raise."""

from admitone.errors import Conflict, DomainError, NotFound


class PaymentNotFound(NotFound):
    message = "No such payment."


class PaymentNotPending(Conflict):
    code = "PAYMENT_NOT_PENDING"
    message = "This payment is already completed."


class PaymentProviderError(DomainError):
    """The provider refused or could not be reached: nothing was changed here."""

    code = "PAYMENT_PROVIDER_ERROR"
    status = 502
    message = "The payment provider could not complete the request; please retry."


class RefundTooLarge(Conflict):
    code = "REFUND_TOO_LARGE"
    message = "A refund can never exceed what was paid and not yet refunded."


class TicketsNotRefundable(Conflict):
    code = "TICKETS_NOT_REFUNDABLE"
    message = "Some of these tickets are not valid tickets of this order (already refunded?)."


class WebhookSignatureInvalid(DomainError):
    code = "INVALID_SIGNATURE"
    status = 400
    message = "The Stripe-Signature header is missing or does not match this body."
