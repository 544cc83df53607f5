"""Response shapes for payments."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from admitone.orders.models import OrderStatus
from admitone.payments.models import PaymentStatus
from admitone.payments.service import PaymentOutcome, PaymentResult
from admitone.schemas import OutputModel


class PaymentOut(OutputModel):
    id: uuid.UUID
    order_id: uuid.UUID
    provider: str
    status: PaymentStatus
    amount_minor: int
    currency: str
    checkout_url: str | None = Field(description="Send the buyer here to pay")
    created_at: datetime
    succeeded_at: datetime | None


class PaymentResultOut(OutputModel):
    outcome: PaymentOutcome = Field(
        description=(
            "paid: the order is paid and its tickets issued; duplicate: this notification "
            "was handled before; already_processed: the payment was already in this state; "
            "refunded: the payment could not be honoured (hold expired and sold out, order "
            "cancelled, or paid twice) and was refunded; failed: declined"
        )
    )
    payment: PaymentOut
    order_status: OrderStatus

    @classmethod
    def build(cls, result: PaymentResult) -> PaymentResultOut:
        return cls(
            outcome=result.outcome,
            payment=PaymentOut.model_validate(result.payment),
            order_status=result.order.status,
        )
