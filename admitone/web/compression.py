"""gzip for the pages that may be compressed, and only those.

A compressed page that holds a secret beside text a visitor controls (a search term
echoed back) can leak the secret to someone who sees the sizes on the wire and makes
the visitor's browser ask again and again (BREACH). So a page is compressed only when
its handler says it holds no secret but the CSRF token, which is masked anew on every
page (``web/security.py``): the catalogue, the event pages, the login and register
forms. Ticket pages (QR codes), the scanner (an access token), organizer pages (buyers'
data) and the JSON API are never compressed.

A handler opts in with ``render(..., compressible=True)``, which marks the response with
``COMPRESSIBLE_HEADER``; this middleware removes the mark and compresses the body when
the client accepts gzip.
"""

from __future__ import annotations

import gzip

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COMPRESSIBLE_HEADER = "x-admitone-compressible"
_MARK = COMPRESSIBLE_HEADER.encode()
# gzip's middle level: most of level 9's saving for a fraction of its CPU.
LEVEL = 6
# Below this, gzip's own header and the lost keep-alive bytes outweigh the saving.
MINIMUM_SIZE = 1024


class PageCompressionMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        accepts_gzip = "gzip" in Headers(scope=scope).get("accept-encoding", "")
        start: Message | None = None

        async def send_compressed(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if not any(name == _MARK for name, _value in message.get("headers", [])):
                    await send(message)  # the common case: not ours to touch
                    return
                headers = MutableHeaders(raw=list(message["headers"]))
                del headers[COMPRESSIBLE_HEADER]
                start = {**message, "headers": headers.raw}
                if not accepts_gzip:
                    await send(start)
                    start = None
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            pending, start = start, None
            body: bytes = message.get("body", b"")
            if message.get("more_body", False) or len(body) < MINIMUM_SIZE:
                await send(pending)  # a streamed or small body goes as it is
                await send(message)
                return
            compressed = gzip.compress(body, compresslevel=LEVEL)
            headers = MutableHeaders(raw=pending["headers"])
            headers["content-encoding"] = "gzip"
            headers["content-length"] = str(len(compressed))
            headers.add_vary_header("Accept-Encoding")
            await send(pending)
            await send({"type": "http.response.body", "body": compressed})

        await self.app(scope, receive, send_compressed)
