"""Bounded request bodies: a size limit and a time limit, enforced while reading.

A pure ASGI middleware, outside the routes, so that no route (nor the form parser of the
pages, nor FastAPI's JSON body reading) ever holds more than the limit in memory:

* a declared ``Content-Length`` over the limit is answered ``413 PAYLOAD_TOO_LARGE`` at
  once, before one byte of the body is read;
* a body without one (chunked) is counted as it streams in and refused as soon as the
  count passes the limit;
* the whole body must arrive within ``timeout_seconds`` of the app's first read, or the
  answer is ``408 REQUEST_TIMEOUT`` (a slow sender would otherwise hold a worker slot).

Each refusal closes the connection (``Connection: close``): the rest of the body is never
read. Starlette's own ``RequestBodyLimitMiddleware`` refuses only once a route reads, in
plain text, and has no time limit, hence this one. The Stripe webhook keeps its own,
smaller limit on top (payments/api.py); the image upload routes get a larger one.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True)
class BodyLimit:
    """A larger (or smaller) limit for the requests of ``method`` whose path matches."""

    method: str
    path: re.Pattern[str]
    max_bytes: int


class _BodyRefused(Exception):
    def __init__(self, status: int, code: str, message: str, details: dict[str, object]) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class RequestBodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        timeout_seconds: float,
        route_limits: Sequence[BodyLimit] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds
        self.route_limits = tuple(route_limits)

    def limit_for(self, scope: Scope) -> int:
        for route_limit in self.route_limits:
            if scope["method"] == route_limit.method and route_limit.path.match(scope["path"]):
                return route_limit.max_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_refusal(send, _too_large(limit))
            return

        received = 0
        body_complete = False
        deadline: float | None = None
        refused: _BodyRefused | None = None
        response_started = False

        async def bounded_receive() -> Message:
            nonlocal received, body_complete, deadline, refused
            if body_complete:
                # The body is in; what follows is the wait for a disconnect, unbounded.
                return await receive()
            if refused is not None:
                raise refused
            if deadline is None:
                deadline = time.monotonic() + self.timeout_seconds
            try:
                with anyio.fail_after(max(deadline - time.monotonic(), 0)):
                    message = await receive()
            except TimeoutError:
                refused = _BodyRefused(
                    408,
                    "REQUEST_TIMEOUT",
                    "The request body did not arrive in time.",
                    {"timeout_seconds": self.timeout_seconds},
                )
                raise refused from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = _too_large(limit)
                    raise refused
                body_complete = not message.get("more_body", False)
            return message

        async def send_unless_refused(message: Message) -> None:
            # Whatever the app made of the refusal (FastAPI turns an error while reading
            # the body into a 400), the client gets the refusal itself.
            nonlocal response_started
            if refused is not None and not response_started:
                response_started = True
                await _send_refusal(send, refused)
                return
            if refused is not None:
                return  # the rest of the app's answer to a refused body
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, send_unless_refused)
        except _BodyRefused as exc:
            if response_started:
                return
            await _send_refusal(send, exc)


def _too_large(limit: int) -> _BodyRefused:
    return _BodyRefused(
        413,
        "PAYLOAD_TOO_LARGE",
        "The request body is too large.",
        {"max_bytes": limit},
    )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            # The server (uvicorn's parser) has already refused a malformed one.
            return int(value) if value.isdigit() else None
    return None


async def _send_refusal(send: Send, refused: _BodyRefused) -> None:
    body = json.dumps(
        {"error": {"code": refused.code, "message": refused.message, "details": refused.details}}
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        # The unread rest of the body must not be parsed as the next request.
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
