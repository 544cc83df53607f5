"""The organizer sends an order's tickets again: a job per request, once each, paid only."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from admitone.accounts.models import User
from admitone.authorization import Permission, resolve_access
from admitone.db import Database
from admitone.notifications import service
from admitone.notifications.models import Delivery
from admitone.orders import organizer_views
from admitone.orders.errors import OrderNotFound, OrderNotPaid
from tests.factories import make_shop
from tests.helpers import register
from tests.notifications.conftest import is_account_mail, read_outbox, wait_for_jobs
from tests.orders.helpers import buy, create_order


def _access(database: Database, session, user_id: str, slug: str):
    user = session.get(User, uuid.UUID(user_id))
    return resolve_access(session, slug=slug, user=user, permission=Permission.view_orders)


def _order_mails(outbox):
    return [message for message in read_outbox(outbox) if not is_account_mail(message)]


def _deliveries(database: Database, kind: str) -> int:
    with database.session(write=False) as session:
        return len(list(session.scalars(select(Delivery.id).where(Delivery.kind == kind))))


def test_resend_sends_the_confirmation_again_once_per_request(
    make_app, clean_database: Database, tmp_path
) -> None:
    outbox = tmp_path / "outbox"
    with TestClient(make_app(outbox_dir=outbox)) as client:
        owner = register(client)
        shop = make_shop(clean_database, owner_id=owner["user"]["id"], capacity=10)
        order = buy(client, shop, quantity=2)
        wait_for_jobs()
        assert len(_order_mails(outbox)) == 1
        with clean_database.session() as session:
            access = _access(clean_database, session, owner["user"]["id"], shop.org_slug)
            record = organizer_views.get_event_order_record(
                session, access=access, event_id=shop.event_id, order_id=uuid.UUID(order["id"])
            )
            assert len(record.tickets) == 2 and len(record.refundable) == 2
            assert [p.status for p in record.payments] == ["succeeded"]
            assert record.refunds == []
            first = service.resend_order_confirmation(
                session, access=access, event_id=shop.event_id, order_id=uuid.UUID(order["id"])
            )
            second = service.resend_order_confirmation(
                session, access=access, event_id=shop.event_id, order_id=uuid.UUID(order["id"])
            )
            assert first != second
        wait_for_jobs()
        messages = _order_mails(outbox)
        assert len(messages) == 3
        assert len({m["Message-ID"] for m in messages}) == 3
        assert _deliveries(clean_database, service.Kind.order_confirmation_resent) == 2
        # A re-run of a job that already sent finds its marker and sends nothing.
        from admitone.jobs import current_runner
        from admitone.notifications import tasks

        runner = current_runner()
        assert runner is not None
        context = runner.context  # type: ignore[attr-defined]
        assert not tasks.resend_order_confirmation(
            context, order_id=order["id"], resend_id=str(first)
        )
        assert len(_order_mails(outbox)) == 3


def test_resend_refuses_an_unpaid_order_and_another_organizations(
    client: TestClient, clean_database: Database
) -> None:
    owner = register(client)
    shop = make_shop(clean_database, owner_id=owner["user"]["id"], capacity=10)
    pending = create_order(client, shop)
    other_owner = register(client)
    other = make_shop(clean_database, owner_id=other_owner["user"]["id"], capacity=10)
    with clean_database.session() as session:
        access = _access(clean_database, session, owner["user"]["id"], shop.org_slug)
        with pytest.raises(OrderNotPaid):
            service.resend_order_confirmation(
                session, access=access, event_id=shop.event_id, order_id=uuid.UUID(pending["id"])
            )
        other_access = _access(clean_database, session, other_owner["user"]["id"], other.org_slug)
        with pytest.raises(OrderNotFound):
            service.resend_order_confirmation(
                session,
                access=other_access,
                event_id=shop.event_id,
                order_id=uuid.UUID(pending["id"]),
            )
