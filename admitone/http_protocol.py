"""uvicorn's fast HTTP parser with a bound on the request head (`admitone serve`).

The httptools parser that uvicorn picks by default has no limit on the request line and
headers: it buffers a header until its end, so one 60 MB header line grew a server by
80 MB (measured). uvicorn's ``h11_max_incomplete_event_size`` bounds only the slower
h11 parser. This subclass counts the bytes of a request head as they arrive and answers
``431`` and closes the connection once they pass ``MAX_HEAD_BYTES``; the body is bounded
by the app (request_limits.py). Everything else is uvicorn's own protocol.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Browsers send a few KiB of headers (cookies included); proxies commonly allow 8 to 64.
MAX_HEAD_BYTES = 64 * 1024

_REFUSAL_BODY = (
    b'{"error": {"code": "HEADERS_TOO_LARGE", "message": "The request headers are too large.", '
    b'"details": {"max_bytes": ' + str(MAX_HEAD_BYTES).encode() + b"}}}"
)
_REFUSAL = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: application/json\r\n"
    b"content-length: " + str(len(_REFUSAL_BODY)).encode() + b"\r\n"
    b"connection: close\r\n\r\n" + _REFUSAL_BODY
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading_head = True
        self._head_bytes = 0

    def data_received(self, data: bytes) -> None:
        if self._reading_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # Checked after the parser had the data: a read that holds a small head and the
        # start of the body completes the head and is not counted against it. The parser
        # holds at most one read (64 KiB) beyond the limit.
        if (
            self._reading_head
            and self._head_bytes > MAX_HEAD_BYTES
            and not self.transport.is_closing()
        ):
            self.logger.warning("Request head over %d bytes: refused.", MAX_HEAD_BYTES)
            self.transport.write(_REFUSAL)
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._reading_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # The next request on this connection starts its own count.
        self._reading_head = True
        self._head_bytes = 0
