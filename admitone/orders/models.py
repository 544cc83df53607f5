"""Orders: a buyer's seats on hold, then paid, cancelled, expired or refunded."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from admitone.db import Base, IdMixin, TimestampMixin


class OrderStatus(StrEnum):
    pending = "pending"  # seats held until expires_at
    paid = "paid"
    cancelled = "cancelled"  # by the buyer while pending
    expired = "expired"  # the hold ran out
    refunded = "refunded"  # fully refunded after payment


class Order(IdMixin, TimestampMixin, Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_status_expires_at", "status", "expires_at"),
        # The hold limits' sum reads a client's orders of an event (docs/locking.md).
        Index("ix_orders_event_id_buyer_email", "event_id", "buyer_email"),
        Index("ix_orders_event_id_client_ip", "event_id", "client_ip"),
        # A verified address claims its guest orders (buyer_orders.claim_guest_orders).
        Index("ix_orders_buyer_email", "buyer_email"),
        CheckConstraint("total_minor >= 0", name="total_positive"),
    )

    # Short human code, printed on tickets and searched by the organizer.
    code: Mapped[str] = mapped_column(String(16), unique=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True, default=None
    )
    buyer_name: Mapped[str] = mapped_column(String(200))
    # The organizer's search matches it by substring (orders.queries.matching), which no
    # b-tree serves; it is indexed with event_id for the hold limits only.
    buyer_email: Mapped[str] = mapped_column(String(320))
    # The network address the order came from (deps.client_ip): the hold limits count a
    # client's seats by it too. None for orders made before it was recorded, or by the CLI.
    client_ip: Mapped[str | None] = mapped_column(String(45), default=None)
    # SHA-256 of the guest's secret link token.
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[OrderStatus] = mapped_column(
        Enum(OrderStatus, native_enum=False, length=20), default=OrderStatus.pending
    )
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int]
    refunded_minor: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime]
    paid_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    # The buyer's language when ordering ("en" or "fr"): every mail about the order is
    # written in it, also to a guest. None on orders made before it was recorded.
    locale: Mapped[str | None] = mapped_column(String(10), default=None)

    items: Mapped[list[OrderItem]] = relationship(
        lazy="raise", back_populates="order", order_by="OrderItem.ticket_type_id"
    )


class OrderItem(IdMixin, Base):
    __tablename__ = "order_items"
    __table_args__ = (
        UniqueConstraint("order_id", "ticket_type_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    ticket_type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ticket_types.id"), index=True)
    quantity: Mapped[int]
    unit_price_minor: Mapped[int]

    order: Mapped[Order] = relationship(lazy="raise", back_populates="items")


class IdempotencyRecord(IdMixin, Base):
    """An ``Idempotency-Key`` seen on a create request, with the body's fingerprint."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    scope: Mapped[str] = mapped_column(String(100))  # e.g. "orders.create:<user id or anon>"
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime]
