"""Point updates on the buying and scanning path are planned as primary-key probes, even
when the database's statistics are misleading: taken in a quiet hour (no order pending),
or never taken at all (a fresh table)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import insert, text

from admitone.db import Database, utcnow
from admitone.orders.models import Order, OrderStatus
from admitone.orders.transitions import _move_one
from tests.factories import make_shop

ORDERS = 2000


def _plan(database: Database, statement, parameters: dict) -> str:
    """The database's plan for ``statement`` (EXPLAIN; nothing is executed)."""
    with database.session() as session:
        connection = session.connection()
        compiled = statement.compile(dialect=connection.dialect)
        values = compiled.construct_params(parameters)
        if database.is_sqlite:
            rows = connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled}",
                tuple(
                    values[name].value if hasattr(values[name], "value") else values[name]
                    for name in compiled.positiontup
                ),
            )
            return "\n".join(str(row[-1]) for row in rows)
        rows = connection.exec_driver_sql(f"EXPLAIN {compiled}", values)
        return "\n".join(row[0] for row in rows)


def test_an_order_transition_probes_the_primary_key_when_statistics_saw_no_pending_order(
    clean_database: Database, owner
):
    shop = make_shop(clean_database, owner_id=owner["user"]["id"], capacity=10)
    now = utcnow()
    with clean_database.session() as session:
        session.execute(
            insert(Order),
            [
                {
                    "id": uuid.uuid4(),
                    "code": f"Q{number:07d}",
                    "organization_id": shop.organization_id,
                    "event_id": shop.event_id,
                    "buyer_name": "Quiet Hour",
                    "buyer_email": "quiet@example.com",
                    "access_token_hash": uuid.uuid4().hex,
                    "status": OrderStatus.paid,
                    "currency": "EUR",
                    "total_minor": 2500,
                    "refunded_minor": 0,
                    "expires_at": now + timedelta(minutes=15),
                }
                for number in range(ORDERS)
            ],
        )
    with clean_database.session() as session:
        session.execute(text("ANALYZE"))  # the statistics of a quiet hour: nothing pending
    with clean_database.session() as session:  # then the rush: every order pending
        session.execute(text("UPDATE orders SET status = 'pending'"))
        order_id = session.scalar(text("SELECT id FROM orders LIMIT 1"))

    plan = _plan(
        clean_database,
        _move_one(OrderStatus.paid, 1).statement,
        {
            "order_id": order_id,
            "source_0": OrderStatus.pending,
            "target": OrderStatus.paid,
            "now": now,
        },
    )
    assert "ix_orders_status_expires_at" not in plan, plan
    assert "pk_orders" in plan or "sqlite_autoindex_orders" in plan, plan
