"""``db.insert_once``: an INSERT that does nothing when its unique key exists already."""

from __future__ import annotations

import uuid

from admitone.db import insert_once, utcnow
from admitone.orders.models import IdempotencyRecord


def test_insert_once(clean_database):
    values = {
        "scope": "s",
        "key": "k",
        "request_hash": "h",
        "resource_id": uuid.uuid4(),
        "created_at": utcnow(),
    }
    with clean_database.session() as session:
        assert insert_once(session, IdempotencyRecord, {"id": uuid.uuid4(), **values})
        assert not insert_once(session, IdempotencyRecord, {"id": uuid.uuid4(), **values})
