"""Refund, cancelled-event and reminder e-mails: sent once per order, in the buyer's language."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from admitone.accounts.models import User
from admitone.db import Database, utcnow
from admitone.events.models import Event
from admitone.jobs import JobContext
from admitone.notifications.models import Delivery
from admitone.notifications.tasks import send_event_reminders
from tests.factories import make_shop
from tests.helpers import register, register_shop_owner
from tests.notifications.conftest import ACCOUNT_MAIL_KINDS, read_outbox, wait_for_jobs
from tests.notifications.helpers import attachments, body, pdf_text
from tests.orders.helpers import buy


def _kinds(database: Database) -> list[str]:
    with database.session(write=False) as session:
        kinds = session.scalars(select(Delivery.kind))
        return sorted(kind for kind in kinds if kind not in ACCOUNT_MAIL_KINDS)


def test_refund_sends_a_refund_notice_with_the_updated_receipt(
    make_app: Callable[..., FastAPI], clean_database: Database, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    with TestClient(make_app(outbox_dir=outbox)) as client:
        owner, shop = register_shop_owner(client, clean_database, capacity=10)
        order = buy(client, shop, quantity=1)
        wait_for_jobs()
        response = client.post(
            f"/api/v1/organizations/{shop.org_slug}/events/{shop.event_id}/orders/{order['id']}/refund",
            headers=owner["headers"],
        )
        assert response.status_code == 200, response.text
        wait_for_jobs()
    messages = {message["Subject"]: message for message in read_outbox(outbox)}
    [refund] = [m for subject, m in messages.items() if subject.startswith("Refund of")]
    assert order["code"] in refund["Subject"]
    assert "25.00" in body(refund, "plain")
    [(name, _kind, receipt)] = attachments(refund)
    assert name.startswith("receipt-")
    assert "Refunded" in pdf_text(receipt)
    assert _kinds(clean_database) == ["order_confirmation", "order_refunded"]


def test_cancelled_event_tells_every_holder_once(
    make_app: Callable[..., FastAPI], clean_database: Database, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    with TestClient(make_app(outbox_dir=outbox)) as client:
        owner, shop = register_shop_owner(client, clean_database, capacity=10)
        first = buy(client, shop, quantity=2, buyer={"name": "Ada", "email": "ada@example.com"})
        second = buy(client, shop, quantity=1, buyer={"name": "Bob", "email": "bob@example.com"})
        wait_for_jobs()
        cancel = f"/api/v1/organizations/{shop.org_slug}/events/{shop.event_id}/cancel"
        assert client.post(cancel, headers=owner["headers"]).status_code == 200
        wait_for_jobs()
    cancelled = [m for m in read_outbox(outbox) if m["Subject"].endswith("is cancelled")]
    assert sorted(m["To"] for m in cancelled) == ["Ada <ada@example.com>", "Bob <bob@example.com>"]
    texts = " ".join(body(m, "plain") for m in cancelled)
    assert first["code"] in texts and second["code"] in texts
    # The cancellation message covers the refund: no separate refund notice.
    assert _kinds(clean_database) == [
        "event_cancelled",
        "event_cancelled",
        "order_confirmation",
        "order_confirmation",
    ]


def test_reminder_the_day_before_once_per_order_in_the_buyers_language(
    make_app: Callable[..., FastAPI], clean_database: Database, settings, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    with TestClient(make_app(outbox_dir=outbox)) as client:
        buyer = register(client)
        with clean_database.session() as session:
            session.execute(update(User).where(User.email == buyer["email"]).values(locale="fr"))
        soon = make_shop(clean_database, capacity=10)
        later = make_shop(clean_database, capacity=10)
        french = buy(client, soon, quantity=1, headers=buyer["headers"])
        english = buy(client, soon, quantity=1)
        buy(client, later, quantity=1)  # a month away: no reminder yet
        wait_for_jobs()
    with clean_database.session() as session:
        session.execute(
            update(Event)
            .where(Event.id == soon.event_id)
            .values(
                starts_at=utcnow() + timedelta(hours=20), ends_at=utcnow() + timedelta(hours=23)
            )
        )
    context = JobContext(
        settings=settings.model_copy(update={"outbox_dir": outbox}), database=clean_database
    )
    assert send_event_reminders(context) == 2
    assert send_event_reminders(context) == 0  # the next run (or a retry) sends nothing
    subjects = {"Demain : Moonlight Jazz": "fr", "Tomorrow: Moonlight Jazz": "en"}
    by_language = {
        subjects[m["Subject"]]: m for m in read_outbox(outbox) if m["Subject"] in subjects
    }
    assert sorted(by_language) == ["en", "fr"]
    assert by_language["fr"]["Content-Language"] == "fr"
    assert french["code"] in body(by_language["fr"], "plain")
    assert english["code"] in body(by_language["en"], "plain")
    assert [kind for _name, kind, _data in attachments(by_language["fr"])] == ["text/calendar"]
    assert _kinds(clean_database).count("event_reminder") == 2


def test_embedded_mode_schedules_the_reminders_itself(
    make_app: Callable[..., FastAPI], clean_database: Database, tmp_path: Path
) -> None:
    import time

    outbox = tmp_path / "outbox"
    shop = make_shop(clean_database, capacity=10)
    with clean_database.session() as session:
        session.execute(
            update(Event)
            .where(Event.id == shop.event_id)
            .values(starts_at=utcnow() + timedelta(hours=5), ends_at=utcnow() + timedelta(hours=8))
        )
    app = make_app(outbox_dir=outbox, jobs_eager=False, reminder_interval_seconds=0.2)
    with TestClient(app) as client:
        order = buy(client, shop, quantity=1)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "event_reminder" not in _kinds(clean_database):
            time.sleep(0.1)
        time.sleep(1)  # several more ticks: still one reminder
    reminders = [m for m in read_outbox(outbox) if m["Subject"] == "Tomorrow: Moonlight Jazz"]
    assert len(reminders) == 1
    assert order["code"] in body(reminders[0], "plain")
    assert _kinds(clean_database).count("event_reminder") == 1
