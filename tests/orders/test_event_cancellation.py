"""Cancelling an event refunds every paid order and cancels every pending one."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from admitone.db import utcnow
from admitone.events.models import Event, EventStatus
from admitone.jobs import JobContext, TransientJobError, run_job
from admitone.orders import event_cancellation
from admitone.payments.models import Payment, PaymentStatus, Refund
from admitone.tickets.models import Ticket, TicketStatus
from tests.factories import add_ticket_type, counters, make_shop
from tests.orders.helpers import approve, buy, count, create_order, read_order, start_payment


def cancel_url(shop) -> str:
    return f"/api/v1/organizations/{shop.org_slug}/events/{shop.event_id}/cancel"


def test_cancelling_an_event_refunds_paid_and_cancels_pending(client, shop, owner, clean_database):
    vip = add_ticket_type(clean_database, shop, name="VIP", price_minor=9000, capacity=5)
    paid = [
        buy(client, shop, quantity=2),
        buy(
            client,
            shop,
            items=[
                {"ticket_type_id": str(shop.ticket_type_id), "quantity": 1},
                {"ticket_type_id": str(vip), "quantity": 2},
            ],
        ),
    ]
    pending = create_order(client, shop, quantity=3)
    open_checkout = start_payment(client, pending)
    other_event = make_shop(clean_database, capacity=5)
    untouched = buy(client, other_event, quantity=1)

    response = client.post(cancel_url(shop), headers=owner["headers"])
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "cancelled"

    for order in paid:
        seen = read_order(client, order)
        assert seen["status"] == "refunded"
        assert seen["refunded_minor"] == seen["total_minor"]
    assert read_order(client, pending)["status"] == "cancelled"
    assert read_order(client, untouched)["status"] == "paid"
    for ticket_type_id in (shop.ticket_type_id, vip):
        c = counters(clean_database, ticket_type_id)
        assert (c.sold, c.held) == (0, 0)
    assert counters(clean_database, other_event.ticket_type_id).sold == 1
    with clean_database.session(write=False) as session:
        refunds = session.scalars(select(Refund)).all()
        event_tickets = session.scalars(
            select(Ticket.status).where(Ticket.event_id == shop.event_id)
        ).all()
        payment_statuses = dict(session.execute(select(Payment.id, Payment.status)).all())
    assert sorted(r.amount_minor for r in refunds) == [5000, 2500 + 2 * 9000]
    assert {r.reason for r in refunds} == {"event_cancelled"}
    assert len(event_tickets) == 5 and set(event_tickets) == {TicketStatus.revoked}
    assert count(clean_database, Ticket, Ticket.status == TicketStatus.valid) == 1
    assert payment_statuses[uuid.UUID(open_checkout["id"])] == PaymentStatus.pending

    # The buyer who was still paying: the payment goes through and is refunded at once.
    result = approve(client, open_checkout)
    assert result["outcome"] == "refunded"
    assert counters(clean_database, shop.ticket_type_id).sold == 0
    # A second cancel changes nothing more.
    again = client.post(cancel_url(shop), headers=owner["headers"])
    assert again.status_code == 409
    assert count(clean_database, Refund) == 3
    # And nobody can buy any more.
    refused = client.post(
        "/api/v1/orders",
        json={
            "event_id": str(shop.event_id),
            "items": [{"ticket_type_id": str(shop.ticket_type_id), "quantity": 1}],
            "buyer": {"name": "Late", "email": "late@example.com"},
        },
    )
    assert refused.json()["error"]["code"] == "EVENT_NOT_PUBLISHED"


def test_cancelling_an_event_without_orders(client, shop, owner):
    response = client.post(cancel_url(shop), headers=owner["headers"])
    assert response.status_code == 200


def test_a_lost_refund_job_is_caught_up(client, shop, settings, clean_database):
    """The cancellation committed but its refund job never ran (the process died, Redis
    refused it): the periodic catch-up refunds the paid orders, once."""
    paid = [buy(client, shop, quantity=2), buy(client, shop, quantity=1)]
    recent = make_shop(clean_database, capacity=5)
    recent_order = buy(client, recent, quantity=1)
    old = make_shop(clean_database, capacity=5)
    old_order = buy(client, old, quantity=1)
    now = utcnow()
    for cancelled, ago in (
        (shop, timedelta(minutes=30)),
        (recent, timedelta(0)),
        (old, timedelta(days=4)),
    ):
        with clean_database.session() as session:
            session.execute(
                update(Event)
                .where(Event.id == cancelled.event_id)
                .values(status=EventStatus.cancelled, cancelled_at=now - ago)
            )
    context = JobContext(settings=settings, database=clean_database)

    assert run_job(context, "orders.catch_up_cancelled_refunds", {}) == 2
    for order in paid:
        assert read_order(client, order)["status"] == "refunded"
    assert counters(clean_database, shop.ticket_type_id).sold == 0
    # Cancelled a moment ago: its own job still has its chance. Four days ago: left to
    # the organizer.
    assert read_order(client, recent_order)["status"] == "paid"
    assert read_order(client, old_order)["status"] == "paid"
    # A second run finds nothing more to refund.
    assert run_job(context, "orders.catch_up_cancelled_refunds", {}) == 0
    assert count(clean_database, Refund) == 2
    # Without the settling time (a manual run), the recent event is refunded too.
    assert run_job(context, "orders.catch_up_cancelled_refunds", {"settled_for_seconds": 0}) == 1
    assert read_order(client, recent_order)["status"] == "refunded"


def test_one_orders_failed_refund_does_not_hold_up_the_others(
    client, shop, settings, clean_database, monkeypatch
):
    first, second = buy(client, shop, quantity=1), buy(client, shop, quantity=1)
    with clean_database.session() as session:
        session.execute(
            update(Event)
            .where(Event.id == shop.event_id)
            .values(status=EventStatus.cancelled, cancelled_at=utcnow())
        )
    refund_one = event_cancellation.refund_cancelled_event_order
    broken = uuid.UUID(min(first["id"], second["id"]))

    def fails_for_one(session, *, order_id, **kwargs):
        if order_id == broken:
            raise RuntimeError("a bug in one order")
        return refund_one(session, order_id=order_id, **kwargs)

    monkeypatch.setattr(event_cancellation, "refund_cancelled_event_order", fails_for_one)
    context = JobContext(settings=settings, database=clean_database)
    event = {"event_id": str(shop.event_id)}
    with pytest.raises(TransientJobError):  # the runner retries it later
        run_job(context, "orders.refund_cancelled_event", event)
    statuses = {order["id"]: read_order(client, order)["status"] for order in (first, second)}
    assert statuses[str(broken)] == "paid"
    assert sorted(statuses.values()) == ["paid", "refunded"]

    monkeypatch.setattr(event_cancellation, "refund_cancelled_event_order", refund_one)
    assert run_job(context, "orders.refund_cancelled_event", event) == 1
    assert read_order(client, first)["status"] == read_order(client, second)["status"] == "refunded"
