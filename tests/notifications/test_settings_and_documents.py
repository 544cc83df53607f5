"""Mail and job settings are checked at start-up; VAT arithmetic; PDFs in any script."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from admitone.config import Settings
from admitone.notifications import documents
from admitone.notifications.mailer import OutboxMailer, SmtpMailer, get_mailer
from admitone.notifications.texts import LABELS
from tests.notifications.helpers import decode_qr, pdf_text, render_pages

ADMITONE = str(Path(sys.executable).parent / "admitone")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("smtp_url", "http://mail.example.com"),
        ("smtp_url", "smtp://"),
        ("smtp_url", "smtp://user@mail.example.com:587"),  # a user without a password
        ("smtp_url", "smtp://mail.example.com:99999"),
        ("mail_from", "not an address"),
        ("mail_from", "Admit One <tickets@example.com>\r\nBcc: x@example.com"),
        ("redis_url", "http://127.0.0.1:6379"),
    ],
)
def test_wrong_mail_and_job_settings_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as error:
        Settings(_env_file=None, **{field: value})
    assert error.value.errors()[0]["loc"] == (field,)


def test_test_only_pause_hook_is_refused_outside_tests(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="ADMITONE_JOBS_TEST_PAUSE_FILE"):
        Settings(_env_file=None, env="development", jobs_test_pause_file=tmp_path / "p")
    assert Settings(_env_file=None, env="test", jobs_test_pause_file=tmp_path / "p")


def test_smtp_urls_choose_the_transport(tmp_path: Path) -> None:
    assert isinstance(get_mailer(Settings(_env_file=None, outbox_dir=tmp_path)), OutboxMailer)
    secure = get_mailer(
        Settings(_env_file=None, smtp_url="smtp://me%40x.org:p%2Fw@mx.example:2525")
    )
    assert isinstance(secure, SmtpMailer)
    assert (secure.host, secure.port, secure.ssl) == ("mx.example", 2525, False)
    assert (secure.username, secure.password) == ("me@x.org", "p/w")
    tls = get_mailer(Settings(_env_file=None, smtp_url="smtps://u:p@mx.example"))
    assert isinstance(tls, SmtpMailer) and (tls.port, tls.ssl) == (465, True)
    relay = get_mailer(Settings(_env_file=None, smtp_url="smtp://localhost"))
    assert isinstance(relay, SmtpMailer) and (relay.port, relay.username) == (25, None)


def test_the_cli_names_the_wrong_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADMITONE_")}
    env.update(
        ADMITONE_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
        ADMITONE_SMTP_URL="ftp://mail.example.com",
        ADMITONE_REDIS_URL="http://nowhere",
    )
    result = subprocess.run(
        [ADMITONE, "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "ADMITONE_SMTP_URL" in result.stderr
    assert "ADMITONE_REDIS_URL" in result.stderr


@pytest.mark.parametrize(
    ("amount", "rate_bp", "vat"),
    [(1200, 2000, 200), (1000, 550, 52), (2500, 0, 0), (1, 2000, 0), (9999, 1000, 909)],
)
def test_vat_inside_a_tax_inclusive_price(amount: int, rate_bp: int, vat: int) -> None:
    assert documents.vat_of(amount, rate_bp) == vat


def test_receipt_breaks_vat_down_by_rate() -> None:
    receipt = documents.Receipt(
        order_code="ABCD2345",
        buyer_name="Ada Lovelace",
        buyer_email="ada@example.com",
        organizer="Org",
        event_title="Night Show",
        paid_at="today",
        currency="EUR",
        lines=[
            documents.ReceiptLine("Standing", 2, 1200, 2000),
            documents.ReceiptLine("Book", 1, 1055, 550),
        ],
        refunded_minor=0,
        locale="fr",
        labels=LABELS["fr"],
    )
    assert receipt.vat_by_rate() == {550: (55, 1000), 2000: (400, 2000)}
    text = pdf_text(documents.receipt_pdf(receipt))
    assert "TVA 20 %" in text and "4,00" in text
    assert "TVA 5.5 %" in text and "0,55" in text
    assert "Total TVA: 4,55" in text
    assert "Total TTC: 34,55" in text


def ticket_pdf(
    *,
    event_title: str,
    starts_at: str,
    holder_name: str,
    ticket_type: str,
    qr_payload: str,
    language: str,
) -> bytes:
    """A ticket PDF for these texts, the rest fixed (venue, order code)."""
    return documents.ticket_pdf(
        documents.TicketSheet(
            ticket_id=uuid.uuid4(),
            event_title=event_title,
            starts_at=starts_at,
            venue="Salle Pleyel",
            holder_name=holder_name,
            ticket_type=ticket_type,
            order_code="ABCD2345",
            qr_payload=qr_payload,
            labels=LABELS[language],
        )
    )


def test_ticket_pdf_in_any_script_still_scans() -> None:
    payload = "A" * 181
    pdf = ticket_pdf(
        event_title="Ночной концерт 夜",
        starts_at="samedi 1 août 2026",
        holder_name="Łukasz Żółć",
        ticket_type="Fosse",
        qr_payload=payload,
        language="fr",
    )
    text = pdf_text(pdf)
    assert "Łukasz Żółć" in text and "Ночной концерт" in text
    [page] = render_pages(pdf)
    assert decode_qr(page) == [payload]


def test_cldr_narrow_spaces_keep_the_fast_core_font() -> None:
    """Babel writes "8:00\u202fPM": that alone must not embed a TrueType font (0.15 s)."""
    payload = "B" * 181
    pdf = ticket_pdf(
        event_title="Night concert",
        starts_at="Sunday, December 20, 2026, 8:00\u202fPM",
        holder_name="Zoé Martin",
        ticket_type="Standing",
        qr_payload=payload,
        language="en",
    )
    assert b"/FontFile2" not in pdf  # no embedded TrueType font
    assert b"/Helvetica" in pdf
    text = pdf_text(pdf)
    assert "8:00" in text and "PM" in text and "Zoé Martin" in text
    [page] = render_pages(pdf)
    assert decode_qr(page) == [payload]
