"""Domain errors: a stable code and an HTTP status, rendered by one handler.

Services raise these; they never import the web framework. ``error_handlers.py`` turns
them into ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    code: ClassVar[str] = "ERROR"
    status: ClassVar[int] = 400
    # A default per class; an instance may carry a more precise one.
    message: str = "The request could not be processed."
    # When True the unit of work still commits what was flushed before the error.
    keep_changes: ClassVar[bool] = False

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.message
        self.details = details
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class BadRequest(DomainError):
    code = "BAD_REQUEST"
    status = 400


class InvalidInput(DomainError):
    code = "VALIDATION_ERROR"
    status = 422
    message = "Some fields are invalid."


class IdempotencyKeyReused(InvalidInput):
    """An ``Idempotency-Key`` used before with a different request (IETF idempotency
    draft: 422). One class for every domain that takes such keys (orders, cashless)."""

    code = "IDEMPOTENCY_KEY_REUSED"
    message = "This idempotency key was already used with a different request."


class NotAuthenticated(DomainError):
    code = "NOT_AUTHENTICATED"
    status = 401
    message = "Authentication required."


class InvalidToken(DomainError):
    code = "INVALID_TOKEN"
    status = 401
    message = "The token is invalid or expired."


class PermissionDenied(DomainError):
    code = "PERMISSION_DENIED"
    status = 403
    message = "You are not allowed to do this."


class NotFound(DomainError):
    code = "NOT_FOUND"
    status = 404
    message = "Not found."


class Conflict(DomainError):
    code = "CONFLICT"
    status = 409
    message = "The request conflicts with the current state."


class PayloadTooLarge(DomainError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413
    message = "The upload is too large."


class UnsupportedMediaType(DomainError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415
    message = "This file type is not accepted."


class RateLimited(DomainError):
    code = "RATE_LIMITED"
    status = 429
    message = "Too many requests, slow down."


class Busy(DomainError):
    """A lock could not be taken in time: safe to retry."""

    code = "BUSY"
    status = 503
    message = "The system is busy, please retry."


class ServiceUnavailable(DomainError):
    """The database cannot be reached right now (restarting, connection lost): the
    request did nothing that needs undoing, and may be sent again after Retry-After."""

    code = "SERVICE_UNAVAILABLE"
    status = 503
    message = "The service is briefly unavailable, please retry."


# Shapes used in OpenAPI ``responses=`` declarations.
ERROR_EXAMPLE = {
    "error": {"code": "NOT_FOUND", "message": "Not found.", "details": {}},
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the given error statuses."""
    from admitone.schemas import ErrorResponse

    descriptions = {
        400: "Malformed request",
        401: "Not authenticated",
        402: "Not enough money in the wallet",
        403: "Not allowed",
        404: "Not found (or not yours)",
        409: "Conflict with the current state",
        413: "Payload too large",
        415: "Unsupported media type",
        422: "Invalid input",
        429: "Rate limited",
        503: "Busy or briefly unavailable, retry after Retry-After",
    }
    return {
        status: {"model": ErrorResponse, "description": descriptions.get(status, "Error")}
        for status in statuses
    }
