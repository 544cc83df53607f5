"""A real SMTP server (aiosmtpd) on a free local port, and readers for what arrived."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from admitone.jobs import current_runner

# The account mails (address verification at registration, password resets) are
# tested in tests/accounts; the order-mail tests here count only the order mails.
ACCOUNT_MAIL_KINDS = ("email_verification", "password_reset")


def is_account_mail(message: EmailMessage) -> bool:
    return (
        str(message["Message-ID"])
        .strip()
        .startswith(tuple(f"<{kind}." for kind in ACCOUNT_MAIL_KINDS))
    )


class Inbox:
    """The SMTP handler: keeps every message it receives (but the account mails, unless
    ``account_mails``)."""

    def __init__(self, *, account_mails: bool = False) -> None:
        self.account_mails = account_mails
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        if is_account_mail(message) and not self.account_mails:  # type: ignore[arg-type]
            return "250 Message accepted"
        with self._lock:
            self.messages.append(message)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted"

    def wait_for(self, count: int, timeout: float = 30) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} message(s), got {len(self.messages)}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def wait_for_jobs(timeout: float = 60) -> None:
    runner = current_runner()
    assert runner is not None, "no job runner installed (is the app started?)"
    assert runner.wait_idle(timeout), "jobs still running"  # type: ignore[attr-defined]


def read_outbox(outbox: Path) -> list[EmailMessage]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for path in sorted(outbox.glob("*.eml"))
    ]


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


OutboxReader = Callable[[], list[EmailMessage]]
