"""The relay's refusals, each with a stable code (rendered as upstream renders errors)."""

from __future__ import annotations

from admitone.errors import DomainError, NotFound, ServiceUnavailable


class RelayNotReady(ServiceUnavailable):
    code = "RELAY_NOT_READY"
    message = (
        "The relay has not downloaded its event's bundle from upstream yet: it cannot "
        "decide scans until it has."
    )


class UpstreamUnavailable(ServiceUnavailable):
    code = "UPSTREAM_UNAVAILABLE"
    message = "Upstream cannot be reached now; pair devices while the link is up."


class RelayEventMismatch(DomainError):
    code = "RELAY_EVENT_MISMATCH"
    status = 409
    message = "The relay's device token belongs to another event than the one it serves."


class NotRelayed(NotFound):
    code = "NOT_RELAYED"
    message = (
        "The relay serves only the gates' scanning API (scan, bundle, batches, device "
        "pairing) and its status."
    )
