"""Payments, refunds and the inbox of provider notifications.

A payment, and each refund of it, says what it pays for: its ``purpose`` (the name a
domain registered in ``payments.purposes``: "order") and the id of the thing paid for,
with no foreign key, so that payments serve any domain (docs/payments.md, "Purposes").
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from admitone.db import Base, IdMixin, TimestampMixin, utcnow


class PaymentStatus(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"
    refunded = "refunded"  # fully


class Payment(IdMixin, TimestampMixin, Base):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "provider_ref"),
        Index("ix_payments_purpose_id_purpose", "purpose_id", "purpose"),
    )

    purpose: Mapped[str] = mapped_column(String(30))  # "order"
    purpose_id: Mapped[uuid.UUID]  # the thing paid for: an order's id
    provider: Mapped[str] = mapped_column(String(20))  # "test" or "stripe"
    provider_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    status: Mapped[PaymentStatus] = mapped_column(
        Enum(PaymentStatus, native_enum=False, length=20), default=PaymentStatus.pending
    )
    amount_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    # What was given back so far (partial refunds add up); status refunded once it is all.
    refunded_minor: Mapped[int] = mapped_column(default=0)
    # The platform's commission on this payment (settings.platform_fee_percent).
    application_fee_minor: Mapped[int] = mapped_column(default=0)
    # The provider's id of the money itself (Stripe: the PaymentIntent), known once paid.
    provider_payment_ref: Mapped[str | None] = mapped_column(String(255), default=None, index=True)
    # A Stripe connected account the money goes to (the organization's, at checkout).
    transfer_destination: Mapped[str | None] = mapped_column(String(255), default=None)
    checkout_url: Mapped[str | None] = mapped_column(Text, default=None)
    succeeded_at: Mapped[datetime | None] = mapped_column(default=None)


class Refund(IdMixin, Base):
    __tablename__ = "refunds"
    __table_args__ = (Index("ix_refunds_purpose_id_purpose", "purpose_id", "purpose"),)

    # Those of its payment: what the money given back had paid for.
    purpose: Mapped[str] = mapped_column(String(30))
    purpose_id: Mapped[uuid.UUID]
    payment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    amount_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(100), default="")
    provider_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaymentNotification(IdMixin, Base):
    """Inbox: each provider notification is recorded once, by (provider, external id)."""

    __tablename__ = "payment_notifications"
    __table_args__ = (UniqueConstraint("provider", "external_id"),)

    provider: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(default=None)
