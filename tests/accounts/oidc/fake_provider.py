"""A real OpenID Connect provider on 127.0.0.1 for the tests: ``oidc-provider-mock``.

It runs in a thread (werkzeug's threaded server) and is reached over real HTTP. Its
version 0.3 accepts ``code_challenge`` but does not check it, so ``PkceCheck`` wraps it:
the code a POST to /oauth2/authorize issues remembers the request's S256 challenge, and
/oauth2/token refuses (``invalid_grant``) a code exchanged without the matching
``code_verifier``, as a real provider does.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import oidc_provider_mock
import werkzeug.serving

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class PkceCheck:
    app: WsgiApp
    challenges: dict[str, str | None] = field(default_factory=dict)
    # (code, verified) of each token request, for the tests to look at.
    exchanges: list[tuple[str, bool]] = field(default_factory=list)
    # The path of every request, in order.
    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        with self.lock:
            self.paths.append(path)
        if path == "/oauth2/authorize" and environ["REQUEST_METHOD"] == "POST":
            return self._authorize(environ, start_response)
        if path == "/oauth2/token" and environ["REQUEST_METHOD"] == "POST":
            return self._token(environ, start_response)
        return self.app(environ, start_response)

    def _authorize(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        method = query.get("code_challenge_method", [None])[0]
        challenge = query.get("code_challenge", [None])[0] if method == "S256" else None

        def remembering_start_response(status: str, headers: list[tuple[str, str]], *rest: Any):
            for name, value in headers:
                if name.lower() == "location":
                    code = parse_qs(urlsplit(value).query).get("code", [None])[0]
                    if code:
                        with self.lock:
                            self.challenges[code] = challenge
            return start_response(status, headers, *rest)

        return self.app(environ, remembering_start_response)

    def _token(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        form = parse_qs(body.decode())
        code = form.get("code", [""])[0]
        verifier = form.get("code_verifier", [None])[0]
        with self.lock:
            challenge = self.challenges.pop(code, None)
        verified = challenge is not None and verifier is not None and s256(verifier) == challenge
        with self.lock:
            self.exchanges.append((code, verified))
        if not verified:
            payload = json.dumps({"error": "invalid_grant", "error_description": "PKCE"}).encode()
            start_response(
                "400 Bad Request",
                [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
            )
            return [payload]
        environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)


@dataclass
class FakeProvider:
    url: str
    pkce: PkceCheck

    def set_user(self, subject: str, **claims: object) -> None:
        """The claims the provider will assert for ``subject`` (email, email_verified...)."""
        response = httpx.put(f"{self.url}/users/{quote(subject, safe='')}", json=claims)
        assert response.status_code == 204, response.text

    def authorize(self, authorization_url: str, subject: str) -> str:
        """What the person does at the provider: sign in as ``subject`` and consent.
        Returns the callback URL the provider sends the browser back to."""
        response = httpx.post(authorization_url, data={"sub": subject})
        assert response.status_code == 302, response.text
        return response.headers["location"]

    def deny(self, authorization_url: str) -> str:
        response = httpx.post(authorization_url, data={"action": "deny"})
        assert response.status_code == 302, response.text
        return response.headers["location"]


@contextmanager
def running_provider() -> Iterator[FakeProvider]:
    pkce = PkceCheck(oidc_provider_mock.app())
    server = werkzeug.serving.make_server("127.0.0.1", 0, pkce, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield FakeProvider(url=f"http://127.0.0.1:{server.server_port}", pkce=pkce)
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


def provider_settings(url: str, *, name: str = "mock", display_name: str = "Mock ID") -> dict:
    """One entry of ADMITONE_OIDC_PROVIDERS for the fake provider."""
    return {
        "name": name,
        "display_name": display_name,
        "issuer": url,
        "client_id": "admitone-test",
        "client_secret": "admitone-test-secret",
    }
