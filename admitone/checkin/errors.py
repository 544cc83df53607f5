from admitone.errors import Busy, Conflict, NotFound


class EventNotFound(NotFound):
    code = "EVENT_NOT_FOUND"
    message = "No such event."


class NonceReused(Conflict):
    code = "NONCE_REUSED"
    message = "This nonce was already used for a different scan; send a new nonce per scan."


class ScanInProgress(Busy):
    """A nonce's first scan could not be told apart from this one: roll back, retry.

    Defensive: with admissions final, a retried nonce always gets the stored answer.
    """

    code = "SCAN_IN_PROGRESS"
    message = "This scan is already being processed; retry to get its answer."
