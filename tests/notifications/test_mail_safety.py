"""Mail that cannot be abused (issue 13, point 7): a line break in a title or a name never
stops a message nor adds a header; an organizer the platform has not verified puts none
of its own words in subjects and mails a bounded number of strangers with free orders."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from admitone.db import Database
from admitone.events.models import Event
from admitone.notifications import tasks
from admitone.notifications.mailer import header_text
from admitone.notifications.models import Delivery
from admitone.orders.models import Order
from admitone.organizations.models import Organization
from tests.factories import make_shop
from tests.helpers import (
    auth,
    create_event,
    create_org,
    create_ticket_type,
    db_snapshot,
    event_payload,
    register,
    ticket_type_payload,
)
from tests.notifications.conftest import Inbox, read_outbox, wait_for_jobs
from tests.orders.helpers import approve, buy, create_order, start_payment
from tests.tickets.factories import make_platform_admin


def test_header_text_makes_one_line_of_anything() -> None:
    assert header_text("Moonlight\r\nBcc: eve@example.com") == "Moonlight Bcc: eve@example.com"
    assert header_text("a\u2028b\x85c\td\x00e") == "a b c d e"
    assert header_text("  Jazz  ") == "Jazz"
    long = header_text("x" * 500)
    assert len(long) == 200 and long.endswith("\u2026")


def test_a_line_break_in_a_title_or_a_name_does_not_stop_the_confirmation(
    make_app: Callable[..., FastAPI],
    clean_database: Database,
    smtp_server: tuple[Inbox, int],
    tmp_path: Path,
) -> None:
    """Rows written before the one-line rule (or by another path) still mail, with no
    injected header. Before the fix, the mail library refused the Subject and the job
    failed on every retry: no confirmation of that event ever went out."""
    inbox, port = smtp_server
    app = make_app(smtp_url=f"smtp://127.0.0.1:{port}", outbox_dir=tmp_path / "outbox")
    shop = make_shop(clean_database, capacity=5, price_minor=1500)
    with clean_database.session() as session:
        session.execute(
            update(Event)
            .where(Event.id == shop.event_id)
            .values(title="Moonlight\r\nBcc: eve@example.com\r\n\r\nJazz")
        )
    with TestClient(app) as client:
        order = create_order(client, shop)
        with clean_database.session() as session:
            session.execute(
                update(Order)
                .where(Order.id == uuid.UUID(order["id"]))
                .values(buyer_name="Ada\nCc: mallory@example.com")
            )
        payment = start_payment(client, order)
        approve(client, payment)
        wait_for_jobs()
        [message] = inbox.wait_for(1)

    assert inbox.envelopes[0][1] == ["ada@example.com"]
    assert message["Subject"] == "Your tickets for Moonlight Bcc: eve@example.com Jazz"
    assert message["Bcc"] is None and message["Cc"] is None
    assert message["To"].addresses[0].addr_spec == "ada@example.com"
    assert "\n" not in message["To"].addresses[0].display_name


def _refused_without_change(
    client: TestClient, database: Database, method: str, url: str, body: dict[str, Any], **kw: Any
) -> None:
    before = db_snapshot(database)
    response = client.request(method, url, json=body, **kw)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert "one line" in response.text
    assert db_snapshot(database) == before


@pytest.mark.parametrize("text", ["Moonlight\nJazz", "Moonlight\r\nBcc: x@y.z", "A\u2028B", "A\tB"])
def test_line_breaks_are_refused_where_they_mean_nothing(
    client: TestClient, clean_database: Database, text: str
) -> None:
    owner = register(client)
    org = create_org(client, owner["headers"])
    event = create_event(client, owner["headers"], org["slug"])
    events = f"/api/v1/organizations/{org['slug']}/events"
    headers = owner["headers"]

    for body in (
        event_payload(title=text),
        event_payload(venue={"city": text}),
    ):
        _refused_without_change(client, clean_database, "POST", events, body, headers=headers)
    _refused_without_change(
        client, clean_database, "PATCH", f"{events}/{event['id']}", {"title": text}, headers=headers
    )
    _refused_without_change(
        client,
        clean_database,
        "POST",
        f"{events}/{event['id']}/ticket-types",
        ticket_type_payload(name=text),
        headers=headers,
    )
    _refused_without_change(
        client,
        clean_database,
        "POST",
        "/api/v1/organizations",
        {"name": text, "slug": "x-y"},
        headers=headers,
    )
    _refused_without_change(
        client, clean_database, "PATCH", "/api/v1/me", {"full_name": text}, headers=headers
    )
    ticket_type = create_ticket_type(client, headers, org["slug"], event["id"])
    client.post(f"{events}/{event['id']}/publish", headers=headers)
    order = {
        "event_id": event["id"],
        "items": [{"ticket_type_id": ticket_type["id"], "quantity": 1}],
        "buyer": {"name": text, "email": "ada@example.com"},
    }
    _refused_without_change(client, clean_database, "POST", "/api/v1/orders", order)


# --- an organizer the platform has not verified ----------------------------------------


def _subjects(outbox: Path) -> list[str]:
    return sorted(str(message["Subject"]) for message in read_outbox(outbox))


def _order_mail(outbox: Path) -> list[Any]:
    """The messages about orders (the account mails of registration left out)."""
    return [m for m in read_outbox(outbox) if str(m["Subject"]).startswith("Your tickets")]


def _markers(database: Database, kind: str) -> int:
    with database.session(write=False) as session:
        return len(session.scalars(select(Delivery.id).where(Delivery.kind == kind)).all())


def test_an_unverified_organizer_puts_no_words_of_its_own_in_subjects(
    make_app: Callable[..., FastAPI], clean_database: Database, outbox: Path
) -> None:
    app = make_app(outbox_dir=outbox)
    shop = make_shop(clean_database, capacity=5, price_minor=1500, verified=False)
    with clean_database.session() as session:
        session.execute(
            update(Event).where(Event.id == shop.event_id).values(title="FREE PRIZE claim now")
        )
    with TestClient(app) as client:
        order = buy(client, shop)
    [message] = read_outbox(outbox)
    assert message["Subject"] == f"Your tickets, order {order['code']}"
    assert "FREE PRIZE" not in message["Subject"]


def test_an_unverified_organizer_mails_a_bounded_number_of_strangers_for_free(
    make_app: Callable[..., FastAPI], clean_database: Database, outbox: Path
) -> None:
    app = make_app(outbox_dir=outbox, unverified_organizer_free_mails_per_day=2)
    shop = make_shop(clean_database, capacity=20, price_minor=0, verified=False)
    with TestClient(app) as client:
        orders = [
            buy(client, shop, buyer={"name": "Victim", "email": f"victim{n}@example.com"})
            for n in range(4)
        ]
        # A buyer ordering with their own account's address is no stranger.
        own = register(client, email="own@example.com")
        mine = buy(
            client,
            shop,
            buyer={"name": "Own", "email": "own@example.com"},
            headers=auth(own["token"]),
        )
        # An account whose address was never verified proves nothing: still bounded.
        squatter = register(client, email="victim9@example.com", verify=False)
        squatted = buy(
            client,
            shop,
            buyer={"name": "Victim", "email": "victim9@example.com"},
            headers=auth(squatter["token"]),
        )
        assert all(order["status"] == "paid" for order in [*orders, mine, squatted])

        delivered = {str(m["To"].addresses[0].addr_spec) for m in _order_mail(outbox)}
        assert delivered == {"victim0@example.com", "victim1@example.com", "own@example.com"}
        assert _markers(clean_database, "withheld.order_confirmation") == 3

        # Neither the catch-up of lost confirmations nor a re-run sends the withheld ones.
        tasks.catch_up_confirmations(_job_context(app), settled_for_seconds=0)
        assert len(_order_mail(outbox)) == 3

        # Once verified by the platform, its next free orders mail anyone.
        with clean_database.session() as session:
            session.execute(
                update(Organization)
                .where(Organization.id == shop.organization_id)
                .values(verified_at=Organization.created_at)
            )
        buy(client, shop, buyer={"name": "Fan", "email": "fan@example.com"})
        assert len(_order_mail(outbox)) == 4


def _job_context(app: FastAPI) -> Any:
    from admitone.jobs.registry import JobContext

    return JobContext(settings=app.state.settings, database=app.state.db)


def test_the_bound_does_not_touch_verified_organizers(
    make_app: Callable[..., FastAPI], clean_database: Database, outbox: Path
) -> None:
    app = make_app(outbox_dir=outbox, unverified_organizer_free_mails_per_day=1)
    shop = make_shop(clean_database, capacity=20, price_minor=0, verified=True)
    with TestClient(app) as client:
        for n in range(3):
            buy(client, shop, buyer={"name": "Fan", "email": f"fan{n}@example.com"})
    assert len(read_outbox(outbox)) == 3
    assert _markers(clean_database, "withheld.order_confirmation") == 0


# --- the platform verifies organizations ----------------------------------------------


def test_only_a_platform_admin_verifies_an_organization(
    client: TestClient, clean_database: Database
) -> None:
    owner = register(client)
    org = create_org(client, owner["headers"])
    assert org["verified"] is False
    url = f"/api/v1/platform/organizations/{org['slug']}/verification"

    assert client.put(url, json={"verified": True}).status_code == 401
    before = db_snapshot(clean_database)
    refused = client.put(url, json={"verified": True}, headers=owner["headers"])
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "PLATFORM_ADMIN_REQUIRED"
    assert db_snapshot(clean_database) == before

    admin = register(client)
    make_platform_admin(clean_database, admin["user"]["id"])
    done = client.put(url, json={"verified": True}, headers=admin["headers"])
    assert done.status_code == 200, done.text
    assert done.json()["data"]["verified"] is True
    mine = client.get(f"/api/v1/organizations/{org['slug']}", headers=owner["headers"])
    assert mine.json()["data"]["verified"] is True

    missing = client.put(
        "/api/v1/platform/organizations/no-such-org/verification",
        json={"verified": True},
        headers=admin["headers"],
    )
    assert missing.status_code == 404
    for odd in ({"verified": "yes"}, {"verified": 1}, {}, {"verified": True, "x": 1}):
        response = client.put(url, json=odd, headers=admin["headers"])
        assert response.status_code == 422, (odd, response.text)
    back = client.put(url, json={"verified": False}, headers=admin["headers"])
    assert back.json()["data"]["verified"] is False
