"""Round trips to the database on the buying and scanning path.

On PostgreSQL a round trip costs this machine more CPU than the statement it carries
(docs/hot-path.md): a paid order is 20 of them (18 before issue
13: the hold limits and the hold extension) and a scan 5; its confirmation job 6 (9
before issue 15's third pass). These tests count what each hot unit of work sends, so
that a query added to the path shows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from admitone.accounts.service import access_token_claims
from admitone.authorization import BuyerProof
from admitone.checkin import service as checkin
from admitone.checkin.models import CheckIn, CheckinKind, CheckinList, ScanResult
from admitone.config import Settings
from admitone.db import Database, utcnow
from admitone.events.models import TicketType
from admitone.jobs import JobContext
from admitone.notifications.models import Delivery
from admitone.notifications.tasks import send_order_confirmation
from admitone.orders import buying, paying
from admitone.orders.models import Order, OrderStatus
from admitone.payments import test_provider
from admitone.payments.inbox import PaymentOutcome
from admitone.tickets.models import Ticket
from admitone.tickets.service import ticket_payload
from admitone.tickets.signing import KeyRing
from tests.conftest import BACKEND
from tests.helpers import event_with_staff

ON_POSTGRESQL = BACKEND == "postgresql"


@contextmanager
def round_trips(*, whole: bool = False) -> Iterator[list[str]]:
    """What reaches PostgreSQL, one entry per round trip: every statement psycopg sends
    and every BEGIN, COMMIT or ROLLBACK it sends itself. Empty on SQLite, which has no
    round trips. Up to the first COMMIT, unless ``whole`` (a job: several units of
    work)."""
    sent: list[str] = []

    def counted(method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            sent.append(str(query) if not isinstance(query, bytes) else query.decode())
            return method(self, query, *args, **kwargs)

        return wrapper

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(psycopg.Cursor, "execute", counted(psycopg.Cursor.execute))
        patch.setattr(psycopg.Cursor, "executemany", counted(psycopg.Cursor.executemany))
        patch.setattr(
            psycopg.Connection, "_exec_command", counted(psycopg.Connection._exec_command)
        )
        yield sent
    # What a unit of work sent ends with its COMMIT; after it come the jobs it asked for,
    # which the tests' job runner runs at once (the order confirmation).
    ends = [index for index, text in enumerate(sent) if text.endswith("COMMIT")]
    if ends and not whole:
        del sent[ends[0] + 1 :]


def _setup(client: TestClient) -> dict[str, Any]:
    _owner, _org, event, staff = event_with_staff(
        client, ticket_types=[{"name": "Floor", "capacity": 10}]
    )
    return {
        "event_id": uuid.UUID(event["id"]),
        "ticket_type_id": uuid.UUID(event["ticket_types"][0]["id"]),
        "staff_token": staff["token"],
    }


def test_a_paid_and_scanned_order_in_few_round_trips(
    client: TestClient,
    clean_database: Database,
    settings: Settings,
):
    world = _setup(client)
    database = clean_database

    keys = KeyRing(settings=settings, database=database)

    with round_trips() as create_trips, database.session() as session:
        created = buying.create_order(
            session,
            event_id=world["event_id"],
            items=[buying.ItemRequest(ticket_type_id=world["ticket_type_id"], quantity=2)],
            buyer_name="Ada Lovelace",
            buyer_email="ada@example.com",
            user_id=None,
            now=utcnow(),
            settings=settings,
        )
    order = created.details.order

    with round_trips() as pay_trips, database.session() as session:
        payment, was_created = paying.pay_order(
            session,
            order_id=order.id,
            user_id=None,
            order_token=created.order_token,
            now=utcnow(),
            settings=settings,
        )
    assert was_created

    with round_trips() as approve_trips, database.session() as session:
        result = test_provider.approve_test_payment(
            session,
            payment_id=payment.id,
            payer=BuyerProof(user_id=None, order_token=created.order_token),
            now=utcnow(),
            settings=settings,
        )
    assert result.outcome == PaymentOutcome.paid

    with database.session() as session:
        tickets = session.scalars(select(Ticket).where(Ticket.order_id == order.id)).all()
        qr = ticket_payload(session, ticket=tickets[0], keys=keys)
        type_row = session.get(TicketType, world["ticket_type_id"])
        assert type_row is not None
        assert (type_row.quantity_sold, type_row.quantity_held) == (2, 0)
        assert session.get(Order, order.id).status == OrderStatus.paid
    assert len(tickets) == 2

    user_id, auth_session_id = access_token_claims(world["staff_token"], settings=settings)
    with round_trips() as scan_trips, database.session() as session:
        outcome = checkin.scan_as_caller(
            session,
            event_id=world["event_id"],
            user_id=user_id,
            auth_session_id=auth_session_id,
            keys=keys,
            qr=qr,
            gate="North",
        )
    assert outcome.result == ScanResult.admitted
    # An exit, a re-entry (on a list that allows it) and a refusal cost the same.
    with database.session() as session:
        session.execute(
            update(CheckinList).where(CheckinList.id == outcome.list_id).values(allow_reentry=True)
        )
    other_trips = []
    for kind, expected in (
        (CheckinKind.exit, ScanResult.exited),
        (CheckinKind.entry, ScanResult.admitted),
        (CheckinKind.exit, ScanResult.exited),
        (CheckinKind.exit, ScanResult.not_inside),
    ):
        with round_trips() as trips, database.session() as session:
            again = checkin.scan_as_caller(
                session,
                event_id=world["event_id"],
                user_id=user_id,
                auth_session_id=auth_session_id,
                keys=keys,
                qr=qr,
                gate="North",
                kind=kind,
                nonce=str(uuid.uuid4()),
            )
        assert again.result == expected
        other_trips.append(len(trips))

    with database.session() as session:
        recorded = session.scalars(
            select(CheckIn)
            .where(CheckIn.event_id == world["event_id"])
            .order_by(CheckIn.scanned_at)
        )
        first = next(iter(recorded))
        assert (first.result, first.gate) == (ScanResult.admitted, "North")

    if ON_POSTGRESQL:
        # BEGIN; the sale terms; the order; its line; the seats; the client's held seats
        # (issue 13: the hold limits, counted under the seats' lock); COMMIT
        assert len(create_trips) == 7, create_trips
        # BEGIN; the order; its hold extended to the full length (issue 13: the short
        # hold before payment); the payment; COMMIT
        assert len(pay_trips) == 5, pay_trips
        # BEGIN; the inbox; the payment; its status; the order's; the tickets; the seats;
        # COMMIT
        assert len(approve_trips) == 8, approve_trips
        # BEGIN; the caller with the event, their role, the list, the ticket and its
        # presence (issue 16: one query still); the presence's write; record; COMMIT
        assert len(scan_trips) == 5, scan_trips
        assert other_trips == [5, 5, 5, 4], other_trips  # a refusal writes no presence
        assert [text for text in create_trips if text.startswith("UPDATE ticket_types")]
    else:
        assert create_trips == pay_trips == approve_trips == scan_trips == []
        assert other_trips == [0, 0, 0, 0]


def test_a_confirmation_job_in_few_round_trips(
    client: TestClient,
    clean_database: Database,
    settings: Settings,
):
    """The job every paid order costs (issue 15): the marker's check and the order with
    its event, lines and tickets in one statement, then the marker after the send."""
    world = _setup(client)
    database = clean_database
    with database.session() as session:
        created = buying.create_order(
            session,
            event_id=world["event_id"],
            items=[buying.ItemRequest(ticket_type_id=world["ticket_type_id"], quantity=2)],
            buyer_name="Ada Lovelace",
            buyer_email="ada@example.com",
            user_id=None,
            now=utcnow(),
            settings=settings,
        )
    order = created.details.order
    proof = BuyerProof(user_id=None, order_token=created.order_token)
    with database.session() as session:
        payment, _ = paying.pay_order(
            session,
            order_id=order.id,
            user_id=None,
            order_token=created.order_token,
            now=utcnow(),
            settings=settings,
        )
    with database.session() as session:
        result = test_provider.approve_test_payment(
            session, payment_id=payment.id, payer=proof, now=utcnow(), settings=settings
        )
    assert result.outcome == PaymentOutcome.paid
    with database.session() as session:
        # The job ran once the payment committed (the tests' runner): its marker goes,
        # so that it runs again, counted; the event's key is in the process's cache.
        session.execute(delete(Delivery).where(Delivery.object_id == order.id))
        ticket = session.scalars(select(Ticket).where(Ticket.order_id == order.id)).first()
        assert ticket is not None
        ticket_payload(session, ticket=ticket, keys=KeyRing(settings=settings, database=database))

    context = JobContext(settings=settings, database=database)
    with round_trips(whole=True) as job_trips:
        assert send_order_confirmation(context, order_id=str(order.id))
    with round_trips(whole=True) as again_trips:
        assert not send_order_confirmation(context, order_id=str(order.id))

    if ON_POSTGRESQL:
        # BEGIN; the marker's check with the order, its event, lines and tickets;
        # COMMIT; (the mail); BEGIN; the marker; COMMIT
        assert len(job_trips) == 6, job_trips
        assert len(again_trips) == 3, again_trips  # BEGIN; the same statement; COMMIT
    else:
        assert job_trips == again_trips == []


def test_an_orders_ticket_download_in_few_round_trips(
    client: TestClient,
    clean_database: Database,
    settings: Settings,
):
    """The gate's ticket download (``GET /orders/{order_id}/tickets``, a hot route): the
    order's tickets with their event, type and first entry, signed, for its token
    holder. The event's key is in the process's cache, as on a running server."""
    world = _setup(client)
    database = clean_database
    with database.session() as session:
        created = buying.create_order(
            session,
            event_id=world["event_id"],
            items=[buying.ItemRequest(ticket_type_id=world["ticket_type_id"], quantity=2)],
            buyer_name="Ada Lovelace",
            buyer_email="ada@example.com",
            user_id=None,
            now=utcnow(),
            settings=settings,
        )
    order = created.details.order
    headers = {"X-Order-Token": created.order_token}
    with database.session() as session:
        payment, _ = paying.pay_order(
            session,
            order_id=order.id,
            user_id=None,
            order_token=created.order_token,
            now=utcnow(),
            settings=settings,
        )
    with database.session() as session:
        result = test_provider.approve_test_payment(
            session,
            payment_id=payment.id,
            payer=BuyerProof(user_id=None, order_token=created.order_token),
            now=utcnow(),
            settings=settings,
        )
    assert result.outcome == PaymentOutcome.paid
    url = f"/api/v1/orders/{order.id}/tickets"
    assert client.get(url, headers=headers).status_code == 200  # the key, into the cache

    with round_trips(whole=True) as trips:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    assert [ticket["admitted_at"] for ticket in response.json()["data"]] == [None, None]

    if ON_POSTGRESQL:
        # BEGIN; the order's tickets with their order, event, type and first entry (4
        # before the first entries were folded in: a query of their own); COMMIT
        assert len(trips) == 3, trips
    else:
        assert trips == []
