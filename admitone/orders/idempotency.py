"""``Idempotency-Key`` on order creation: a retried request answers the order the first
one made; the same key with another body is refused (IETF idempotency-key draft).

The key is claimed by an insert-once row before any seat is taken, so two requests with
one key at the same instant make one order. Keys are forgotten after 24 hours.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from admitone.db import insert_once
from admitone.orders.models import IdempotencyRecord

IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)


def fingerprint(
    *, event_id: uuid.UUID, quantities: dict[uuid.UUID, int], buyer_name: str, buyer_email: str
) -> str:
    canonical = json.dumps(
        {
            "event_id": str(event_id),
            "items": sorted([str(tid), quantity] for tid, quantity in quantities.items()),
            "buyer": [buyer_name, buyer_email],
        },
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim_idempotency_key(
    session: Session,
    *,
    scope: str,
    key: str,
    fingerprint: str,
    record_id: uuid.UUID,
    order_id: uuid.UUID,
    now: datetime,
) -> IdempotencyRecord | None:
    """Reserve ``key`` for the order about to be made; the earlier record if it is taken.

    The record is inserted first, before any seat is taken: a concurrent request with the
    same key waits on the unique index (PostgreSQL) or on the write lock (SQLite) and then
    replays this request's order. A request that fails rolls its record back with it.
    """
    lookup = select(IdempotencyRecord).where(
        IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
    )
    existing = session.scalar(lookup)
    if existing is not None and existing.created_at > now - IDEMPOTENCY_KEY_LIFETIME:
        return existing
    if existing is not None:
        session.delete(existing)
        session.flush()
    values = {
        "id": record_id,
        "scope": scope,
        "key": key,
        "request_hash": fingerprint,
        "resource_id": order_id,
        "created_at": now,
    }
    if insert_once(session, IdempotencyRecord, values):
        return None
    # A concurrent request with this key committed first.
    return session.scalar(lookup.execution_options(populate_existing=True))


def purge_idempotency_keys(session: Session, *, now: datetime) -> int:
    """Forget idempotency keys older than 24 hours (after that a key may be used again)."""
    result = cast(
        CursorResult[Any],
        session.execute(
            delete(IdempotencyRecord)
            .where(IdempotencyRecord.created_at <= now - IDEMPOTENCY_KEY_LIFETIME)
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount
