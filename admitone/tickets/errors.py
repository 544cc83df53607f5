from admitone.errors import Conflict, DomainError, NotFound


class TicketNotFound(NotFound):
    code = "TICKET_NOT_FOUND"
    message = "No such ticket (or it is not yours)."


class TicketRevoked(Conflict):
    code = "TICKET_REVOKED"
    message = "This ticket was refunded or cancelled; it has no QR code any more."


class SigningKeyUnavailable(DomainError):
    """The event's private key cannot be decrypted: the key secret changed or is missing.

    A configuration fault, not bad input: tickets cannot be signed until the original
    ``ADMITONE_TICKET_KEY_SECRET`` (or ``ADMITONE_SECRET_KEY``) is restored.
    """

    code = "SIGNING_KEY_UNAVAILABLE"
    status = 500
    message = "The event's ticket-signing key cannot be read; check the key secret setting."


class AttendeeNamesNotAsked(Conflict):
    """The event does not ask for attendee names: its tickets keep the buyer's name."""

    code = "ATTENDEE_NAMES_NOT_ASKED"
    message = "This event does not ask for attendee names; its tickets carry the buyer's name."


class TicketAlreadyAdmitted(Conflict):
    code = "TICKET_ALREADY_ADMITTED"
    message = "This ticket was already admitted at the gate; its name can no longer change."


class EventEnded(Conflict):
    code = "EVENT_ENDED"
    message = "The event has ended; its tickets can no longer change."
