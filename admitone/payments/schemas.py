"""Response shapes for payments."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AliasChoices, Field

from admitone.payments.inbox import PaymentOutcome, PaymentResult
from admitone.payments.models import PaymentStatus
from admitone.schemas import InputModel, OutputModel


class PaymentOut(OutputModel):
    id: uuid.UUID
    # API v1 pays for orders only: the thing paid for is the order (payments.purpose_id).
    order_id: uuid.UUID = Field(validation_alias=AliasChoices("purpose_id", "order_id"))
    provider: str
    status: PaymentStatus
    amount_minor: int
    currency: str
    refunded_minor: int = Field(description="Refunded so far (partial refunds add up)")
    application_fee_minor: int = Field(description="The platform's commission on it")
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
    order_status: str = Field(
        description="The order's status now: pending, paid, cancelled, expired or refunded"
    )

    @classmethod
    def build(cls, result: PaymentResult) -> PaymentResultOut:
        return cls(
            outcome=result.outcome,
            payment=PaymentOut.model_validate(result.payment),
            order_status=result.paid_for.status,
        )


class WebhookReceivedOut(OutputModel):
    received: bool
    outcome: str = Field(description="processed, duplicate or ignored")
    event_type: str


class StripeAccountIn(InputModel):
    stripe_account_id: str | None = Field(
        pattern=r"^acct_[A-Za-z0-9]{1,64}$",
        examples=["acct_1Nv0FGQ9RKHgCVdK"],
        description="The organization's Stripe connected account; null to stop using one",
    )


class StripeAccountOut(OutputModel):
    organization_id: uuid.UUID
    stripe_account_id: str | None


class PayoutSummaryOut(OutputModel):
    event_id: uuid.UUID
    currency: str
    payments: int = Field(description="Succeeded payments (refunded ones included)")
    gross_minor: int = Field(description="Everything paid")
    refunds_minor: int = Field(description="Everything refunded")
    platform_fees_minor: int = Field(
        description="The platform's fees, less the share returned with refunds"
    )
    net_minor: int = Field(description="gross - refunds - platform fees")
