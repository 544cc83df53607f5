"""The attachments: a PDF per ticket, the receipt PDF, the ``.ics`` calendar entry.

PDFs are drawn with fpdf2, the tickets' QR codes encoded with zxing-cpp and drawn as
rectangles, calendars with icalendar. Text uses the
DejaVu Sans font when the system has it (any script); otherwise the PDF core font,
which only knows Latin-1, so other characters are replaced.
"""

from __future__ import annotations

import hashlib
import re
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import zxingcpp
from babel.dates import format_datetime
from babel.numbers import format_currency, get_currency_precision
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import CORE_FONTS_CHARWIDTHS
from fpdf.syntax import PDFDate, PDFString
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


# Remembered (as Babel does not): formatting with Babel costs about 40 us an amount and
# 90 us a date, some 12 of them per order confirmation (issue 15), and an on-sale's
# orders repeat the same prices and the same event start. Strings, from their arguments.
@lru_cache(maxsize=4096)
def money(amount_minor: int, currency: str, locale: str) -> str:
    from decimal import Decimal

    value = Decimal(amount_minor).scaleb(-get_currency_precision(currency))
    return format_currency(value, currency, locale=locale)


@lru_cache(maxsize=1024)
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


# --- the simple documents written directly: fast on purpose ----------------------------
# A profile of the confirmation job (issue 15) showed fpdf2's own machinery, not the
# drawing, as most of a ticket's or a receipt's cost: every text() and cell() copies its
# graphics state and re-measures through its bidirectional-text layer, and output()
# serialises each of the ~8 objects by reflection (about 2 of the 4 ms a one-ticket
# order spent in PDFs). Most documents are simple: the core font, every text on one
# line, no page break. _DirectPdf takes the calls _Pdf takes for those (the same layout
# functions drive both) and writes the very bytes fpdf2 would write (the same operators,
# objects, offsets and /ID: tests/notifications/test_direct_pdf.py compares them byte
# for byte); anything else (DejaVu, a text to wrap, a page break) raises _NotSimple and
# the document is drawn again by fpdf2.


class _NotSimple(Exception):
    """The document needs fpdf2: a text to wrap, a page break, a font to embed."""


# The page's geometry as fpdf2 computes it for _Pdf (read from one instance, once: its
# floats, rounded as it rounds them, decide the last digit of every position).
_GEOMETRY = FPDF(format="A4")
_GEOMETRY.set_auto_page_break(auto=True, margin=15)
_HELVETICA_WIDTHS = CORE_FONTS_CHARWIDTHS["helvetica"]
_PDF_HEADER = "%PDF-1.3\n%éëñ¿\n".encode("latin-1")


class _DirectPdf:
    """What _Pdf draws for a simple document, written without fpdf2 (see above)."""

    k = _GEOMETRY.k
    w = _GEOMETRY.w
    h = _GEOMETRY.h
    l_margin = _GEOMETRY.l_margin
    t_margin = _GEOMETRY.t_margin
    c_margin = _GEOMETRY.c_margin
    epw = _GEOMETRY.epw
    page_break_trigger = _GEOMETRY.page_break_trigger
    line_width = _GEOMETRY.line_width
    page_size = f"{_GEOMETRY.w * _GEOMETRY.k:.2f} {_GEOMETRY.h * _GEOMETRY.k:.2f}"

    def __init__(self, texts: Iterable[str]) -> None:
        if not _fits_core_font(texts):
            raise _NotSimple()
        self.creation_date = datetime.now(UTC)
        self.title = ""
        self.pages: list[list[str]] = []
        self.x = self.l_margin
        self.y = self.t_margin
        self.font_size_pt = 0.0
        self.font_size = 0.0
        self.font_on_page = False

    def set_title(self, title: str) -> None:
        self.title = title

    def safe(self, text: str) -> str:
        text = text.translate(_CORE_FONT_SPACES)
        return text.encode(CORE_ENCODING, "replace").decode(CORE_ENCODING)

    def add_page(self) -> None:
        self.pages.append(["2 J", f"{self.line_width * self.k:.2f} w"])
        self.x, self.y = self.l_margin, self.t_margin
        self.font_on_page = False

    def _out(self, operators: str) -> None:
        self.pages[-1].append(operators)

    def text_font(self, size: float) -> None:
        if size != self.font_size_pt:
            self.font_size_pt, self.font_size = size, size / self.k
            self.font_on_page = False

    def will_page_break(self, height: float) -> bool:
        if self.y + height > self.page_break_trigger:
            raise _NotSimple()
        return False

    def ln(self, height: float) -> None:
        self.x = self.l_margin
        self.y += height

    def _text(self, x: float, baseline: float, text: str) -> str:
        # fpdf2: the text in Windows-1252 read as Latin-1, parentheses escaped (text()).
        encoded = text.encode(CORE_ENCODING).decode("latin-1")
        escaped = (
            encoded.replace("\\", "\\\\")
            .replace(")", "\\)")
            .replace("(", "\\(")
            .replace("\r", "\\r")
        )
        if not self.font_on_page:
            self.font_on_page = True
            self._out(f"BT /F1 {self.font_size_pt:.2f} Tf ET")
        return f"BT {x * self.k:.2f} {(self.h - baseline) * self.k:.2f} Td ({escaped}) Tj ET"

    def _width(self, text: str) -> float:
        encoded = text.encode(CORE_ENCODING).decode("latin-1")
        return sum(_HELVETICA_WIDTHS[c] for c in encoded) * self.font_size_pt * 0.001 / self.k

    def line_of_text(self, text: str, *, size: float = 11, height: float = 7) -> None:
        """_Pdf.line_of_text for a text that fits on one line (else _NotSimple)."""
        self.text_font(size)
        text = self.safe(text)
        if not text or "\n" in text:
            raise _NotSimple()
        if not self._width(text) < self.epw - 2 * self.c_margin - 1:
            raise _NotSimple()
        self.will_page_break(height)
        baseline = self.y + 0.5 * height + 0.3 * self.font_size
        self._out(self._text(self.l_margin + self.c_margin, baseline, text))
        self.ln(height)

    def cell(self, width: float, height: float, text: str, border: str = "") -> None:
        """fpdf2's cell() for one left-aligned line in the current font (border "" or "B")."""
        if not text or "\n" in text or border not in ("", "B"):
            raise _NotSimple()
        self.will_page_break(height)
        drawn = self._text(
            self.x + self.c_margin, self.y + 0.5 * height + 0.3 * self.font_size, text
        )
        if border == "B":
            bottom = (self.h - (self.y + height)) * self.k
            drawn = (
                f"{self.x * self.k:.2f} {bottom:.2f} m {(self.x + width) * self.k:.2f} {bottom:.2f} l S "
                + drawn
            )
        self._out(drawn)
        self.x += width

    def output(self) -> bytes:
        """The file fpdf2 writes for these pages (compressed, Helvetica as /F1)."""
        count = len(self.pages)
        font_id = 3 + 2 * count
        info_id = 4 + 3 * count
        kids = "\n".join(f"{3 + 2 * index} 0 R" for index in range(count))
        objects: list[bytes] = [
            f"<<\n/Count {count}\n/Kids [{kids}]\n"
            f"/MediaBox [0 0 {self.page_size}]\n/Type /Pages\n>>".encode(),
            b"<<\n/OpenAction [3 0 R /FitH null]\n/PageLayout /OneColumn\n/Pages 1 0 R\n"
            b"/Type /Catalog\n>>",
        ]
        for index, operators in enumerate(self.pages):
            objects.append(
                f"<<\n/Contents {4 + 2 * index} 0 R\n/Parent 1 0 R\n"
                f"/Resources {font_id + 1 + index} 0 R\n/Type /Page\n>>".encode()
            )
            stream = zlib.compress(("\n".join(operators) + "\n").encode("latin-1"))
            objects.append(
                b"<<\n/Filter /FlateDecode\n/Length %d\n>>\nstream\n%s\nendstream"
                % (len(stream), stream)
            )
        objects.append(
            b"<<\n/BaseFont /Helvetica\n/Encoding /WinAnsiEncoding\n/Subtype /Type1\n"
            b"/Type /Font\n>>"
        )
        resources = (
            f"<<\n/Font <</F1 {font_id} 0 R>>\n/ProcSet [/PDF /Text /ImageB /ImageC /ImageI]\n>>"
        ).encode()
        objects.extend(resources for _ in range(count))
        info = ["<<", f"/CreationDate {PDFDate(self.creation_date, with_tz=True).serialize()}"]
        info.append("/Creator (Admit One)")
        if self.title:
            info.append(f"/Title {PDFString(self.title).serialize()}")
        objects.append(("\n".join(info) + "\n>>").encode("latin-1"))
        assert len(objects) == info_id

        buffer = bytearray(_PDF_HEADER)
        offsets = []
        for number, body in enumerate(objects, start=1):
            offsets.append(len(buffer))
            buffer += b"%d 0 obj\n%s\nendobj\n" % (number, body)
        startxref = len(buffer)
        digest = hashlib.md5(buffer, usedforsecurity=False)
        digest.update(self.creation_date.strftime("%Y%m%d%H%M%S").encode())
        file_id = digest.hexdigest().upper()
        xref = [f"xref\n0 {len(objects) + 1}\n0000000000 65535 f "]
        xref.extend(f"{offset:010} 00000 n " for offset in offsets)
        xref.append(
            f"trailer\n<<\n/Size {len(objects) + 1}\n/Root 2 0 R\n/Info {info_id} 0 R\n"
            f"/ID [<{file_id}><{file_id}>]\n>>\nstartxref\n{startxref}\n%%EOF\n"
        )
        buffer += "\n".join(xref).encode()
        return bytes(buffer)


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
    texts = [
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
    try:
        direct = _DirectPdf(texts)
        direct.set_title(direct.safe(title))
        for sheet in sheets:
            _ticket_page(direct, sheet)
        return direct.output()
    except _NotSimple:
        pass
    pdf = _Pdf(texts)
    pdf.set_title(pdf.safe(title))
    for sheet in sheets:
        _ticket_page(pdf, sheet)
    return bytes(pdf.output())


def _ticket_page(pdf: _Pdf | _DirectPdf, sheet: TicketSheet) -> None:
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


def draw_qr(pdf: FPDF | _DirectPdf, modules: list[bytes], *, x: float, width: float) -> None:
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

    texts = [
        receipt.buyer_name,
        receipt.buyer_email,
        receipt.organizer,
        receipt.event_title,
        receipt.paid_at,
        fmt(receipt.total_minor),
        *(line.name for line in receipt.lines),
        *labels.values(),
    ]
    try:
        return _receipt_page(_DirectPdf(texts), receipt, fmt)
    except _NotSimple:
        return _receipt_page(_Pdf(texts), receipt, fmt)


def _receipt_page(pdf: _Pdf | _DirectPdf, receipt: Receipt, fmt: Callable[[int], str]) -> bytes:
    labels = receipt.labels
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
