"""Bounded request bodies, against a real `admitone serve` process (request_limits.py).

Raw sockets, because an HTTP client would not let a test declare a 50 MB body and then
watch for an answer before sending it, nor send a body slowly on purpose.
"""

from __future__ import annotations

import email as email_module
import json
import os
import re
import socket
import time
from collections.abc import Iterator
from email.policy import default as default_policy
from pathlib import Path

import httpx
import pytest

from tests.helpers import create_event, create_org, events_url, register
from tests.serving import rss_bytes, serving

pytestmark = pytest.mark.timeout_sensitive

MiB = 1024 * 1024
BODY_TIMEOUT_SECONDS = 2


@pytest.fixture(scope="module")
def server_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's folder: its SQLite file, media and mail outbox."""
    return tmp_path_factory.mktemp("request-limits")


@pytest.fixture(scope="module")
def server(server_home: Path) -> Iterator[tuple[int, str]]:
    tmp_path = server_home
    with serving(
        tmp_path,
        ADMITONE_REQUEST_BODY_TIMEOUT_SECONDS=str(BODY_TIMEOUT_SECONDS),
        ADMITONE_RATE_LIMIT_LOGIN="1000/minute",
        ADMITONE_RATE_LIMIT_REGISTER="1000/minute",
        ADMITONE_PIN_WORKERS="false",
    ) as (process, base):
        yield process.pid, base


def _connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_response(sock: socket.socket, timeout: float) -> tuple[int, dict[str, str], bytes] | None:
    """One HTTP response read from ``sock``, or None if none came within ``timeout``."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines)
        }
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    except TimeoutError:
        return None
    return int(status_line.split()[1]), headers, body


def _send_quietly(sock: socket.socket, data: bytes) -> int:
    """Send what the server still reads; the count sent (it may close on us)."""
    sent = 0
    sock.settimeout(10)
    try:
        view = memoryview(data)
        while sent < len(data):
            sent += sock.send(view[sent : sent + MiB])
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass
    return sent


def _send_until_answered(sock: socket.socket, piece: bytes, times: int) -> int:
    """Send ``piece`` up to ``times`` times, stopping as soon as an answer is waiting
    (or the server has closed); how many were sent."""
    sent = 0
    try:
        while sent < times:
            sock.settimeout(10)
            sock.sendall(piece)
            sent += 1
            sock.setblocking(False)
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    break
            except BlockingIOError:
                pass
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass
    return sent


def _error_code(body: bytes) -> str:
    return json.loads(body)["error"]["code"]


def test_a_50_mb_declared_body_is_refused_before_it_is_read(server: tuple[int, str]) -> None:
    pid, base = server
    size = 50 * MiB
    rss_before = rss_bytes(pid)
    with _connect(base) as sock:
        sock.sendall(
            _head(
                "/api/v1/auth/login",
                {"Content-Type": "application/json", "Content-Length": str(size)},
            )
        )
        # The answer comes before a byte of the body is sent.
        early = _read_response(sock, timeout=5)
        if early is None:  # the old behaviour: the server waits for the whole body
            _send_quietly(sock, b" " * size)
            late = _read_response(sock, timeout=30)
            grown = (rss_bytes(pid) - rss_before) / MiB
            pytest.fail(f"no answer before the body; after it: {late!r}, RSS +{grown:.0f} MiB")
        status, headers, body = early
        _send_quietly(sock, b" " * size)  # the server has closed: this goes nowhere
    assert status == 413
    assert _error_code(body) == "PAYLOAD_TOO_LARGE"
    assert json.loads(body)["error"]["details"] == {"max_bytes": MiB}
    assert headers["connection"] == "close"
    assert "x-request-id" in headers  # answered inside the app's request context
    assert rss_bytes(pid) - rss_before < 20 * MiB


def test_a_chunked_body_is_cut_as_soon_as_it_passes_the_limit(server: tuple[int, str]) -> None:
    _pid, base = server
    chunk = b"y" * (64 * 1024)
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    total_chunks = 30 * 16  # 30 MiB if it were all read
    with _connect(base) as sock:
        sock.sendall(
            _head(
                "/api/v1/auth/login",
                {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            )
        )
        sent_chunks = _send_until_answered(sock, framed, total_chunks)
        if sent_chunks == total_chunks:
            sock.sendall(b"0\r\n\r\n")
        answer = _read_response(sock, timeout=10)
    assert answer is not None
    status, _headers, body = answer
    assert status == 413, body
    assert _error_code(body) == "PAYLOAD_TOO_LARGE"
    # Cut long before the end: the server stopped reading soon after the first MiB
    # (what was sent beyond sits in the sockets' buffers).
    assert sent_chunks < total_chunks


def test_a_slow_sender_is_cut_after_the_body_timeout(server: tuple[int, str]) -> None:
    _pid, base = server
    with _connect(base) as sock:
        sock.sendall(
            _head(
                "/api/v1/auth/login", {"Content-Type": "application/json", "Content-Length": "200"}
            )
        )
        started = time.monotonic()
        sock.sendall(b'{"email": ')  # ... and the rest never comes
        answer = _read_response(sock, timeout=BODY_TIMEOUT_SECONDS + 8)
        waited = time.monotonic() - started
        assert answer is not None, "the server still waits for the body"
        status, headers, body = answer
        assert sock.recv(1) == b""  # and the connection is closed
    assert status == 408
    assert _error_code(body) == "REQUEST_TIMEOUT"
    assert headers["connection"] == "close"
    assert BODY_TIMEOUT_SECONDS - 0.5 <= waited < BODY_TIMEOUT_SECONDS + 5


def _verify_from_the_outbox(client: httpx.Client, outbox: Path, email: str) -> None:
    """Open the verification link mailed to ``email`` (the server's outbox)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for path in outbox.glob("*.eml"):
            message = email_module.message_from_bytes(path.read_bytes(), policy=default_policy)
            if message["To"] and email in str(message["To"]):
                text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
                token = re.search(r"verify-email\?token=([A-Za-z0-9_-]+)", text)
                assert token is not None, text
                answer = client.post("/api/v1/auth/verify-email", json={"token": token[1]})
                assert answer.status_code == 204, answer.text
                return
        time.sleep(0.1)
    raise AssertionError(f"no verification mail to {email}")


def test_an_image_upload_within_its_limit_still_works(
    server: tuple[int, str], server_home: Path
) -> None:
    _pid, base = server
    from io import BytesIO

    from PIL import Image

    # Noise does not compress: a 1.5 MB PNG, over the JSON limit, under the image limit.
    buffer = BytesIO()
    Image.frombytes("RGB", (800, 650), os.urandom(800 * 650 * 3)).save(buffer, format="PNG")
    image = buffer.getvalue()
    assert MiB < len(image) < 5 * MiB
    with httpx.Client(base_url=base, timeout=30) as client:
        owner = register(client, verify=False)  # type: ignore[arg-type]
        _verify_from_the_outbox(client, server_home / "outbox", owner["email"])
        org = create_org(client, owner["headers"])["slug"]  # type: ignore[arg-type]
        event = create_event(client, owner["headers"], org)  # type: ignore[arg-type]
        uploaded = client.put(
            events_url(org, event["id"], "image"),
            files={"file": ("poster.png", image, "image/png")},
            headers=owner["headers"],
        )
        assert uploaded.status_code == 200, uploaded.text
        served = client.get(uploaded.json()["data"]["image_url"])
        assert served.content == image
        # The same bytes anywhere else are over the limit.
        elsewhere = client.post(
            "/api/v1/auth/login", content=image, headers={"Content-Type": "application/json"}
        )
        assert elsewhere.status_code == 413
        assert elsewhere.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_body_within_the_limit_is_read_as_before(server: tuple[int, str]) -> None:
    _pid, base = server
    with httpx.Client(base_url=base, timeout=10) as client:
        answer = client.post(
            "/api/v1/auth/login",
            json={"email": "nobody@example.com", "password": "x" * 100},
        )
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "INVALID_CREDENTIALS"


def test_an_endless_header_is_refused_with_431_and_the_memory_stays(
    server: tuple[int, str],
) -> None:
    # uvicorn's httptools parser buffers a header until its end, without a limit: the
    # server's protocol (http_protocol.py) counts the head's bytes.
    pid, base = server
    rss_before = rss_bytes(pid)
    with _connect(base) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
        sent = _send_until_answered(sock, b"a" * (64 * 1024), 50 * 16) * 64 * 1024
        answer = _read_response(sock, timeout=5)
    assert answer is not None
    status, headers, body = answer
    assert status == 431
    assert _error_code(body) == "HEADERS_TOO_LARGE"
    assert headers["connection"] == "close"
    assert sent < 50 * MiB  # cut long before the end
    assert rss_bytes(pid) - rss_before < 20 * MiB


def test_ordinary_headers_and_keep_alive_still_work(server: tuple[int, str]) -> None:
    _pid, base = server
    # Several requests on one connection, each with a few KiB of headers (cookies).
    with httpx.Client(base_url=base, timeout=10, headers={"Cookie": "c=" + "x" * 6000}) as client:
        for _ in range(5):
            assert client.get("/healthz").status_code == 200
