"""Ticket PDFs, the receipt and the calendar file download from "my tickets" and the
order page: for the logged-in buyer, for a guest through the secret link, nobody else."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from admitone.db import Database
from admitone.tickets.models import Ticket
from tests.factories import Shop, make_shop
from tests.helpers import register
from tests.notifications.helpers import pdf_text
from tests.orders.helpers import buy, create_order
from tests.web.helpers import HTML, get_page, web_login

LINK = re.compile(r'href="(/orders/[^"]+\.(?:pdf|ics))"')


def _links(html: str) -> list[str]:
    return LINK.findall(html)


def _ticket_ids(database: Database, order_id: str) -> list[uuid.UUID]:
    with database.session(write=False) as session:
        return list(
            session.scalars(
                select(Ticket.id).where(Ticket.order_id == uuid.UUID(order_id)).order_by(Ticket.id)
            )
        )


def _documents(order_id: str, ticket_id: uuid.UUID) -> list[str]:
    base = f"/orders/{order_id}"
    return [f"{base}/tickets/{ticket_id}.pdf", f"{base}/receipt.pdf", f"{base}/calendar.ics"]


def _assert_document(client: TestClient, url: str, order_code: str) -> None:
    response = get_page(client, url)
    assert response.status_code == 200, (url, response.text[:300])
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    if url.split("?")[0].endswith(".ics"):
        assert response.headers["content-type"] == "text/calendar; charset=utf-8"
        assert response.text.startswith("BEGIN:VCALENDAR")
        assert "Moonlight Jazz" in response.text
        return
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert order_code in pdf_text(response.content)


@pytest.fixture
def shop(clean_database: Database) -> Shop:
    return make_shop(clean_database, capacity=10)


def test_my_tickets_links_every_document_of_the_logged_in_buyer(
    client: TestClient, clean_database: Database, shop: Shop
) -> None:
    buyer = register(client)
    order = buy(client, shop, quantity=2, headers=buyer["headers"])
    web_login(client, buyer["email"])
    page = get_page(client, "/account/tickets")
    assert page.status_code == 200
    first, second = _ticket_ids(clean_database, order["id"])
    links = _links(page.text)
    for ticket_id in (first, second):
        assert f"/orders/{order['id']}/tickets/{ticket_id}.pdf" in links
    assert f"/orders/{order['id']}/receipt.pdf" in links
    assert f"/orders/{order['id']}/calendar.ics" in links
    assert 'aria-label="Download ticket (PDF): Standing, Moonlight Jazz"' in page.text
    for url in _documents(order["id"], first):
        _assert_document(client, url, order["code"])


def test_the_order_page_links_the_documents_in_french_too(
    client: TestClient, clean_database: Database, shop: Shop
) -> None:
    buyer = register(client)
    order = buy(client, shop, quantity=1, headers=buyer["headers"])
    web_login(client, buyer["email"])
    client.cookies.set("admitone_lang", "fr")
    page = get_page(client, f"/orders/{order['id']}")
    [ticket_id] = _ticket_ids(clean_database, order["id"])
    assert sorted(set(_links(page.text))) == sorted(_documents(order["id"], ticket_id))
    assert "Télécharger le billet (PDF)" in page.text
    assert "Reçu (PDF)" in page.text
    receipt = get_page(client, f"/orders/{order['id']}/receipt.pdf")
    assert "Reçu" in pdf_text(receipt.content)  # in the page's language


def test_a_guest_downloads_through_the_secret_link(
    make_app, clean_database: Database, shop: Shop
) -> None:
    app = make_app()
    with TestClient(app) as buying:
        order = buy(buying, shop, quantity=1)
    [ticket_id] = _ticket_ids(clean_database, order["id"])
    token = order["access_token"]
    with TestClient(app) as guest:
        # The link itself carries the secret...
        for url in _documents(order["id"], ticket_id):
            _assert_document(guest, f"{url}?token={token}", order["code"])
    with TestClient(app) as guest:
        # ...and once the order page was opened with it, the browser remembers it.
        page = get_page(guest, f"/orders/{order['id']}?token={token}")
        assert page.status_code == 200
        links = _links(page.text)
        assert sorted(set(links)) == sorted(_documents(order["id"], ticket_id))
        for url in links:
            _assert_document(guest, url, order["code"])


def test_strangers_get_a_404_page(make_app, clean_database: Database, shop: Shop) -> None:
    app = make_app()
    with TestClient(app) as client:
        buyer = register(client)
        order = buy(client, shop, quantity=1, headers=buyer["headers"])
        other_order = buy(client, shop, quantity=1)
        stranger = register(client)
    [ticket_id] = _ticket_ids(clean_database, order["id"])
    [other_ticket] = _ticket_ids(clean_database, other_order["id"])
    urls = _documents(order["id"], ticket_id)
    with TestClient(app) as anonymous:
        for url in [*urls, *(f"{u}?token={other_order['access_token']}" for u in urls)]:
            response = get_page(anonymous, url)
            assert response.status_code == 404, url
            assert response.headers["content-type"].startswith("text/html")
    with TestClient(app) as logged_in:
        web_login(logged_in, stranger["email"])
        for url in urls:
            assert get_page(logged_in, url).status_code == 404, url
    with TestClient(app) as owner:
        web_login(owner, buyer["email"])
        # A ticket of another order under this order's path: not found either.
        url = f"/orders/{order['id']}/tickets/{other_ticket}.pdf"
        assert get_page(owner, f"{url}?token={other_order['access_token']}").status_code == 404


def test_no_receipt_before_payment(client: TestClient, clean_database: Database, shop) -> None:
    order = create_order(client, shop, quantity=1)
    token = order["access_token"]
    page = get_page(client, f"/orders/{order['id']}?token={token}")
    assert "receipt.pdf" not in page.text
    response = client.get(f"/orders/{order['id']}/receipt.pdf?token={token}", headers=HTML)
    assert response.status_code == 404


def test_all_tickets_of_an_order_download_as_one_pdf(
    make_app, clean_database: Database, shop: Shop
) -> None:
    import pypdfium2

    app = make_app()
    with TestClient(app) as buying:
        order = buy(buying, shop, quantity=3)
        stranger_order = buy(buying, shop, quantity=1)
    ticket_ids = _ticket_ids(clean_database, order["id"])
    url = f"/orders/{order['id']}/tickets.pdf"
    with TestClient(app) as guest:
        page = get_page(guest, f"/orders/{order['id']}?token={order['access_token']}")
        assert f'href="{url}" download>Download all 3 tickets (one PDF)</a>' in page.text
        response = get_page(guest, url)  # the browser remembers the order's secret
        assert response.status_code == 200
        assert response.headers["cache-control"] == "private, no-store"
        assert response.headers["content-disposition"] == (
            f'attachment; filename="tickets-{order["code"]}.pdf"'
        )
        document = pypdfium2.PdfDocument(response.content)
        try:
            pages = [document[i].get_textpage().get_text_range() for i in range(len(document))]
        finally:
            document.close()
        # One page per ticket, each naming its own ticket.
        assert len(pages) == 3
        assert sorted(
            next(str(t) for t in ticket_ids if str(t) in page) for page in pages
        ) == sorted(str(t) for t in ticket_ids)
    with TestClient(app) as stranger:
        assert get_page(stranger, url).status_code == 404
        denied = get_page(stranger, f"{url}?token={stranger_order['access_token']}")
        assert denied.status_code == 404
