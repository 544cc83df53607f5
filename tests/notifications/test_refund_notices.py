"""A notice for every refund (partial, full, made in the Stripe dashboard), each sent
once whatever the job retries, read from a real SMTP server."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from admitone.config import Settings
from admitone.db import Database
from admitone.jobs import JobContext
from admitone.notifications.models import Delivery
from admitone.notifications.tasks import send_payment_returned, send_refund_notice
from admitone.payments.models import Payment, Refund
from tests.factories import expire_hold, make_shop
from tests.helpers import register_shop_owner
from tests.notifications.conftest import Inbox
from tests.notifications.helpers import attachments, body, pdf_text
from tests.orders.helpers import approve, buy, create_order, start_payment
from tests.payments.conftest import fake_stripe  # noqa: F401 (fixture)
from tests.payments.fake_stripe import FakeStripe
from tests.payments.stripe_helpers import charge, pay, post_event, stripe_checkout, stripe_settings
from tests.payments.test_refunds import refund, ticket_ids


def _refund_markers(database: Database) -> set[uuid.UUID]:
    with database.session(write=False) as session:
        return set(
            session.scalars(select(Delivery.object_id).where(Delivery.kind == "order_refunded"))
        )


def _refund_ids(database: Database, order_id: str) -> list[uuid.UUID]:
    with database.session(write=False) as session:
        return list(
            session.scalars(
                select(Refund.id)
                .where(Refund.purpose_id == uuid.UUID(order_id))
                .order_by(Refund.created_at)
            )
        )


def _refund_notices(inbox: Inbox) -> list[Any]:
    return [m for m in inbox.messages if m["Subject"].startswith("Refund of")]


@pytest.fixture
def smtp_app(
    make_app: Callable[..., FastAPI], smtp_server: tuple[Inbox, int], tmp_path: Path
) -> Callable[..., FastAPI]:
    _inbox, port = smtp_server

    def make(**overrides: Any) -> FastAPI:
        return make_app(
            smtp_url=f"smtp://127.0.0.1:{port}", outbox_dir=tmp_path / "outbox", **overrides
        )

    return make


def test_each_partial_refund_and_the_last_one_send_their_own_notice(
    smtp_app: Callable[..., FastAPI],
    smtp_server: tuple[Inbox, int],
    clean_database: Database,
    make_settings: Callable[..., Settings],
) -> None:
    inbox, _port = smtp_server
    with TestClient(smtp_app()) as client:
        owner, shop = register_shop_owner(client, clean_database, capacity=10)
        order = buy(client, shop, quantity=3, buyer={"name": "Ada", "email": "ada@example.com"})
        ids = ticket_ids(clean_database, order["id"])
        refund(client, shop, order["id"], owner["headers"], ticket_ids=[ids[0]])
        refund(client, shop, order["id"], owner["headers"], ticket_ids=[ids[1]])
        refund(client, shop, order["id"], owner["headers"])  # the rest: a full refund
        inbox.wait_for(4)  # the confirmation and three notices

    first, second, last = _refund_notices(inbox)
    assert all(order["code"] in m["Subject"] for m in (first, second, last))
    assert all("25.00" in m["Subject"] for m in (first, second, last))
    assert "Still paid: €50.00" in body(first, "plain")
    assert "Still paid: €25.00" in body(second, "plain")
    assert "fully refunded" in body(last, "plain")
    # Each partial notice names the one ticket it revoked.
    assert body(first, "plain").count("Ada") == 2  # the greeting and the revoked ticket
    assert "no longer admit" in body(first, "html")
    # Distinct messages: the Message-ID names the refund, not the order.
    assert len({m["Message-ID"] for m in (first, second, last)}) == 3
    [(name, _kind, receipt)] = attachments(last)
    assert name == f"receipt-{order['code']}.pdf"
    assert "Refunded" in pdf_text(receipt)
    refunds = _refund_ids(clean_database, order["id"])
    assert len(refunds) == 3
    assert _refund_markers(clean_database) == set(refunds)

    # A retried or redelivered job finds its marker: nothing more is sent.
    context = JobContext(
        settings=make_settings(smtp_url=f"smtp://127.0.0.1:{_port}"), database=clean_database
    )
    for refund_id in refunds:
        assert send_refund_notice(context, refund_id=str(refund_id)) is False
    assert len(_refund_notices(inbox)) == 3


def test_a_refund_notice_lost_before_its_send_is_sent_by_the_retry(
    smtp_app: Callable[..., FastAPI],
    smtp_server: tuple[Inbox, int],
    clean_database: Database,
    make_settings: Callable[..., Settings],
) -> None:
    inbox, port = smtp_server
    with TestClient(smtp_app()) as client:
        owner, shop = register_shop_owner(client, clean_database, capacity=10)
        order = buy(client, shop, quantity=2)
        ids = ticket_ids(clean_database, order["id"])
        refund(client, shop, order["id"], owner["headers"], ticket_ids=[ids[0]])
        inbox.wait_for(2)
    [refund_id] = _refund_ids(clean_database, order["id"])
    # As if the job had died before sending: the marker is gone, the retry sends once.
    with clean_database.session() as session:
        session.execute(Delivery.__table__.delete().where(Delivery.object_id == refund_id))
    context = JobContext(
        settings=make_settings(smtp_url=f"smtp://127.0.0.1:{port}"), database=clean_database
    )
    assert send_refund_notice(context, refund_id=str(refund_id), ticket_ids=[ids[0]]) is True
    assert send_refund_notice(context, refund_id=str(refund_id), ticket_ids=[ids[0]]) is False
    notices = _refund_notices(inbox)
    assert len(notices) == 2
    assert notices[0]["Message-ID"] == notices[1]["Message-ID"]  # clients collapse them


def test_refunds_made_in_the_stripe_dashboard_each_send_a_notice(
    smtp_app: Callable[..., FastAPI],
    smtp_server: tuple[Inbox, int],
    fake_stripe: FakeStripe,  # noqa: F811
    clean_database: Database,
) -> None:
    inbox, _port = smtp_server
    shop = make_shop(clean_database, capacity=10)
    with TestClient(smtp_app(**stripe_settings(fake_stripe))) as client:
        order, _payment, checkout = stripe_checkout(client, shop, fake_stripe, quantity=2)
        pay(client, fake_stripe, checkout)
        inbox.wait_for(1)
        partial = charge(checkout, amount_refunded=1000, refund_id="re_dash_1")
        post_event(client, "charge.refunded", partial, event_id="evt_dash_1")
        rest = charge(checkout, amount_refunded=5000, refund_id="re_dash_2")
        post_event(client, "charge.refunded", rest, event_id="evt_dash_2")
        # Stripe delivers the same event again: a duplicate, no third notice.
        again = post_event(client, "charge.refunded", rest, event_id="evt_dash_2")
        assert again.json()["data"]["outcome"] == "duplicate"
        inbox.wait_for(3)

    first, second = _refund_notices(inbox)
    assert "€10.00" in first["Subject"] and "Still paid: €40.00" in body(first, "plain")
    assert "no longer admit" not in body(first, "plain")  # Stripe does not say which
    assert "€40.00" in second["Subject"] and "fully refunded" in body(second, "plain")
    assert _refund_markers(clean_database) == set(_refund_ids(clean_database, order["id"]))


def _returned_notices(inbox: Inbox) -> list[Any]:
    return [m for m in inbox.messages if m["Subject"].startswith("Your payment of")]


def test_a_late_payment_refunded_automatically_is_told_once_with_its_reason(
    smtp_app: Callable[..., FastAPI],
    smtp_server: tuple[Inbox, int],
    clean_database: Database,
    make_settings: Callable[..., Settings],
) -> None:
    inbox, port = smtp_server
    with TestClient(smtp_app()) as client:
        _owner, shop = register_shop_owner(client, clean_database, capacity=4)
        late = create_order(
            client, shop, quantity=4, buyer={"name": "Late Larry", "email": "larry@example.com"}
        )
        payment = start_payment(client, late)
        expire_hold(clean_database, late["id"])
        buy(client, shop, quantity=4)  # the released seats are sold to someone else
        assert approve(client, payment)["outcome"] == "refunded"
        inbox.wait_for(2)  # the other buyer's confirmation and the returned payment
    [notice] = _returned_notices(inbox)
    assert notice["To"].addresses[0].addr_spec == "larry@example.com"
    assert late["code"] in notice["Subject"] and "100.00" in notice["Subject"]
    text = body(notice, "plain")
    assert "sold to someone else" in text and "No ticket was issued" in text
    assert "refunded in full" in body(notice, "html")
    assert attachments(notice) == []  # nothing was bought: no receipt
    [refund_id] = _refund_ids(clean_database, late["id"])
    with clean_database.session(write=False) as session:
        kinds = set(session.scalars(select(Delivery.kind).where(Delivery.object_id == refund_id)))
    assert kinds == {"payment_returned"}
    # A retried job finds its marker: nothing more is sent.
    context = JobContext(
        settings=make_settings(smtp_url=f"smtp://127.0.0.1:{port}"), database=clean_database
    )
    assert send_payment_returned(context, refund_id=str(refund_id)) is False
    assert len(_returned_notices(inbox)) == 1


def test_a_second_payment_of_a_paid_order_is_returned_in_french(
    smtp_app: Callable[..., FastAPI],
    smtp_server: tuple[Inbox, int],
    clean_database: Database,
) -> None:
    inbox, _port = smtp_server
    with TestClient(smtp_app()) as client:
        _owner, shop = register_shop_owner(client, clean_database, capacity=4)
        order = create_order(
            client,
            shop,
            quantity=1,
            headers={"Accept-Language": "fr-FR,fr;q=0.9"},
            buyer={"name": "Zoé", "email": "zoe@example.com"},
        )
        first = start_payment(client, order)
        # A second checkout of the same order (a second tab), both paid.
        with clean_database.session() as session:
            session.execute(
                Payment.__table__.update()
                .where(Payment.id == uuid.UUID(first["id"]))
                .values(status="failed")
            )
        second = start_payment(client, order)
        assert approve(client, second)["outcome"] == "paid"
        assert approve(client, first)["outcome"] == "refunded"
        inbox.wait_for(2)
    [notice] = [m for m in inbox.messages if m["Subject"].startswith("Votre paiement de")]
    text = body(notice, "plain")
    assert "déjà payée par un autre paiement" in text and "restent valables" in text
