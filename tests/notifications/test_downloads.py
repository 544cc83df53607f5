"""Downloads: the ticket PDF, the receipt PDF and the calendar entry, with their access rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import icalendar
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from admitone.db import Database
from tests.helpers import register
from tests.notifications.helpers import decode_qr, pdf_text, render_pages
from tests.tickets.factories import World, build_world, refund_order


@pytest.fixture
def world(make_app: Callable[..., FastAPI], clean_database: Database, tmp_path) -> Iterator[World]:
    app = make_app(outbox_dir=tmp_path / "outbox")
    with TestClient(app, raise_server_exceptions=False) as client:
        yield build_world(client, clean_database)


def test_ticket_pdf_for_its_buyer_token_holder_and_organizer_only(world: World) -> None:
    client = world.client
    ticket_id = world.order.ticket_ids[0]
    url = f"/api/v1/tickets/{ticket_id}.pdf"
    shown = client.get(f"/api/v1/tickets/{ticket_id}", headers=world.buyer["headers"])
    payload = shown.json()["data"]["qr_payload"]

    for headers in (
        world.buyer["headers"],
        {"X-Order-Token": world.order.token},
        world.owner["headers"],
    ):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["cache-control"] == "private, no-store"
        [page] = render_pages(response.content)
        assert decode_qr(page) == [payload]
        assert "Night Show" in pdf_text(response.content)

    stranger = register(client)
    for headers in ({}, stranger["headers"], world.other_owner["headers"]):
        response = client.get(url, headers=headers)
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "TICKET_NOT_FOUND"
    assert client.get("/api/v1/tickets/not-a-uuid.pdf").status_code == 422

    refund_order(world.database, world.order.id)
    revoked = client.get(url, headers=world.buyer["headers"])
    assert revoked.status_code == 409
    assert revoked.headers["content-type"] == "application/json"


def test_receipt_and_calendar_for_the_order_readers_only(world: World) -> None:
    client = world.client
    receipt_url = f"/api/v1/orders/{world.order.id}/receipt.pdf"
    calendar_url = f"/api/v1/orders/{world.order.id}/calendar.ics"
    for headers in (
        world.buyer["headers"],
        {"X-Order-Token": world.order.token},
        world.owner["headers"],
    ):
        receipt = client.get(receipt_url, headers=headers)
        assert receipt.status_code == 200, receipt.text
        assert receipt.headers["content-type"] == "application/pdf"
        text = pdf_text(receipt.content)
        assert world.order.code in text
        assert "75.00" in text  # three seats at 25.00, VAT included
        calendar = client.get(calendar_url, params={"token": world.order.token})
        assert calendar.status_code == 200
        assert calendar.headers["content-type"].startswith("text/calendar")
        [entry] = icalendar.Calendar.from_ical(calendar.content).walk("VEVENT")
        assert str(entry["summary"]) == "Night Show"

    stranger = register(client)
    for headers in ({}, stranger["headers"], world.other_owner["headers"]):
        for url in (receipt_url, calendar_url):
            response = client.get(url, headers=headers)
            assert response.status_code == 404, (url, response.text)
    assert client.get(receipt_url, headers={"X-Order-Token": "wrong"}).status_code == 404


def test_vat_rate_is_an_api_field_and_reaches_the_receipt(
    make_app: Callable[..., FastAPI], clean_database: Database, tmp_path
) -> None:
    from tests.helpers import create_org, create_ticket_type, event_payload, events_url
    from tests.orders.helpers import BUYER, approve, start_payment

    with TestClient(make_app(outbox_dir=tmp_path / "outbox")) as client:
        owner = register(client)
        org = create_org(client, owner["headers"])
        created = client.post(
            events_url(org["slug"]), json=event_payload(), headers=owner["headers"]
        )
        event = created.json()["data"]
        refused = client.post(
            events_url(org["slug"], event["id"], "ticket-types"),
            json={"name": "Bad", "price_minor": 1000, "capacity": 5, "vat_rate_bp": 10_001},
            headers=owner["headers"],
        )
        assert refused.status_code == 422
        standard = create_ticket_type(
            client, owner["headers"], org["slug"], event["id"], price_minor=1200, vat_rate_bp=2000
        )
        assert standard["vat_rate_bp"] == 2000
        plain = create_ticket_type(
            client, owner["headers"], org["slug"], event["id"], name="Free-of-VAT", price_minor=500
        )
        assert plain["vat_rate_bp"] == 0
        patched = client.patch(
            events_url(org["slug"], event["id"], "ticket-types", plain["id"]),
            json={"vat_rate_bp": 550},
            headers=owner["headers"],
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["data"]["vat_rate_bp"] == 550
        published = client.post(
            events_url(org["slug"], event["id"], "publish"), headers=owner["headers"]
        )
        assert published.status_code == 200, published.text
        order = client.post(
            "/api/v1/orders",
            json={
                "event_id": event["id"],
                "items": [
                    {"ticket_type_id": standard["id"], "quantity": 2},
                    {"ticket_type_id": plain["id"], "quantity": 1},
                ],
                "buyer": dict(BUYER),
            },
        ).json()["data"]
        approve(client, start_payment(client, order))
        receipt = client.get(
            f"/api/v1/orders/{order['id']}/receipt.pdf",
            headers={"X-Order-Token": order["access_token"]},
        )
    assert receipt.status_code == 200
    text = pdf_text(receipt.content)
    # 2 x 12.00 at 20 %: VAT 4.00; 1 x 5.00 at 5.5 %: VAT 0.26; total 29.00.
    assert "VAT 20 %: €4.00" in text
    assert "VAT 5.5 %: €0.26" in text
    assert "Total VAT: €4.26" in text
    assert "Total: €29.00" in text
