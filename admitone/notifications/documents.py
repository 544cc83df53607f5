"""The attachments: a PDF per ticket, the receipt PDF, the ``.ics`` calendar entry.

PDFs are drawn with fpdf2, the tickets' QR codes encoded with zxing-cpp and drawn as
rectangles, calendars with icalendar. Text uses the
DejaVu Sans font when the system has it (any script); otherwise the PDF core font,
which only knows Latin-1, so other characters are replaced.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import zxingcpp
from babel.dates import format_datetime
from babel.numbers import format_currency, get_currency_precision
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from icalendar import Calendar
from icalendar import Event as CalendarEvent

from admitone.events.models import Event

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
)
QR_WIDTH_MM = 80  # the code and its quiet zone
QR_QUIET_ZONE = 4  # modules of light margin on each side (the standard's minimum)


@lru_cache(maxsize=1)
def _unicode_font() -> Path | None:
    return next((path for path in FONT_CANDIDATES if path.exists()), None)


def money(amount_minor: int, currency: str, locale: str) -> str:
    from decimal import Decimal

    value = Decimal(amount_minor).scaleb(-get_currency_precision(currency))
    return format_currency(value, currency, locale=locale)


def local_time(moment: datetime, timezone: str, locale: str, fmt: str = "full") -> str:
    """``moment`` in the event's time zone, with the zone's name (never the server's)."""
    local = moment.astimezone(ZoneInfo(timezone))
    return format_datetime(local, fmt, tzinfo=ZoneInfo(timezone), locale=locale)


def vat_of(amount_minor: int, rate_bp: int) -> int:
    """The VAT inside a tax-inclusive amount: amount - amount / (1 + rate), rounded half up."""
    if rate_bp <= 0:
        return 0
    net = (amount_minor * 10_000 * 2 + (10_000 + rate_bp)) // (2 * (10_000 + rate_bp))
    return amount_minor - net


CORE_ENCODING = "windows-1252"


# CLDR (through Babel) writes times as "8:00\u202fPM" and French numbers with narrow
# spaces: shown as no-break spaces, they keep every English and French text in the fast
# core font instead of forcing the embedded one.
_CORE_FONT_SPACES = str.maketrans({"\u202f": "\u00a0", "\u2009": " ", "\u2007": "\u00a0"})


def _fits_core_font(texts: Iterable[str]) -> bool:
    try:
        for text in texts:
            text.translate(_CORE_FONT_SPACES).encode(CORE_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


class _Pdf(FPDF):
    """A4 page; the built-in Helvetica (Windows-1252: English, French, the euro sign)
    when every text fits it, DejaVu Sans otherwise. The core font is five times faster:
    embedding a TrueType font costs about 0.15 s of CPU per PDF."""

    def __init__(self, texts: Iterable[str]) -> None:
        super().__init__(format="A4")
        self.set_auto_page_break(auto=True, margin=15)
        self.set_creator("Admit One")
        self.core_fonts_encoding = CORE_ENCODING
        font = None if _fits_core_font(texts) else _unicode_font()
        self.unicode = font is not None
        if font is not None:
            self.add_font("Body", fname=str(font))
            self.family = "Body"
        else:
            self.family = "Helvetica"

    def text_font(self, size: float) -> None:
        self.set_font(self.family, size=size)

    def safe(self, text: str) -> str:
        if self.unicode:
            return text
        text = text.translate(_CORE_FONT_SPACES)
        return text.encode(CORE_ENCODING, "replace").decode(CORE_ENCODING)

    def line_of_text(self, text: str, *, size: float = 11, height: float = 7) -> None:
        """``text`` from the left margin, wrapped to the page's width, then a new line."""
        self.text_font(size)
        text = self.safe(text)
        # Fast on purpose (the confirmation job draws about 20 of these per order):
        # fpdf2's multi_cell breaks lines character by character in Python, about
        # 0.2 ms a line, and even its cell goes through its styled-text machinery. A
        # text that fits on one line is written with text() where cell() would put it
        # (left margin plus the cell margin; the baseline at half the line height plus
        # 0.3 of the font size, fpdf2's own rule), then the line is ended as a cell
        # would: the same glyphs at the same place (a test compares the rendered pages).
        # The margin of 1 mm leaves a text near the edge to multi_cell, whose measure
        # may differ by a rounding.
        fits = self.get_string_width(text) < self.epw - 2 * self.c_margin - 1
        if fits and "\n" not in text:
            if self.will_page_break(height):
                self.add_page()
            baseline = self.y + 0.5 * height + 0.3 * self.font_size
            self.text(self.l_margin + self.c_margin, baseline, text)
            self.ln(height)
        else:
            self.multi_cell(0, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


@dataclass(frozen=True)
class TicketSheet:
    """What a ticket PDF prints."""

    ticket_id: uuid.UUID
    event_title: str
    starts_at: str  # already formatted in the event's time zone
    venue: str
    holder_name: str
    ticket_type: str
    order_code: str
    qr_payload: str
    labels: dict[str, str]


def ticket_pdf(sheet: TicketSheet) -> bytes:
    return tickets_pdf([sheet], title=f"{sheet.event_title} - {sheet.ticket_type}")


def tickets_pdf(sheets: list[TicketSheet], *, title: str) -> bytes:
    """One page per ticket, in one file: an order's tickets as a single download."""
    pdf = _Pdf(
        [
            text
            for sheet in sheets
            for text in (
                sheet.event_title,
                sheet.starts_at,
                sheet.venue,
                sheet.holder_name,
                sheet.ticket_type,
                *sheet.labels.values(),
            )
        ]
    )
    pdf.set_title(pdf.safe(title))
    for sheet in sheets:
        _ticket_page(pdf, sheet)
    return bytes(pdf.output())


def _ticket_page(pdf: _Pdf, sheet: TicketSheet) -> None:
    pdf.add_page()
    pdf.line_of_text(sheet.event_title, size=22, height=11)
    pdf.line_of_text(sheet.starts_at, size=12)
    pdf.line_of_text(sheet.venue, size=12)
    pdf.ln(4)
    for label, value in (
        (sheet.labels["holder"], sheet.holder_name),
        (sheet.labels["ticket_type"], sheet.ticket_type),
        (sheet.labels["order"], sheet.order_code),
    ):
        pdf.line_of_text(f"{label}: {value}", size=12)
    pdf.ln(4)
    draw_qr(pdf, qr_modules(sheet.qr_payload), x=(pdf.w - QR_WIDTH_MM) / 2, width=QR_WIDTH_MM)
    pdf.ln(2)
    pdf.line_of_text(sheet.labels["scan"], size=9, height=5)
    pdf.line_of_text(f"{sheet.labels['ticket']} {sheet.ticket_id}", size=8, height=5)


# --- the QR code: fast on purpose ------------------------------------------------------
# Every paid order renders its tickets' QR codes in the confirmation job, and in an
# on-sale that job, not the sale, used most of the machine (docs/performance-log.md,
# issue 15). segno (pure Python) spent about 8 ms choosing the mask of a version 8 code,
# writing it as a PNG 4 ms more, and fpdf2 about 3 ms reading the PNG back; zxing-cpp
# encodes it in about 0.4 ms, and the modules go into the page as one filled path of
# rectangles (the same squares, drawn sharp at any zoom). The payload, the version (8)
# and the error-correction level (M) are those of segno; the mask pattern, which the
# encoder chooses, may differ. tests/notifications/test_ticket_document.py decodes the
# page and checks the version and level.

_DARK_RUNS = re.compile(rb"\x00+")  # zxing-cpp's image: 0 is a dark module, 255 light


def qr_modules(payload: str) -> list[bytes]:
    """The QR code of ``payload`` at error-correction level M, the smallest version that
    holds it: one row of bytes per row of modules (0 dark, 255 light), no quiet zone."""
    code = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = code.to_image(scale=1, add_quiet_zones=False)
    height, width = image.shape
    # The Image is a buffer (8-bit grey, row by row); the stubs do not declare it.
    pixels = bytes(memoryview(image))  # type: ignore[arg-type]
    return [pixels[row * width : (row + 1) * width] for row in range(height)]


def draw_qr(pdf: FPDF, modules: list[bytes], *, x: float, width: float) -> None:
    """Draw the code at (``x``, the current y), ``width`` wide with its quiet zone, like
    an image in the flow: a page break first if it does not fit, then y moves below it.

    One path, one fill: a rectangle per run of dark modules in a row, in a coordinate
    system whose unit is one module (``cm``), so the squares meet exactly and no seam
    shows between rows.
    """
    size = len(modules) + 2 * QR_QUIET_ZONE
    if pdf.will_page_break(width):
        pdf.add_page()
    module = width / size * pdf.k  # points
    left = (x * pdf.k) + QR_QUIET_ZONE * module
    top = (pdf.h - pdf.y) * pdf.k - QR_QUIET_ZONE * module
    runs = [
        f"{start} {row} {end - start} 1 re"
        for row, line in enumerate(modules)
        for start, end in (run.span() for run in _DARK_RUNS.finditer(line))
    ]
    # fpdf2 has no public call for raw drawing operators; q/Q keep its graphics state.
    pdf._out(
        f"q 0 g {module:.5f} 0 0 {-module:.5f} {left:.3f} {top:.3f} cm\n"
        + "\n".join(runs)
        + "\nf Q"
    )
    pdf.y += width


@dataclass(frozen=True)
class ReceiptLine:
    name: str
    quantity: int
    unit_price_minor: int
    vat_rate_bp: int

    @property
    def total_minor(self) -> int:
        return self.quantity * self.unit_price_minor

    @property
    def vat_minor(self) -> int:
        return vat_of(self.total_minor, self.vat_rate_bp)


@dataclass(frozen=True)
class Receipt:
    order_code: str
    buyer_name: str
    buyer_email: str
    organizer: str
    event_title: str
    paid_at: str
    currency: str
    lines: list[ReceiptLine]
    refunded_minor: int
    locale: str
    labels: dict[str, str]

    @property
    def total_minor(self) -> int:
        return sum(line.total_minor for line in self.lines)

    def vat_by_rate(self) -> dict[int, tuple[int, int]]:
        """rate (bp) -> (VAT, amount net of VAT) over the lines of that rate."""
        totals: dict[int, tuple[int, int]] = {}
        for line in self.lines:
            vat, net = totals.get(line.vat_rate_bp, (0, 0))
            totals[line.vat_rate_bp] = (
                vat + line.vat_minor,
                net + line.total_minor - line.vat_minor,
            )
        return dict(sorted(totals.items()))


def receipt_pdf(receipt: Receipt) -> bytes:
    labels = receipt.labels

    def fmt(amount: int) -> str:
        return money(amount, receipt.currency, receipt.locale)

    pdf = _Pdf(
        [
            receipt.buyer_name,
            receipt.buyer_email,
            receipt.organizer,
            receipt.event_title,
            receipt.paid_at,
            fmt(receipt.total_minor),
            *(line.name for line in receipt.lines),
            *labels.values(),
        ]
    )
    pdf.set_title(pdf.safe(f"{labels['receipt']} {receipt.order_code}"))
    pdf.add_page()
    pdf.line_of_text(f"{labels['receipt']} {receipt.order_code}", size=20, height=10)
    pdf.line_of_text(receipt.organizer, size=11)
    pdf.line_of_text(receipt.event_title, size=11)
    pdf.line_of_text(f"{labels['paid_at']}: {receipt.paid_at}", size=11)
    pdf.line_of_text(f"{labels['buyer']}: {receipt.buyer_name} <{receipt.buyer_email}>", size=11)
    pdf.ln(4)
    pdf.text_font(10)
    widths = (70, 20, 35, 25, 35)
    header = (
        labels["item"],
        labels["quantity"],
        labels["unit_price"],
        labels["vat_rate"],
        labels["amount"],
    )
    for width, text in zip(widths, header, strict=True):
        pdf.cell(width, 8, pdf.safe(text), border="B")
    pdf.ln(8)
    for line in receipt.lines:
        cells = (
            line.name,
            str(line.quantity),
            fmt(line.unit_price_minor),
            f"{line.vat_rate_bp / 100:g} %",
            fmt(line.total_minor),
        )
        for width, text in zip(widths, cells, strict=True):
            pdf.cell(width, 7, pdf.safe(text))
        pdf.ln(7)
    pdf.ln(3)
    for rate, (vat, net) in receipt.vat_by_rate().items():
        pdf.line_of_text(
            f"{labels['vat']} {rate / 100:g} %: {fmt(vat)}  ({labels['net']}: {fmt(net)})", size=10
        )
    total_vat = sum(vat for vat, _net in receipt.vat_by_rate().values())
    pdf.line_of_text(f"{labels['total_vat']}: {fmt(total_vat)}", size=10)
    pdf.line_of_text(f"{labels['total']}: {fmt(receipt.total_minor)}", size=13, height=9)
    if receipt.refunded_minor:
        pdf.line_of_text(f"{labels['refunded']}: {fmt(receipt.refunded_minor)}", size=11)
    pdf.line_of_text(labels["inclusive"], size=9, height=5)
    return bytes(pdf.output())


def calendar_ics(event: Event, *, order_code: str, url: str) -> bytes:
    """One VEVENT (UTC times, the venue as LOCATION); the UID is stable per event."""
    calendar = Calendar()
    calendar.add("prodid", "-//Admit One//admitone//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    entry = CalendarEvent()
    entry.add("uid", f"{event.id}@admitone")
    entry.add("summary", event.title)
    entry.add("dtstart", event.starts_at)
    entry.add("dtend", event.ends_at)
    entry.add("dtstamp", event.updated_at)
    location = ", ".join(
        part for part in (event.venue_name, event.venue_address, event.city) if part
    )
    entry.add("location", location)
    entry.add("description", f"Order {order_code}\n{url}")
    entry.add("url", url)
    if event.status == "cancelled":
        entry.add("status", "CANCELLED")
    calendar.add_component(entry)
    return calendar.to_ical()
