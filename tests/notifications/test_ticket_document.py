"""The ticket PDF as a buyer sees it: its text, and a QR code that scans to the payload,
of the size and at the place it always had (issue 15 drew it differently, for speed)."""

from __future__ import annotations

import base64
import uuid

import pytest
import segno
import zxingcpp
from fpdf.enums import XPos, YPos
from PIL import Image, ImageChops

from admitone.notifications import documents
from admitone.notifications.texts import LABELS
from tests.notifications.helpers import pdf_text, render_pages

# A payload of the real format's shape: 113 bytes in upper-case base32, no padding.
PAYLOAD = base64.b32encode(bytes(range(7, 120))).decode().rstrip("=")
SCALE = 3  # pixels per PDF point when rendered
PX_PER_MM = SCALE * 72 / 25.4


def _sheet(**fields: str) -> documents.TicketSheet:
    values = {
        "event_title": "Moonlight Jazz",
        "starts_at": "Saturday, January 9, 2027 at 8:00\u202fPM Central European Standard Time",
        "venue": "Le Caveau, Paris",
        "holder_name": "Ada Lovelace",
        "ticket_type": "Standing",
        "order_code": "K7Q2M9",
        **fields,
    }
    return documents.TicketSheet(
        ticket_id=uuid.UUID(int=7), qr_payload=PAYLOAD, labels=LABELS["en"], **values
    )


def test_ticket_pdf_prints_the_ticket_and_a_qr_of_the_payload_where_it_was() -> None:
    pdf = documents.ticket_pdf(_sheet())

    text = pdf_text(pdf)
    for expected in ("Moonlight Jazz", "Le Caveau, Paris", "Holder: Ada Lovelace"):
        assert expected in text
    assert "Ticket: Standing" in text and "Order: K7Q2M9" in text
    assert "00000000-0000-0000-0000-000000000007" in text

    [page] = render_pages(pdf, scale=SCALE)
    [code] = [
        found
        for found in zxingcpp.read_barcodes(page)
        if found.format == zxingcpp.BarcodeFormat.QRCode
    ]
    assert code.text == PAYLOAD
    # Version 8 at level M, as docs/ticket-signing.md says (segno's choice for this payload).
    assert (code.extra["Version"], code.ec_level) == ("8", "M")
    # 80 mm with its 4-module quiet zone, so 49 / 57 of that for the modules, centred
    # on the page, below the text (as the PNG of 570 pixels was).
    left, right = code.position.top_left.x, code.position.top_right.x
    assert abs((right - left) / PX_PER_MM - 80 * 49 / 57) < 1
    assert abs((left + right) / 2 - page.width / 2) < PX_PER_MM
    assert 60 < code.position.top_left.y / PX_PER_MM < 90


def test_qr_modules_are_segnos_code_with_one_of_its_masks() -> None:
    """zxing-cpp encodes the same data and error correction as segno did; only the mask
    pattern, which each encoder chooses by its own scoring, may differ."""
    modules = [[int(value == 0) for value in row] for row in documents.qr_modules(PAYLOAD)]
    candidates = [
        [list(row) for row in segno.make(PAYLOAD, error="m", micro=False, mask=mask).matrix]
        for mask in range(8)
    ]
    assert modules in candidates


def test_text_too_long_for_a_line_still_wraps() -> None:
    title = " ".join(f"word{number}" for number in range(60))
    holder = "Ada " + "Lovelace-" * 20
    pdf = documents.ticket_pdf(_sheet(event_title=title, holder_name=holder))
    text = " ".join(pdf_text(pdf).split())
    assert title in text
    [page] = render_pages(pdf, scale=SCALE)
    assert [found.text for found in zxingcpp.read_barcodes(page)] == [PAYLOAD]


@pytest.mark.parametrize("script", ["latin", "cyrillic"])
def test_one_line_texts_land_where_multi_cell_put_them(script: str) -> None:
    """line_of_text writes a text that fits with text() (fast); the pages must be those
    multi_cell drew, line breaks and page breaks included (the core font, and DejaVu)."""
    name = "Ada Lovelace" if script == "latin" else "Анна Каренина"
    lines = [
        (22, 11, "Moonlight Jazz — édition spéciale"),
        (12, 7, f"Holder: {name}"),
        (12, 7, "samedi 9 janvier 2027 à 20:00\u202fheure normale d\u2019Europe centrale"),
        (9, 5, " ".join(["wrapped"] * 40)),
        (8, 5, "Ticket 00000000-0000-0000-0000-000000000007"),
    ] * 8  # past the end of the first page

    def pages(fast: bool) -> list[Image.Image]:
        pdf = documents._Pdf([text for _size, _height, text in lines])
        pdf.add_page()
        for size, height, text in lines:
            if fast:
                pdf.line_of_text(text, size=size, height=height)
            else:
                pdf.text_font(size)
                pdf.multi_cell(0, height, pdf.safe(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        return render_pages(bytes(pdf.output()), scale=2)

    fast, reference = pages(fast=True), pages(fast=False)
    assert len(fast) == len(reference) > 1
    for mine, theirs in zip(fast, reference, strict=True):
        assert ImageChops.difference(mine, theirs).getbbox() is None
