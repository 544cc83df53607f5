"""The stock moves on their own: all-or-nothing takes, guarded decrements, and no test
switch in production code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import admitone
from admitone.events import stock
from tests.factories import add_ticket_type, counters, make_shop


def test_take_seats_is_all_or_nothing(clean_database):
    shop = make_shop(clean_database, capacity=5)
    small = add_ticket_type(clean_database, shop, capacity=1)
    with clean_database.session() as session:
        short = stock.take_seats(session, {shop.ticket_type_id: 3, small: 2})
        assert short == small
    assert counters(clean_database, shop.ticket_type_id).held == 0
    assert counters(clean_database, small).held == 0
    with clean_database.session() as session:
        assert stock.take_seats(session, {shop.ticket_type_id: 5, small: 1}) is None
        assert stock.take_seats(session, {small: 1}, as_sold=True) == small
    assert counters(clean_database, shop.ticket_type_id).held == 5
    assert counters(clean_database, small).held == 1


def test_sold_seats_count_against_capacity(clean_database):
    shop = make_shop(clean_database, capacity=4)
    with clean_database.session() as session:
        assert stock.take_seats(session, {shop.ticket_type_id: 3}, as_sold=True) is None
        assert stock.take_seats(session, {shop.ticket_type_id: 2}) == shop.ticket_type_id
        assert stock.take_seats(session, {shop.ticket_type_id: 1}) is None
    c = counters(clean_database, shop.ticket_type_id)
    assert (c.sold, c.held, c.available) == (3, 1, 0)


def test_decrements_never_go_negative(clean_database):
    shop = make_shop(clean_database, capacity=4)
    with clean_database.session() as session:
        stock.take_seats(session, {shop.ticket_type_id: 1})
    for move in (stock.release_held, stock.release_sold, stock.convert_held_to_sold):
        with pytest.raises(stock.StockCountersBroken), clean_database.session() as session:
            move(session, {shop.ticket_type_id: 2})
    assert counters(clean_database, shop.ticket_type_id).held == 1


def test_production_code_has_no_switch_that_turns_the_atomic_checks_off(clean_database):
    """The negative controls of the race tests install their non-atomic versions
    themselves (tests/concurrency/unsafe.py); no code of the application checks a test
    switch, so none can ever be left on."""
    package = Path(admitone.__file__).parent
    switches = [
        f"{path.relative_to(package)}: {line.strip()}"
        for path in sorted(package.rglob("*.py"))
        for line in path.read_text().splitlines()
        if re.search(r"unsafe_(stock|hold)|_UNSAFE\b|UnsafeCheck", line, re.IGNORECASE)
    ]
    assert switches == []
    # A seat is taken by the atomic path.
    shop = make_shop(clean_database, capacity=1)
    with clean_database.session() as session:
        assert stock.take_seats(session, {shop.ticket_type_id: 1}) is None
        assert stock.take_seats(session, {shop.ticket_type_id: 1}) == shop.ticket_type_id
