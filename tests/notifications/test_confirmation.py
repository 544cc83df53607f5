"""The order confirmation: paid through the API, received by a real SMTP server, its PDF
tickets rendered and their QR codes decoded and verified with the event's public key."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import icalendar
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from admitone.db import Database
from admitone.events.models import Event
from admitone.notifications.models import Delivery
from admitone.tickets.models import EventSigningKey, Ticket
from admitone.tickets.signing import Ed25519PublicKey, parse_payload, verify
from tests.factories import make_shop
from tests.notifications.conftest import Inbox, read_outbox, wait_for_jobs
from tests.notifications.helpers import attachments, body, decode_qr, pdf_text, render_pages
from tests.orders.helpers import buy


def _public_key(database: Database, event_id: uuid.UUID) -> Ed25519PublicKey:
    with database.session(write=False) as session:
        raw = session.scalar(
            select(EventSigningKey.public_key).where(EventSigningKey.event_id == event_id)
        )
    assert raw is not None
    return Ed25519PublicKey.from_public_bytes(bytes(raw))


def _ticket_ids(database: Database, order_id: str) -> set[uuid.UUID]:
    with database.session(write=False) as session:
        return set(session.scalars(select(Ticket.id).where(Ticket.order_id == uuid.UUID(order_id))))


def test_paid_order_is_mailed_through_smtp_with_scannable_pdf_tickets(
    make_app: Callable[..., FastAPI],
    clean_database: Database,
    smtp_server: tuple[Inbox, int],
    tmp_path: Path,
) -> None:
    inbox, port = smtp_server
    app = make_app(
        smtp_url=f"smtp://127.0.0.1:{port}",
        mail_from="Admit One <tickets@example.org>",
        outbox_dir=tmp_path / "outbox",
        jobs_eager=False,  # the embedded default: a thread pool, not the tests' inline mode
    )
    shop = make_shop(clean_database, capacity=10, price_minor=2500)
    with TestClient(app) as client:
        order: dict[str, Any] = buy(client, shop, quantity=2)
        wait_for_jobs()
        [message] = inbox.wait_for(1)

    # The envelope and headers.
    assert inbox.envelopes == [("tickets@example.org", ["ada@example.com"])]
    assert message["To"] == "Ada Lovelace <ada@example.com>"
    assert "Moonlight Jazz" in message["Subject"]
    # Both parts, each naming the order code and the event.
    text, html = body(message, "plain"), body(message, "html")
    for part in (text, html):
        assert order["code"] in part
        assert "Moonlight Jazz" in part
    assert "<strong>" in html and "<" not in text.replace("<ada", "")

    files = attachments(message)
    pdfs = [(name, data) for name, kind, data in files if name.startswith("ticket-")]
    assert [kind for name, kind, _ in files if name.startswith("ticket-")] == [
        "application/pdf"
    ] * 2
    assert len(pdfs) == 2
    public_key = _public_key(clean_database, shop.event_id)
    expected = _ticket_ids(clean_database, order["id"])
    seen = set()
    for _name, pdf in pdfs:
        assert pdf.startswith(b"%PDF-")
        content = pdf_text(pdf)
        assert "Moonlight Jazz" in content and order["code"] in content
        assert "Ada Lovelace" in content and "Standing" in content
        [page] = render_pages(pdf)
        [payload] = decode_qr(page)
        claims = parse_payload(payload)
        assert claims is not None
        assert verify(public_key, claims)
        assert claims.event_id == shop.event_id
        seen.add(claims.ticket_id)
    assert seen == expected  # one PDF per seat, each its own ticket

    [ics] = [data for name, kind, data in files if kind == "text/calendar"]
    calendar = icalendar.Calendar.from_ical(ics)
    [entry] = calendar.walk("VEVENT")
    with clean_database.session(write=False) as session:
        event = session.get(Event, shop.event_id)
        assert event is not None
        assert entry.decoded("dtstart").astimezone(UTC) == event.starts_at.replace(microsecond=0)
        assert entry.decoded("dtend").astimezone(UTC) == event.ends_at.replace(microsecond=0)
    assert str(entry["summary"]) == "Moonlight Jazz"
    assert "Le Caveau" in str(entry["location"])

    [receipt] = [data for name, kind, data in files if name.startswith("receipt-")]
    assert "50.00" in pdf_text(receipt)

    # Recorded once; nothing went to the outbox when SMTP is configured.
    with clean_database.session(write=False) as session:
        deliveries = session.scalars(select(Delivery)).all()
    assert [(d.kind, str(d.object_id)) for d in deliveries] == [("order_confirmation", order["id"])]
    assert read_outbox(tmp_path / "outbox") == []


def test_embedded_mode_writes_the_confirmation_to_the_outbox(
    make_app: Callable[..., FastAPI], clean_database: Database, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    app = make_app(outbox_dir=outbox)
    shop = make_shop(clean_database, capacity=10)
    with TestClient(app) as client:
        order = buy(client, shop, quantity=1)
        wait_for_jobs()
    [message] = read_outbox(outbox)
    assert order["code"] in body(message, "plain")
    names = [name for name, _kind, _data in attachments(message)]
    assert len([name for name in names if name.startswith("ticket-")]) == 1
    assert "event.ics" in names
    assert message["Content-Language"] == "en"
    # The file is named after the Message-ID: a re-run rewrites it rather than adding one.
    [eml] = outbox.glob("*.eml")
    assert eml.name.startswith("order_confirmation.")
