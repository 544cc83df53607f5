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


def test_confirmation_links_to_the_order_page_with_the_guests_private_link(
    make_app: Callable[..., FastAPI],
    clean_database: Database,
    smtp_server: tuple[Inbox, int],
) -> None:
    import re

    inbox, port = smtp_server
    app = make_app(smtp_url=f"smtp://127.0.0.1:{port}", public_url="https://tickets.example.org")
    shop = make_shop(clean_database, capacity=10, price_minor=2500)
    with TestClient(app) as client:
        order: dict[str, Any] = buy(client, shop, quantity=1)
        wait_for_jobs()
        [message] = inbox.wait_for(1)
    text, html = body(message, "plain"), body(message, "html")
    link = re.search(r"https://tickets\.example\.org/orders/(\S+)\?token=([\w-]+)", text)
    assert link is not None, text
    assert link.group(1) == order["id"]
    # The very token the guest was given at checkout (derived again for the mail).
    assert link.group(2) == order["access_token"]
    assert f'href="{link.group(0)}"' in html

    # The link opens the order in a browser that never saw it; a wrong token does not.
    token = link.group(2)
    wrong_token = token[:-1] + ("B" if token.endswith("A") else "A")
    with TestClient(app) as stranger:
        wrong = stranger.get(f"/orders/{order['id']}?token={wrong_token}")
        assert wrong.status_code == 404 and order["code"] not in wrong.text
        page = stranger.get(f"/orders/{order['id']}?token={token}")
        assert page.status_code == 200 and order["code"] in page.text


def test_order_page_url_without_a_token_for_accounts_and_old_random_tokens(
    make_app: Callable[..., FastAPI], clean_database: Database
) -> None:
    from admitone.authorization import hash_order_token
    from admitone.notifications.service import order_page_url
    from admitone.orders.models import Order

    app = make_app(public_url="https://tickets.example.org/")
    settings = app.state.settings
    shop = make_shop(clean_database, capacity=10, price_minor=2500)
    with TestClient(app) as client:
        order: dict[str, Any] = buy(client, shop, quantity=1)
    with clean_database.session() as session:
        row = session.get(Order, uuid.UUID(order["id"]))
        assert row is not None
        plain = f"https://tickets.example.org/orders/{order['id']}"
        assert order_page_url(row, settings) == f"{plain}?token={order['access_token']}"
        # An order made when tokens were random: the server cannot give its token again.
        row.access_token_hash = hash_order_token("a-random-token-of-old")
        assert order_page_url(row, settings) == plain
        # An account's order opens after logging in: no secret in its mails.
        row.access_token_hash = hash_order_token(order["access_token"])
        row.user_id = uuid.uuid4()
        assert order_page_url(row, settings) == plain
        session.rollback()
