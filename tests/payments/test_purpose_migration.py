"""Migration 0009 on a database with payments and refunds in it: every row becomes a
payment for purpose "order", nothing is lost (SQLite rebuilds both tables), and the
downgrade gives the order ids back, refusing a payment of another purpose."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import inspect, text

from admitone.db import Database, utcnow
from admitone.migrate import downgrade_database, upgrade_database
from admitone.orders.models import Order, OrderStatus
from tests.factories import make_shop

BEFORE = "0008_organization_verification"
AFTER = "0009_payment_purposes"


def _order(database: Database, shop) -> uuid.UUID:
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
                status=OrderStatus.paid,
                currency="EUR",
                total_minor=5000,
                expires_at=utcnow() + timedelta(minutes=15),
            )
        )
    return order_id


def _ids(database: Database, sql: str) -> list[tuple]:
    with database.engine.connect() as connection:
        return [tuple(str(value) for value in row) for row in connection.execute(text(sql))]


def test_payments_and_refunds_keep_what_they_paid_for(fresh_url):
    # The shop and its orders are made by today's models, so at head; the downgrade keeps
    # them (it drops only what later revisions added), and 0009 then runs on real rows.
    upgrade_database(fresh_url, "head")
    database = Database(fresh_url, pool_size=1)
    shop = make_shop(database, capacity=10)
    orders = [_order(database, shop) for _ in range(2)]
    database.dispose()
    downgrade_database(fresh_url, BEFORE)
    database = Database(fresh_url, pool_size=1)
    try:
        payments = [uuid.uuid4() for _ in orders]
        refund = uuid.uuid4()
        now = utcnow()
        hex_or_uuid = (lambda value: value.hex) if database.is_sqlite else str
        with database.engine.begin() as connection:
            for payment_id, order_id in zip(payments, orders, strict=True):
                connection.execute(
                    text(
                        "INSERT INTO payments (id, order_id, provider, provider_ref, status,"
                        " amount_minor, currency, refunded_minor, application_fee_minor,"
                        " created_at, updated_at) VALUES (:id, :order_id, 'test', :ref,"
                        " 'succeeded', 5000, 'EUR', 1000, 0, :now, :now)"
                    ),
                    {
                        "id": hex_or_uuid(payment_id),
                        "order_id": hex_or_uuid(order_id),
                        "ref": f"test_{payment_id.hex}",
                        "now": now.replace(tzinfo=None) if database.is_sqlite else now,
                    },
                )
            connection.execute(
                text(
                    "INSERT INTO refunds (id, order_id, payment_id, amount_minor, currency,"
                    " reason, created_at) VALUES (:id, :order_id, :payment_id, 1000, 'EUR',"
                    " 'organizer_refund', :now)"
                ),
                {
                    "id": hex_or_uuid(refund),
                    "order_id": hex_or_uuid(orders[0]),
                    "payment_id": hex_or_uuid(payments[0]),
                    "now": now.replace(tzinfo=None) if database.is_sqlite else now,
                },
            )
        before_payments = _ids(database, "SELECT id, order_id FROM payments ORDER BY id")
        before_refunds = _ids(database, "SELECT id, payment_id, order_id FROM refunds")

        upgrade_database(fresh_url, AFTER)
        assert _ids(database, "SELECT id, purpose_id, purpose FROM payments ORDER BY id") == [
            (*row, "order") for row in before_payments
        ]
        assert _ids(database, "SELECT id, payment_id, purpose_id, purpose FROM refunds") == [
            (*row, "order") for row in before_refunds
        ]
        columns = {column["name"] for column in inspect(database.engine).get_columns("payments")}
        assert {"purpose", "purpose_id"} <= columns and "order_id" not in columns
        assert not inspect(database.engine).get_foreign_keys("payments")
        if database.is_sqlite:
            assert _ids(database, "PRAGMA foreign_key_check") == []

        # A payment for something else than an order: 0008 cannot hold it.
        with database.engine.begin() as connection:
            connection.execute(
                text("UPDATE payments SET purpose = 'top_up' WHERE id = :id"),
                {"id": hex_or_uuid(payments[1])},
            )
        with pytest.raises(RuntimeError, match="cannot hold them"):
            downgrade_database(fresh_url, BEFORE)
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE payments SET purpose = 'order'"))

        downgrade_database(fresh_url, BEFORE)
        assert _ids(database, "SELECT id, order_id FROM payments ORDER BY id") == before_payments
        assert _ids(database, "SELECT id, payment_id, order_id FROM refunds") == before_refunds
        [key] = inspect(database.engine).get_foreign_keys("payments")
        assert (key["referred_table"], key["constrained_columns"]) == ("orders", ["order_id"])
        if database.is_sqlite:
            assert _ids(database, "PRAGMA foreign_key_check") == []
    finally:
        database.dispose()
