"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware on the hot path).

Each request gets an id (the client's ``X-Request-ID`` if sane, else a new one), bound
to every log line, echoed in the response, and one access-log line at the end. Every
response carries the security headers.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import anyio
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"permissions-policy", b"camera=(self), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
# Everything is served by the app itself; the API docs page needs its inline bootstrap.
CSP = b"default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
CSP_DOCS = b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts
        # Bound once: the module-level lazy proxy re-binds on every call. Middleware is
        # built at the app's first request, after configure_logging.
        self.log = structlog.get_logger("admitone.access").bind()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _has_nul(scope):
            # PostgreSQL cannot store NUL in text; refuse it before any route sees it.
            await _refuse_nul(send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_holder: dict[str, Any] = {"status": 500}
        path: str = scope["path"]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(SECURITY_HEADERS)
                csp = CSP_DOCS if path.startswith(("/docs", "/redoc")) else CSP
                headers.append((b"content-security-policy", csp))
                if self.hsts:
                    headers.append(
                        (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
                    )
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.log.info(
                "request",
                method=scope["method"],
                path=path,
                status=status_holder["status"],
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()


def _has_nul(scope: Scope) -> bool:
    raw = scope.get("raw_path") or scope["path"].encode()
    return b"%00" in raw or "\x00" in scope["path"] or b"%00" in scope.get("query_string", b"")


async def _refuse_nul(send: Send) -> None:
    body = json.dumps(
        {
            "error": {
                "code": "BAD_REQUEST",
                "message": "NUL characters are not allowed.",
                "details": {},
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [(b"content-type", b"application/json"), *SECURITY_HEADERS],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _REQUEST_ID.match(candidate) else None
    return None


class ConcurrencyGateMiddleware:
    """At most ``limit`` requests inside the app per process; the others wait at the door.

    FastAPI runs every sync dependency, the endpoint and the session's commit as separate
    hops to the thread pool. Without a gate, 50 concurrent requests each open a
    transaction in their first hop and then queue for threads behind each other, so a
    transaction that has taken a hot row lock (a ticket type's counters) waits for its
    commit hop behind new requests, and connections in use grow past the threads. With
    the gate no larger than the thread pool, a request inside always finds a free thread:
    queueing happens here, before any connection or lock is taken.
    """

    # Health checks pass the gate: a load balancer must see a busy process as alive.
    UNGATED_PATHS = frozenset({"/healthz", "/readyz"})

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        # fast_acquire: a free slot is taken without yielding to the event loop first.
        self.semaphore = anyio.Semaphore(limit, fast_acquire=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.UNGATED_PATHS:
            await self.app(scope, receive, send)
            return
        async with self.semaphore:
            await self.app(scope, receive, send)
