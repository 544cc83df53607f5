"""Deliveries: one row per message sent, so that a re-run job sends it once."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from admitone.db import Base, IdMixin, utcnow


class Delivery(IdMixin, Base):
    """A message of ``kind`` about ``object_id`` went out: an order, or for refund
    notices a refund (``refunds.id``), since an order may be refunded several times.

    The unique (kind, object_id) is the job's idempotency marker: a job re-run after a
    crash, a retry or a redelivered queue message finds the row and sends nothing.
    """

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("kind", "object_id"),)

    kind: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[uuid.UUID]
    recipient: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(200))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
