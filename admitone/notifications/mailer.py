"""Sending a message: SMTP when ADMITONE_SMTP_URL is set, a local outbox folder otherwise.

``smtp://user:password@host:587`` logs in after STARTTLS (refused if the server offers
no STARTTLS: a password never travels in clear); ``smtps://user:password@host:465``
speaks TLS from the start; ``smtp://host:25`` sends without logging in (a local relay),
upgrading to STARTTLS when the server offers it.
"""

from __future__ import annotations

import binascii
import os
import re
import smtplib
import ssl
import threading
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import default as default_policy
from functools import cache, lru_cache
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import structlog

from admitone.config import Settings

log = structlog.get_logger(__name__)

SMTP_TIMEOUT_SECONDS = 30
# A subject longer than this is cut: mail clients show about 60 characters anyway.
MAX_HEADER_TEXT = 200
_HEADER_BREAKING = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def header_text(value: str) -> str:
    """Text fit for a mail header (a subject, a display name): line breaks and control
    characters become one space, and it is cut to a sane length.

    The inputs refuse line breaks in names and titles (admitone.schemas.one_line), but a
    row written before that rule, or by another path, must never stop a message: the
    mail library refuses a header with a line break, so every message of an event
    whose title had one failed.
    """
    text = " ".join(_HEADER_BREAKING.sub(" ", value).split())
    if len(text) > MAX_HEADER_TEXT:
        text = text[: MAX_HEADER_TEXT - 1].rstrip() + "\u2026"
    return text


class _HeaderClasses(HeaderRegistry):
    """The standard library's header registry, its classes made once per header name.

    Fast on purpose: ``HeaderRegistry[name]`` builds a new class with ``type()`` for every
    header set or parsed, about 35 per order confirmation, a quarter of the time spent
    building the message (issue 15). The classes are the same; the message too.
    """

    @cache  # noqa: B019 (one registry per process: it is never freed anyway)
    def __getitem__(self, name: str) -> type[BaseHeader]:
        return super().__getitem__(name)


# Every message is built with this policy: the library's default with the registry above.
MAIL_POLICY = default_policy.clone(header_factory=_HeaderClasses())


def new_message() -> EmailMessage:
    """An empty message with the mail policy (MAIL_POLICY)."""
    return EmailMessage(policy=MAIL_POLICY)


_PLAIN_FILENAME = re.compile(r"[A-Za-z0-9._-]+")
MAX_LINE_LENGTH = 78  # the mail policy's (the default)
_BASE64_LINE = 57  # bytes per line of 76 base64 characters (the policy's line length)


def attachment_part(
    message: EmailMessage, data: bytes, *, filename: str, mime: str
) -> EmailMessage | None:
    """The part ``message.add_attachment(data, ..., filename=filename)`` would add, its
    headers stored as the text they fold to; None when the file name is not plain ASCII
    or a header would need folding (then add_attachment it is).

    Fast on purpose: add_attachment parses each of the part's four headers with the
    standard library's header parser and the generator folds them again when the message
    is sent, about 0.3 ms per attachment, three or four per order confirmation (issue
    15). A header stored as a short string is written as it is; the message is the same
    (tests/notifications/test_mail_parts.py compares the bytes).
    """
    disposition = f'attachment; filename="{filename}"'
    if (
        not _PLAIN_FILENAME.fullmatch(filename)
        or len("Content-Disposition: ") + len(disposition) > MAX_LINE_LENGTH
    ):
        return None
    part = EmailMessage(policy=message.policy)
    # The order add_attachment sets them in; the library keeps them in this list.
    part._headers = [  # type: ignore[attr-defined]
        ("Content-Type", mime),
        ("Content-Transfer-Encoding", "base64"),
        ("Content-Disposition", disposition),
        ("MIME-Version", "1.0"),
    ]
    part.set_payload(
        "".join(
            binascii.b2a_base64(data[start : start + _BASE64_LINE]).decode("ascii")
            for start in range(0, len(data), _BASE64_LINE)
        )
    )
    return part


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class OutboxMailer:
    """Writes each message as ``<outbox>/<message id>.eml`` (the embedded default).

    The file name comes from the Message-ID, which is deterministic per (kind, object),
    so a job that runs again rewrites the same file instead of adding a second one.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, message: EmailMessage) -> Path:
        message_id = str(message["Message-ID"] or "").strip("<>")
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", message_id) or "message"
        return self.directory / f"{safe}.eml"

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path_for(message)
        temporary = path.with_suffix(".eml.tmp")
        temporary.write_bytes(message.as_bytes())
        os.replace(temporary, path)  # atomic: a reader never sees half a message
        log.info("mail.outbox", path=str(path), to=message["To"], subject=message["Subject"])


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """The TLS settings of every SMTP connection, made once per process: loading the
    system's certificate authorities costs about 20 ms of CPU, which every confirmation
    paid before (a third of its job), even over a local relay that speaks no TLS. A
    certificate authority added to the system later is seen after a restart."""
    return ssl.create_default_context()


# One open connection per thread and server, kept between messages: connecting (EHLO,
# STARTTLS, the login) cost more CPU than sending in the confirmation job's profile
# (issue 15). Per thread, because a connection carries one conversation at a time (the
# embedded mode sends from a thread pool; a Celery worker process has one thread).
_open_connections = threading.local()


def _thread_connections() -> dict[tuple[object, ...], smtplib.SMTP]:
    connections: dict[tuple[object, ...], smtplib.SMTP] | None = getattr(
        _open_connections, "by_server", None
    )
    if connections is None:
        connections = _open_connections.by_server = {}
    return connections


class SmtpMailer:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.ssl = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.ssl else 587 if parts.username else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None

    def _connect(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP
        if self.ssl:
            smtp = smtplib.SMTP_SSL(
                self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS, context=_tls_context()
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS)
        try:
            smtp.ehlo()
            if not self.ssl:
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=_tls_context())
                    smtp.ehlo()
                elif self.username:
                    raise smtplib.SMTPNotSupportedError(
                        "the SMTP server offers no STARTTLS: refusing to send the password"
                    )
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage) -> None:
        """Send on this thread's open connection to the server, else a new one.

        A kept connection may have been closed by the server since (idle timeout, a
        restart): the send then fails before the server took the message (SMTP keeps
        nothing of an unfinished transaction), and it is sent once more on a new
        connection. Any other failure closes the connection and is raised.
        """
        connections = _thread_connections()
        key = (self.ssl, self.host, self.port, self.username)
        smtp = connections.pop(key, None)
        if smtp is not None:
            try:
                smtp.send_message(message)
            except (smtplib.SMTPServerDisconnected, ConnectionError):
                smtp.close()
                smtp = None
            except BaseException:
                smtp.close()
                raise
        if smtp is None:
            smtp = self._connect()
            try:
                smtp.send_message(message)
            except BaseException:
                smtp.close()
                raise
        connections[key] = smtp
        log.info("mail.smtp", host=self.host, to=message["To"], subject=message["Subject"])


def get_mailer(settings: Settings) -> Mailer:
    if settings.smtp_url is not None:
        return SmtpMailer(settings.smtp_url.get_secret_value())
    return OutboxMailer(settings.outbox_dir)
