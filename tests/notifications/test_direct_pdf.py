"""The simple ticket and receipt PDFs are written without fpdf2 (documents._DirectPdf,
for speed): the bytes must be those fpdf2 writes, and anything else must still go
through fpdf2."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from admitone.notifications import documents
from admitone.notifications.texts import LABELS

WHEN = datetime(2027, 1, 9, 19, 0, tzinfo=UTC)


def _sheet(**fields: str) -> documents.TicketSheet:
    values = {
        "event_title": "Moonlight Jazz",
        "starts_at": "Saturday, January 9, 2027 at 8:00\u202fPM Central European Standard Time",
        "venue": "Le Caveau, 12 rue de la Huchette, Paris",
        "holder_name": "Ada Lovelace",
        "ticket_type": "Standing",
        "order_code": "K7Q2M9",
        **fields,
    }
    return documents.TicketSheet(
        ticket_id=uuid.UUID(int=7), qr_payload="AO1" + "Q" * 150, labels=LABELS["en"], **values
    )


def _receipt(locale: str = "en", **fields: object) -> documents.Receipt:
    values: dict[str, object] = {
        "order_code": "K7Q2M9",
        "buyer_name": "Ada Lovelace",
        "buyer_email": "ada@example.com",
        "organizer": "Le Caveau (SARL)",
        "event_title": "Moonlight Jazz",
        "paid_at": "9 janv. 2027, 20:00:00",
        "currency": "EUR",
        "lines": [
            documents.ReceiptLine("Debout", 2, 4500, 550),
            documents.ReceiptLine("Assis (VIP) \\ balcon", 1, 9900, 2000),
        ],
        "refunded_minor": 0,
        "locale": locale,
        "labels": LABELS[locale],
        **fields,
    }
    return documents.Receipt(**values)  # type: ignore[arg-type]


def _both(monkeypatch: pytest.MonkeyPatch, draw: Callable[[], bytes]) -> tuple[bytes, bytes]:
    """(the direct writer's bytes, fpdf2's bytes), both dated WHEN; the direct writer
    must have been used."""
    used: list[bool] = []
    direct_init, pdf_init = documents._DirectPdf.__init__, documents._Pdf.__init__

    def dated_direct(self: documents._DirectPdf, texts: list[str]) -> None:
        direct_init(self, texts)
        self.creation_date = WHEN
        used.append(True)

    def dated_pdf(self: documents._Pdf, texts: list[str]) -> None:
        pdf_init(self, texts)
        self.creation_date = WHEN

    def refuse(self: documents._DirectPdf, texts: list[str]) -> None:
        raise documents._NotSimple()

    monkeypatch.setattr(documents._Pdf, "__init__", dated_pdf)
    monkeypatch.setattr(documents._DirectPdf, "__init__", dated_direct)
    direct = draw()
    assert used, "the direct writer was not used"
    monkeypatch.setattr(documents._DirectPdf, "__init__", refuse)
    return direct, draw()


@pytest.mark.parametrize(
    "draw",
    [
        lambda: documents.ticket_pdf(_sheet()),
        lambda: documents.ticket_pdf(_sheet(holder_name="Zoé (née) \\ Dupont \u2013 «€»")),
        lambda: documents.tickets_pdf(
            [_sheet(), _sheet(ticket_type="Balcon", holder_name="Zoé")], title="Reçu \u2013 x"
        ),
        lambda: documents.receipt_pdf(_receipt()),
        lambda: documents.receipt_pdf(_receipt("fr", refunded_minor=4500)),
    ],
    ids=["ticket", "ticket-escapes", "two-tickets", "receipt", "receipt-fr-refunded"],
)
def test_direct_pdf_is_byte_for_byte_fpdf2s(
    monkeypatch: pytest.MonkeyPatch, draw: Callable[[], bytes]
) -> None:
    direct, reference = _both(monkeypatch, draw)
    assert direct == reference


@pytest.mark.parametrize(
    "draw",
    [
        lambda: documents.ticket_pdf(_sheet(holder_name="Анна Каренина")),  # DejaVu
        lambda: documents.ticket_pdf(_sheet(event_title=" ".join(["word"] * 40))),  # wraps
        lambda: documents.receipt_pdf(  # past the end of the page
            _receipt(lines=[documents.ReceiptLine(f"Type {n}", 1, 100, 550) for n in range(40)])
        ),
    ],
    ids=["unicode-font", "wrapped-text", "page-break"],
)
def test_anything_else_is_drawn_by_fpdf2(
    monkeypatch: pytest.MonkeyPatch, draw: Callable[[], bytes]
) -> None:
    drawn: list[bool] = []
    original = documents._DirectPdf.output

    def output(self: documents._DirectPdf) -> bytes:
        drawn.append(True)
        return original(self)

    monkeypatch.setattr(documents._DirectPdf, "output", output)
    assert draw().startswith(b"%PDF-")
    assert not drawn
