"""A local fake of the few Stripe API endpoints Admit One calls, for the official client.

A threaded ``http.server`` on a free port of 127.0.0.1. It answers like Stripe (JSON
objects with ids, form-encoded requests, ``Idempotency-Key`` replays) and records every
request, so tests can assert what was sent: line items, metadata, fee, destination.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]  # flat form fields as sent: "line_items[0][quantity]" -> "2"
    headers: dict[str, str]


@dataclass
class FakeStripe:
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The next POST to this path answers this (status, error body) instead, once
    # ``fail_after[path]`` more POSTs to it were answered as usual (default 0).
    fail_next: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    fail_after: dict[str, int] = field(default_factory=dict)
    _replays: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def complete(self, session_id: str) -> dict[str, Any]:
        """Stripe's side of a paid checkout: the session gets its payment intent."""
        checkout = self.sessions[session_id]
        checkout.update(
            status="complete", payment_status="paid", payment_intent=f"pi_{session_id[3:]}"
        )
        return checkout

    # --- request handling ------------------------------------------------------------

    def handle(
        self, method: str, path: str, params: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(Recorded(method, path, params, headers))
            key = headers.get("idempotency-key")
            if method == "POST" and key and key in self._replays:
                return self._replays[key]
            if method == "POST" and path in self.fail_next:
                if self.fail_after.get(path, 0) == 0:
                    return self.fail_next.pop(path)
                self.fail_after[path] -= 1
            answer = self._route(method, path, params)
            if method == "POST" and key:
                self._replays[key] = answer
            return answer

    def _route(self, method: str, path: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        number = next(self._ids)
        if method == "POST" and path == "/v1/checkout/sessions":
            session_id = f"cs_test_{number:06d}"
            metadata = {k[9:-1]: v for k, v in params.items() if k.startswith("metadata[")}
            amount = sum(
                int(params[f"line_items[{i}][price_data][unit_amount]"])
                * int(params[f"line_items[{i}][quantity]"])
                for i in itertools.takewhile(
                    lambda i: f"line_items[{i}][quantity]" in params, itertools.count()
                )
            )
            checkout = {
                "id": session_id,
                "object": "checkout.session",
                "url": f"https://checkout.stripe.test/c/pay/{session_id}",
                "status": "open",
                "payment_status": "unpaid",
                "payment_intent": None,
                "amount_total": amount,
                "currency": params.get("line_items[0][price_data][currency]", "eur"),
                "expires_at": int(params.get("expires_at", "0")),
                "metadata": metadata,
                "livemode": False,
            }
            self.sessions[session_id] = checkout
            return 200, checkout
        if method == "GET" and path.startswith("/v1/checkout/sessions/"):
            checkout = self.sessions.get(path.rsplit("/", 1)[1])
            if checkout is None:
                return 404, _error("No such checkout.session", "resource_missing")
            return 200, checkout
        if method == "POST" and path == "/v1/refunds":
            amount, payment_intent = int(params["amount"]), params["payment_intent"]
            refusal = self._refund_refusal(payment_intent, amount)
            if refusal is not None:
                return 400, refusal
            refund = {
                "id": f"re_test_{number:06d}",
                "object": "refund",
                "amount": amount,
                "payment_intent": payment_intent,
                "status": "succeeded",
                "created": int(time.time()),
            }
            self.refunds[refund["id"]] = refund
            return 200, refund
        return 404, _error(f"Unrecognized request URL ({method}: {path})", "resource_missing")

    def _refund_refusal(self, payment_intent: str, amount: int) -> dict[str, Any] | None:
        """Stripe never refunds a charge beyond what it took (a charge of a checkout
        completed here; refunds made through this fake)."""
        charged = next(
            (
                s["amount_total"]
                for s in self.sessions.values()
                if s["payment_intent"] == payment_intent
            ),
            None,
        )
        if charged is None:
            return None
        refunded = sum(
            r["amount"] for r in self.refunds.values() if r["payment_intent"] == payment_intent
        )
        if refunded >= charged:
            return _error(
                f"Charge for {payment_intent} has already been refunded.", "charge_already_refunded"
            )
        if refunded + amount > charged:
            return _error(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({charged - refunded}).",
                "amount_too_large",
            )
        return None


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"type": "invalid_request_error", "message": message, "code": code}}


def card_declined() -> tuple[int, dict[str, Any]]:
    return 400, _error("The refund could not be made.", "charge_already_refunded")


def start(fake: FakeStripe) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            path, _, query = self.path.partition("?")
            params = dict(parse_qsl(body or query, keep_blank_values=True))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, payload = fake.handle(method, path, params, headers)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", "req_fake")
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            self._answer("POST")

        def do_GET(self) -> None:
            self._answer("GET")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-stripe", daemon=True
    ).start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    return server
