"""One renderer for every error: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from admitone.errors import Busy, Conflict, DomainError, ServiceUnavailable
from admitone.schemas import validation_problems

log = structlog.get_logger(__name__)

HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "NOT_AUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}

# How long a client waits before sending again a request the database could not serve:
# a PostgreSQL restart or fail-over takes a few seconds.
DATABASE_RETRY_AFTER_SECONDS = 2

# PostgreSQL's answers that mean "not now" rather than "not this request": the server is
# shutting down or starting (57P01-57P03), has no connection slot left (53300), or the
# connection itself failed (class 08).
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot serve anyone right now (refused or lost
    connection, server restarting), as opposed to a problem of this request.

    Such a request did nothing durable (its transaction is gone with its connection), so
    a 503 with Retry-After is the honest answer; the pool replaces the connections. One
    exception: a connection lost during COMMIT leaves the outcome unknown, which is why
    the writes a client may resend are idempotent (Idempotency-Key, conditional updates);
    the server itself never resends a write.
    """
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig if exc.orig is not None else exc
    if isinstance(exc, psycopg.InterfaceError):
        return True  # the connection is closed: there is nothing to send a statement on
    if isinstance(exc, psycopg.OperationalError):
        sqlstate = exc.sqlstate
        # No SQLSTATE: the failure is the client's connection (refused, reset, closed).
        return sqlstate is None or sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES
    return False


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


def _respond(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An HTML error page for a browser outside /api/ (when the web front is installed),
    the JSON error body otherwise."""
    html_renderer = getattr(request.app.state, "html_error_renderer", None)
    if html_renderer is not None:
        page = html_renderer(request, status=status, code=code, headers=headers)
        if page is not None:
            return page
    return error_response(status, code, message, details, headers)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return validation_problems(exc)


async def _domain_error(request: Request, exc: DomainError) -> Response:
    headers = None
    if "retry_after" in exc.details:
        headers = {"Retry-After": str(exc.details["retry_after"])}
    return _respond(request, exc.status, exc.code, exc.message, exc.details, headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    details = _validation_details(exc)
    if any(item["type"] == "json_invalid" for item in details):
        return error_response(
            400, "MALFORMED_JSON", "The request body is not valid JSON.", {"errors": details}
        )
    return _respond(
        request, 422, "VALIDATION_ERROR", "Some fields are invalid.", {"errors": details}
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    code = HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").capitalize()
    return _respond(request, exc.status_code, code, message, headers=getattr(exc, "headers", None))


async def _database_error(request: Request, exc: Exception) -> Response:
    if database_unavailable(exc):
        log.warning("database_unavailable", error=str(exc).splitlines()[0][:200])
        unavailable = ServiceUnavailable(retry_after=DATABASE_RETRY_AFTER_SECONDS)
        return _respond(
            request,
            unavailable.status,
            unavailable.code,
            unavailable.message,
            unavailable.details,
            {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    # Lock timeouts (PostgreSQL lock_timeout, SQLite "database is locked") are retryable.
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).lower()
    if isinstance(exc, OperationalError | psycopg.OperationalError) and (
        "lock" in text or "timeout" in text
    ):
        busy = Busy(retry_after=1)
        return _respond(
            request, busy.status, busy.code, busy.message, busy.details, {"Retry-After": "1"}
        )
    return await _unhandled_error(request, exc)


async def _pool_timeout(request: Request, exc: PoolTimeout) -> JSONResponse:
    # Every connection of this process is busy: retryable, not a bug.
    log.warning("database_pool_exhausted")
    busy = Busy(retry_after=1)
    return error_response(busy.status, busy.code, busy.message, busy.details, {"Retry-After": "1"})


async def _integrity_error(request: Request, exc: IntegrityError) -> Response:
    # A unique or check constraint caught a race the service's own check did not see.
    log.warning("integrity_error", error=str(exc.orig))
    conflict = Conflict("The change conflicts with existing data; reload and retry.")
    return _respond(request, conflict.status, conflict.code, conflict.message)


async def _unhandled_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled_error", path=request.url.path)
    return _respond(request, 500, "INTERNAL_ERROR", "Something went wrong on our side.")


def install_error_handlers(app: FastAPI) -> None:
    _handle(app, DomainError, _domain_error)
    _handle(app, RequestValidationError, _validation_error)
    _handle(app, StarletteHTTPException, _http_error)
    # Every database error but the integrity races (below): unavailable, busy, or a bug.
    # The driver's own errors too, should one escape SQLAlchemy's wrapping.
    _handle(app, DBAPIError, _database_error)
    _handle(app, psycopg.Error, _database_error)
    _handle(app, IntegrityError, _integrity_error)
    _handle(app, PoolTimeout, _pool_timeout)
    _handle(app, Exception, _unhandled_error)


E = TypeVar("E", bound=Exception)


def _handle(
    app: FastAPI, error: type[E], handler: Callable[[Request, E], Awaitable[Response]]
) -> None:
    # Starlette types a handler as taking any Exception, yet calls it only with instances
    # of the class it is registered for: the handler's narrower parameter is safe.
    app.add_exception_handler(error, handler)  # type: ignore[arg-type]
