"""Attachments are added with their headers stored as text (mailer.attachment_part, for
speed): the message must be the one add_attachment makes."""

from __future__ import annotations

import re

import pytest

from admitone.notifications.mailer import attachment_part, new_message
from admitone.notifications.service import _attach

BOUNDARY = re.compile(rb"={15}\d+==")


def _message() -> object:
    message = new_message()
    message["Subject"] = "Vos billets"
    message.set_content("Bonjour Zoé,\n\nvos billets sont joints.\n")
    message.add_alternative("<p>Bonjour Zoé</p>", subtype="html")
    return message


ATTACHMENTS = [
    (bytes(range(256)) * 40, "ticket-K7Q2M9-1.pdf", "application/pdf"),
    (b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "event.ics", "text/calendar"),
    (b"%PDF-1.3" * 3, "receipt-K7Q2M9.pdf", "application/pdf"),
]


def test_attached_parts_make_the_message_add_attachment_makes() -> None:
    fast, reference = _message(), _message()
    for data, filename, mime in ATTACHMENTS:
        _attach(fast, data, filename, mime)  # type: ignore[arg-type]
        maintype, subtype = mime.split("/")
        reference.add_attachment(  # type: ignore[attr-defined]
            data, maintype=maintype, subtype=subtype, filename=filename
        )
    fast_bytes = fast.as_bytes()  # type: ignore[attr-defined]
    reference_bytes = reference.as_bytes()  # type: ignore[attr-defined]
    assert BOUNDARY.sub(b"B", fast_bytes) == BOUNDARY.sub(b"B", reference_bytes)
    attachments = list(fast.iter_attachments())  # type: ignore[attr-defined]
    assert [part.get_filename() for part in attachments] == [name for _, name, _ in ATTACHMENTS]
    assert [part.get_content() for part in attachments] == [
        part.get_content()
        for part in reference.iter_attachments()  # type: ignore[attr-defined]
    ]


@pytest.mark.parametrize("filename", ["billet-été.pdf", "a b.pdf", "x" * 80 + ".pdf"])
def test_odd_file_names_go_through_add_attachment(filename: str) -> None:
    assert attachment_part(new_message(), b"x", filename=filename, mime="application/pdf") is None
