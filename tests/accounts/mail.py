"""Reading the account mails of a test app: its outbox, and the link in a message."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

from tests.notifications.conftest import read_outbox
from tests.notifications.helpers import body

LINK = re.compile(r"(https?://\S+/(password-reset/confirm|verify-email)\?token=([A-Za-z0-9_-]+))")


def mails_to(outbox: Path, address: str, kind: str | None = None) -> list[EmailMessage]:
    """Messages to ``address`` (of ``kind``: password_reset, email_verification)."""
    found = []
    for message in read_outbox(outbox):
        if address.lower() not in str(message["To"]).lower():
            continue
        if kind is not None and not str(message["Message-ID"]).strip().startswith(f"<{kind}."):
            continue
        found.append(message)
    return found


def link_of(message: EmailMessage) -> tuple[str, str]:
    """(the link, its token) from the text part; the HTML part carries the same link."""
    match = LINK.search(body(message, "plain"))
    assert match, "no account link in the message"
    assert match.group(1) in body(message, "html")
    return match.group(1), match.group(3)
