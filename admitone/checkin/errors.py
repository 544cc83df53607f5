"""Check-in: the errors its service raises (codes are part of the scanners' API)."""

from admitone.errors import Busy, Conflict, DomainError, InvalidInput, NotFound
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


class CheckinListNotFound(NotFound):
    """No such list for this event (or not yours): a scan, an undo or the organizer's
    list routes naming a list of another event get this too."""

    code = "CHECKIN_LIST_NOT_FOUND"
    message = "No such check-in list for this event."


class DefaultListNotDeletable(Conflict):
    code = "DEFAULT_LIST_NOT_DELETABLE"
    message = "The event's default check-in list cannot be deleted."


class CheckinListHasScans(Conflict):
    code = "CHECKIN_LIST_HAS_SCANS"
    message = "This check-in list has scans; it can no longer be deleted."


class CheckinListTicketTypeUnknown(InvalidInput):
    """A ticket type id that is not one of the event's."""

    code = "CHECKIN_LIST_TICKET_TYPE_UNKNOWN"
    message = "Every ticket type of a check-in list must be one of the event's."


class CheckinListWindowInvalid(InvalidInput):
    code = "CHECKIN_LIST_WINDOW_INVALID"
    message = "A check-in list's window must end after it starts."


class DeviceTokenInvalid(DomainError):
    """A gate device's token that names no device, a revoked one, or one whose pairing
    member may no longer check in."""

    code = "DEVICE_TOKEN_INVALID"
    status = 401
    message = "This device is not paired, or its pairing was revoked: pair it again."


class DeviceNotFound(NotFound):
    code = "DEVICE_NOT_FOUND"
    message = "No such device for this event."


class BundleCursorInvalid(InvalidInput):
    code = "BUNDLE_CURSOR_INVALID"
    message = "This cursor is not one the server gave this device: start again without one."
