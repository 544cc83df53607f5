"""The SMTP connection is kept between messages (one per thread and server) and made
again when the server closed it: each message still arrives exactly once."""

from __future__ import annotations

import threading
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from admitone.notifications.mailer import SmtpMailer, new_message
from tests.notifications.conftest import free_port


class Peers:
    """Keeps each message's subject with the client address it came from (one client
    port per connection)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        subject = next(
            line.split(":", 1)[1].strip()
            for line in envelope.content.decode().splitlines()
            if line.startswith("Subject:")
        )
        self.received.append((subject, session.peer))
        return "250 Message accepted"


def _message(subject: str) -> EmailMessage:
    message = new_message()
    message["Subject"] = subject
    message["From"] = "tickets@example.org"
    message["To"] = "ada@example.com"
    message.set_content("Hello")
    return message


def _server(handler: Peers, port: int) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


def test_messages_share_one_connection_and_survive_a_server_restart() -> None:
    handler, port = Peers(), free_port()
    url = f"smtp://127.0.0.1:{port}"
    server = _server(handler, port)
    try:
        for number in range(3):
            SmtpMailer(url).send(_message(f"m{number}"))  # a new mailer per job, as in the app
        assert [subject for subject, _ in handler.received] == ["m0", "m1", "m2"]
        assert len({peer for _, peer in handler.received}) == 1  # one connection for three
    finally:
        server.stop()

    # The server restarts: the kept connection is dead; the next message is sent once,
    # on a new connection.
    server = _server(handler, port)
    try:
        SmtpMailer(url).send(_message("after-restart"))
        SmtpMailer(url).send(_message("and-again"))
    finally:
        server.stop()
    subjects = [subject for subject, _ in handler.received]
    assert subjects == ["m0", "m1", "m2", "after-restart", "and-again"]
    peers = [peer for _, peer in handler.received]
    assert peers[3] != peers[0] and peers[3] == peers[4]


def test_each_thread_has_its_own_connection() -> None:
    handler, port = Peers(), free_port()
    url = f"smtp://127.0.0.1:{port}"
    server = _server(handler, port)
    try:
        threads = [
            threading.Thread(target=SmtpMailer(url).send, args=(_message(f"t{n}"),))
            for n in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.stop()
    assert sorted(subject for subject, _ in handler.received) == ["t0", "t1", "t2"]
    assert len({peer for _, peer in handler.received}) == 3
