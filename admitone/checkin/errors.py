from admitone.errors import Busy, Conflict, NotFound


class EventNotFound(NotFound):
    code = "EVENT_NOT_FOUND"
    message = "No such event."


class NonceReused(Conflict):
    code = "NONCE_REUSED"
    message = "This nonce was already used for a different scan; send a new nonce per scan."


class ScanInProgress(Busy):
    """The same nonce is being processed by a concurrent request: retry for its answer."""

    code = "SCAN_IN_PROGRESS"
    message = "This scan is already being processed; retry to get its answer."
