"""Mails about an order are written in the language the buyer ordered in, guests too:
the web checkout's language, or the API's Accept-Language, else the account's, else English."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from admitone.accounts.models import User
from admitone.db import Database
from admitone.languages import buyer_language
from admitone.orders.models import Order
from tests.factories import make_shop
from tests.helpers import register, register_shop_owner
from tests.notifications.conftest import Inbox
from tests.notifications.helpers import body
from tests.orders.helpers import approve, create_order, start_payment, token_headers
from tests.payments.test_refunds import refund, ticket_ids
from tests.web.helpers import HTML, csrf_from, get_page


def _locale(database: Database, order_id: str) -> str | None:
    with database.session(write=False) as session:
        return session.scalar(select(Order.locale).where(Order.id == uuid.UUID(order_id)))


def _pay(client: TestClient, order: dict) -> None:
    payment = start_payment(client, order)
    assert approve(client, payment)["outcome"] == "paid"


@pytest.mark.parametrize(
    ("accept_language", "account_locale", "expected"),
    [
        ("fr-FR,fr;q=0.9,en;q=0.8", None, "fr"),
        ("de-DE,de;q=0.9,fr;q=0.5", "en", "fr"),  # the first supported one
        ("en-GB", "fr", "en"),  # the request says English: English
        (None, "fr", "fr"),  # no header: the account's language
        ("de", None, "en"),
        (None, None, "en"),
    ],
)
def test_the_buyer_language_rule(
    accept_language: str | None, account_locale: str | None, expected: str
) -> None:
    assert buyer_language(accept_language=accept_language, account_locale=account_locale) == (
        expected
    )


def test_a_french_guest_gets_every_mail_in_french(
    make_app: Callable[..., FastAPI],
    clean_database: Database,
    smtp_server: tuple[Inbox, int],
    tmp_path: Path,
) -> None:
    inbox, port = smtp_server
    app = make_app(smtp_url=f"smtp://127.0.0.1:{port}", outbox_dir=tmp_path / "outbox")
    with TestClient(app) as client:
        owner, shop = register_shop_owner(client, clean_database, capacity=10)
        order = create_order(
            client, shop, quantity=2, headers={"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.8"}
        )
        _pay(client, order)
        assert _locale(clean_database, order["id"]) == "fr"
        first = ticket_ids(clean_database, order["id"])[0]
        refund(client, shop, order["id"], owner["headers"], ticket_ids=[first])
        cancel = f"/api/v1/organizations/{shop.org_slug}/events/{shop.event_id}/cancel"
        assert client.post(cancel, headers=owner["headers"]).status_code == 200
        messages = inbox.wait_for(3)
    subjects = [m["Subject"] for m in messages]
    assert subjects[0] == "Vos billets pour Moonlight Jazz"
    assert subjects[1].startswith("Remboursement de 25,00")
    assert subjects[2] == "Moonlight Jazz est annulé"
    assert all(m["Content-Language"] == "fr" for m in messages)
    assert "Reste payé" in body(messages[1], "plain")


def test_an_api_order_without_a_header_takes_the_account_language(
    client: TestClient, clean_database: Database
) -> None:
    buyer = register(client)
    with clean_database.session() as session:
        session.execute(update(User).where(User.email == buyer["email"]).values(locale="fr"))
    shop = make_shop(clean_database, capacity=10)
    french = create_order(client, shop, headers=buyer["headers"])
    english = create_order(client, shop, headers={**buyer["headers"], "Accept-Language": "en"})
    guest = create_order(client, shop)
    assert _locale(clean_database, french["id"]) == "fr"
    assert _locale(clean_database, english["id"]) == "en"
    assert _locale(clean_database, guest["id"]) == "en"
    # The order as its buyer reads it is unchanged by the new column.
    response = client.get(
        f"/api/v1/orders/{guest['id']}", headers=token_headers(guest["access_token"])
    )
    assert response.status_code == 200


def test_the_web_checkout_records_the_page_language(
    client: TestClient, clean_database: Database
) -> None:
    shop = make_shop(clean_database, capacity=10)
    client.cookies.set("admitone_lang", "fr")
    page = get_page(client, f"/events/{shop.event_id}")
    assert page.status_code == 200, page.text
    held = client.post(
        "/checkout/reserve",
        data={
            "csrf_token": csrf_from(page.text),
            "event": str(shop.event_id),
            f"qty-{shop.ticket_type_id}": "1",
            "buyer_name": "Invitée",
            "buyer_email": "invitee@example.com",
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert held.status_code == 303, held.text
    order_id = held.headers["location"].rsplit("/", 1)[1]
    assert _locale(clean_database, order_id) == "fr"
