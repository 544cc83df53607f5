"""The locking helper on its own: all-or-nothing takes, guarded decrements, the test switch."""

from __future__ import annotations

import uuid

import pytest

from admitone import locking
from admitone.config import Settings
from admitone.db import utcnow
from admitone.orders.models import IdempotencyRecord
from tests.factories import add_ticket_type, counters, make_shop


def test_take_seats_is_all_or_nothing(clean_database):
    shop = make_shop(clean_database, capacity=5)
    small = add_ticket_type(clean_database, shop, capacity=1)
    with clean_database.session() as session:
        short = locking.take_seats(session, {shop.ticket_type_id: 3, small: 2})
        assert short == small
    assert counters(clean_database, shop.ticket_type_id).held == 0
    assert counters(clean_database, small).held == 0
    with clean_database.session() as session:
        assert locking.take_seats(session, {shop.ticket_type_id: 5, small: 1}) is None
        assert locking.take_seats(session, {small: 1}, as_sold=True) == small
    assert counters(clean_database, shop.ticket_type_id).held == 5
    assert counters(clean_database, small).held == 1


def test_sold_seats_count_against_capacity(clean_database):
    shop = make_shop(clean_database, capacity=4)
    with clean_database.session() as session:
        assert locking.take_seats(session, {shop.ticket_type_id: 3}, as_sold=True) is None
        assert locking.take_seats(session, {shop.ticket_type_id: 2}) == shop.ticket_type_id
        assert locking.take_seats(session, {shop.ticket_type_id: 1}) is None
    c = counters(clean_database, shop.ticket_type_id)
    assert (c.sold, c.held, c.available) == (3, 1, 0)


def test_decrements_never_go_negative(clean_database):
    shop = make_shop(clean_database, capacity=4)
    with clean_database.session() as session:
        locking.take_seats(session, {shop.ticket_type_id: 1})
    for move in (locking.release_held, locking.release_sold, locking.convert_held_to_sold):
        with pytest.raises(locking.StockCountersBroken), clean_database.session() as session:
            move(session, {shop.ticket_type_id: 2})
    assert counters(clean_database, shop.ticket_type_id).held == 1


def test_insert_once(clean_database):
    values = {
        "scope": "s",
        "key": "k",
        "request_hash": "h",
        "resource_id": uuid.uuid4(),
        "created_at": utcnow(),
    }
    with clean_database.session() as session:
        assert locking.insert_once(session, IdempotencyRecord, {"id": uuid.uuid4(), **values})
        assert not locking.insert_once(session, IdempotencyRecord, {"id": uuid.uuid4(), **values})


@pytest.mark.parametrize("env", ["development", "production"])
def test_the_unsafe_switch_exists_only_in_tests(make_settings, clean_database, env):
    settings: Settings = make_settings(
        env=env, secret_key="x" * 40, unsafe_allow_test_payments_in_production=True
    )
    locking.disable_unsafe_stock_check()
    with pytest.raises(RuntimeError):
        locking.enable_unsafe_stock_check(settings)
    # Still off: a seat is taken by the atomic path, not let through by the unsafe check.
    shop = make_shop(clean_database, capacity=1)
    with clean_database.session() as session:
        assert locking.take_seats(session, {shop.ticket_type_id: 1}) is None
    assert locking.disable_unsafe_stock_check() == 0
