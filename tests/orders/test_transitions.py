"""The order state table, walked: every allowed move works, every other one is refused.

``orders.transitions.move_orders`` is the only code that changes ``orders.status``. For
each pair of states, an order in the first is asked to move to the second: an allowed
move changes the row (and what records it) and the loaded object with it; any other is
refused before a statement, and the row stays as it was. The guard is walked too: a
move whose source is not the order's state changes nothing.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from admitone.db import Database, utcnow
from admitone.orders.models import Order, OrderStatus
from admitone.orders.transitions import TRANSITIONS, ForbiddenTransition, move_orders
from tests.factories import Shop, make_shop

PAIRS = list(itertools.product(OrderStatus, OrderStatus))
TOTAL = 2500


@pytest.fixture
def shop(clean_database: Database) -> Shop:
    return make_shop(clean_database, capacity=10)


def _order(database: Database, shop: Shop, status: OrderStatus) -> uuid.UUID:
    order_id = uuid.uuid4()
    with database.session() as session:
        session.add(
            Order(
                id=order_id,
                code=order_id.hex[:12].upper(),
                organization_id=shop.organization_id,
                event_id=shop.event_id,
                buyer_name="Ada",
                buyer_email="ada@example.com",
                access_token_hash=order_id.hex * 2,
                status=status,
                currency="EUR",
                total_minor=TOTAL,
                expires_at=utcnow() + timedelta(minutes=15),
                updated_at=utcnow() - timedelta(hours=1),
            )
        )
    return order_id


def _row(database: Database, order_id: uuid.UUID) -> tuple:
    with database.session(write=False) as session:
        return session.execute(
            select(
                Order.status,
                Order.updated_at,
                Order.paid_at,
                Order.cancelled_at,
                Order.refunded_minor,
            ).where(Order.id == order_id)
        ).one()


def test_the_table_holds_the_moves_the_code_makes():
    assert set(TRANSITIONS) == {
        (OrderStatus.pending, OrderStatus.paid),
        (OrderStatus.pending, OrderStatus.cancelled),
        (OrderStatus.pending, OrderStatus.expired),
        (OrderStatus.pending, OrderStatus.refunded),
        (OrderStatus.expired, OrderStatus.paid),
        (OrderStatus.expired, OrderStatus.refunded),
        (OrderStatus.cancelled, OrderStatus.refunded),
        (OrderStatus.paid, OrderStatus.refunded),
    }
    assert not [target for source, target in TRANSITIONS if source == OrderStatus.refunded]


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=lambda status: str(status))
def test_each_pair_of_states(clean_database, shop, source, target):
    order_id = _order(clean_database, shop, source)
    before = _row(clean_database, order_id)
    now = utcnow()
    with clean_database.session() as session:
        order = session.get(Order, order_id)
        if (source, target) not in TRANSITIONS:
            with pytest.raises(ForbiddenTransition):
                move_orders(session, [order], source=source, target=target, now=now)
            assert order.status == source
        else:
            assert move_orders(session, [order], source=source, target=target, now=now) == [
                order_id
            ]
            # The loaded object is kept in step, with nothing left to flush.
            assert (order.status, order.updated_at) == (target, now)
            assert not session.dirty
    after = _row(clean_database, order_id)
    if (source, target) not in TRANSITIONS:
        assert after == before
        return
    status, _updated_at, paid_at, cancelled_at, refunded_minor = after
    assert status == target
    assert (paid_at is not None) == (target == OrderStatus.paid)
    assert (cancelled_at is not None) == (target == OrderStatus.cancelled)
    assert refunded_minor == (TOTAL if target == OrderStatus.refunded else 0)


@pytest.mark.parametrize(("source", "target"), list(TRANSITIONS), ids=str)
def test_an_order_in_another_state_is_left_as_it_is(clean_database, shop, source, target):
    """The guard: another transaction moved the order first, so this move matches nothing."""
    others = [state for state in OrderStatus if state != source]
    order_ids = [_order(clean_database, shop, state) for state in others]
    before = [_row(clean_database, order_id) for order_id in order_ids]
    with clean_database.session() as session:
        for order_id in order_ids:  # one by one (the paying path's statement)
            assert (
                move_orders(session, [order_id], source=source, target=target, now=utcnow()) == []
            )
        # and all at once (the sweeps' statement)
        assert move_orders(session, order_ids, source=source, target=target, now=utcnow()) == []
    assert [_row(clean_database, order_id) for order_id in order_ids] == before


def test_several_orders_move_at_once_only_those_in_the_source_state(clean_database, shop):
    pending = sorted(_order(clean_database, shop, OrderStatus.pending) for _ in range(3))
    paid = _order(clean_database, shop, OrderStatus.paid)
    with clean_database.session() as session:
        loaded = session.get(Order, pending[0])
        moved = move_orders(
            session,
            [loaded, *pending[1:], paid],
            source=OrderStatus.pending,
            target=OrderStatus.expired,
            now=utcnow(),
        )
        assert moved == pending
        assert loaded.status == OrderStatus.expired
    assert _row(clean_database, paid)[0] == OrderStatus.paid
    assert {_row(clean_database, order_id)[0] for order_id in pending} == {OrderStatus.expired}


def test_several_sources_at_once(clean_database, shop):
    expired = _order(clean_database, shop, OrderStatus.expired)
    cancelled = _order(clean_database, shop, OrderStatus.cancelled)
    with clean_database.session() as session:
        for order_id in (expired, cancelled):
            assert move_orders(
                session,
                [order_id],
                source={OrderStatus.expired, OrderStatus.cancelled},
                target=OrderStatus.refunded,
                now=utcnow(),
            ) == [order_id]
        with pytest.raises(ForbiddenTransition):  # one source of the set is not allowed
            move_orders(
                session,
                [order_id],
                source={OrderStatus.expired, OrderStatus.refunded},
                target=OrderStatus.paid,
                now=utcnow(),
            )
