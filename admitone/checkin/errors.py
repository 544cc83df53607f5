"""Check-in: the errors its service raises (codes are part of the scanners' API)."""

from admitone.errors import Busy, Conflict, InvalidInput
from admitone.events.errors import EventNotFound


class CheckinEventNotFound(EventNotFound):
    """The events domain's "no such event" (or not yours), under the code the check-in
    API has always answered: scanners in the field read ``EVENT_NOT_FOUND``."""

    code = "EVENT_NOT_FOUND"


class NonceReused(Conflict):
    code = "NONCE_REUSED"
    message = "This nonce was already used for a different scan; send a new nonce per scan."


class ScanInProgress(Busy):
    """A nonce's first scan could not be told apart from this one: roll back, retry.

    Defensive: with admissions final, a retried nonce always gets the stored answer.
    """

    code = "SCAN_IN_PROGRESS"
    message = "This scan is already being processed; retry to get its answer."


class TicketNotAdmitted(Conflict):
    """An undo of an admission that is not there: never admitted, or already undone
    (two supervisors at once: the second one gets this)."""

    code = "TICKET_NOT_ADMITTED"
    message = "This ticket is not admitted: there is no admission to undo."


class SearchTooShort(InvalidInput):
    code = "SEARCH_TOO_SHORT"
    message = "Type at least two characters of a name, an e-mail or an order code."
