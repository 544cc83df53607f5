"""Counts and times every HTTP request by its route template (pure ASGI middleware)."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from admitone.metrics import HTTP_LATENCY, HTTP_REQUESTS

# A client may send any method name; only these get a label of their own, so the number
# of series stays bounded whatever the traffic.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# A path that matched no route: raw paths would make one series per URL a scanner tries.
UNMATCHED = "unmatched"


class MetricsMiddleware:
    """Counts requests by method, route template and status, and times them.

    The route template (``/api/v1/orders/{order_id}``) is the one the router stored in
    the scope when it matched, read after the app has answered: no second matching.
    Placed outside the concurrency gate, so the time includes the wait at the gate.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # (method, route, status) -> (counter child, histogram child). Label lookups
        # take a lock and build tuples; a dict hit is a fraction of that. Bounded: the
        # routes, the known methods and the statuses are.
        self._children: dict[tuple[str, int, int], tuple[Any, Any]] = {}
        # id(route) -> its full template, made at the first request (the app is built).
        self._templates: dict[int, str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering
        observed = False

        async def send_with_status(message: Message) -> None:
            nonlocal status, observed
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Counted before the last bytes go: a client that has its answer finds it
                # counted in the next scrape (another worker may answer that scrape).
                observed = True
                self._observe(scope, status, time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            if not observed:  # no complete answer: the app raised, or the client left
                self._observe(scope, status, time.perf_counter() - started)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        method = scope["method"]
        if method not in KNOWN_METHODS:
            method = "other"
        key = (method, id(route), status)
        children = self._children.get(key)
        if children is None:
            template = self._template(scope, route)
            children = (
                HTTP_REQUESTS.labels(method=method, route=template, status=str(status)),
                HTTP_LATENCY.labels(method=method, route=template),
            )
            self._children[key] = children
        counter, histogram = children
        counter.inc()
        histogram.observe(seconds)

    def _template(self, scope: Scope, route: object) -> str:
        if route is None:
            return UNMATCHED
        if self._templates is None:
            self._templates = full_templates(scope["app"])
        return self._templates.get(id(route)) or getattr(route, "path", None) or UNMATCHED


def full_templates(app: Any) -> dict[int, str]:
    """id(route) -> the route's full path template, for the routes of included routers.

    FastAPI keeps an included router's routes as they were declared (``/orders``) and
    puts that route object in the scope; the prefix (``/api/v1``) is in the inclusion.
    Its effective route contexts pair each route with its full template.
    """
    templates: dict[int, str] = {}
    for entry in getattr(app.router, "routes", []):
        contexts = getattr(entry, "effective_route_contexts", None)
        if not callable(contexts):
            continue
        for context in contexts():
            original = getattr(context, "original_route", None)
            path = getattr(context, "path_format", None)
            if original is not None and path:
                templates[id(original)] = path
    return templates
