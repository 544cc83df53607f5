"""Request and response shapes for orders."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import EmailStr, Field, StringConstraints, field_validator

from admitone.orders.details import OrderDetails
from admitone.orders.models import OrderStatus
from admitone.orders.transitions import effective_status
from admitone.schemas import InputModel, OneLine, OutputModel, StrictInt

# PostgreSQL refuses NUL in text: refuse it here rather than fail in the database.
NO_NUL = r"^[^\x00]*$"
# A name goes into the mail's To header: one line (admitone.schemas.one_line).
BuyerName = Annotated[str, StringConstraints(min_length=1, max_length=200), OneLine]
SeatCount = Annotated[StrictInt, Field(ge=1, le=1000)]
Reason = Annotated[str, StringConstraints(max_length=100, pattern=NO_NUL)]
SearchText = Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)]
IdempotencyKey = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
]


class OrderItemIn(InputModel):
    ticket_type_id: uuid.UUID
    quantity: SeatCount = Field(examples=[2])


class BuyerIn(InputModel):
    name: BuyerName = Field(examples=["Ada Lovelace"])
    email: EmailStr = Field(max_length=320, examples=["ada@example.com"])


class OrderIn(InputModel):
    """What a buyer asks for; prices and the total are the server's business."""

    event_id: uuid.UUID
    items: list[OrderItemIn] = Field(min_length=1, max_length=20)
    buyer: BuyerIn

    @field_validator("items")
    @classmethod
    def _one_line_per_ticket_type(cls, items: list[OrderItemIn]) -> list[OrderItemIn]:
        if len({item.ticket_type_id for item in items}) != len(items):
            raise ValueError("each ticket type may appear only once")
        return items


class RefundIn(InputModel):
    reason: Reason = Field(default="", examples=["Customer request"])
    ticket_ids: list[uuid.UUID] | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="Refund only these tickets of the order (at their price); all if absent",
    )


class OrderLineOut(OutputModel):
    ticket_type_id: uuid.UUID
    ticket_type_name: str
    quantity: int
    unit_price_minor: int
    total_minor: int


class BuyerOut(OutputModel):
    name: str
    email: str


class OrderOut(OutputModel):
    id: uuid.UUID
    code: str = Field(description="Short code printed on tickets")
    event_id: uuid.UUID
    status: OrderStatus = Field(description="A pending order past expires_at reads expired")
    currency: str
    total_minor: int
    refunded_minor: int
    expires_at: datetime = Field(description="When an unpaid order releases its seats")
    paid_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime
    buyer: BuyerOut
    items: list[OrderLineOut]

    @classmethod
    def build(cls, details: OrderDetails, *, now: datetime, **extra: object) -> OrderOut:
        order = details.order
        return cls(
            id=order.id,
            code=order.code,
            event_id=order.event_id,
            status=effective_status(order, now=now),
            currency=order.currency,
            total_minor=order.total_minor,
            refunded_minor=order.refunded_minor,
            expires_at=order.expires_at,
            paid_at=order.paid_at,
            cancelled_at=order.cancelled_at,
            created_at=order.created_at,
            buyer=BuyerOut(name=order.buyer_name, email=order.buyer_email),
            items=[
                OrderLineOut(
                    ticket_type_id=line.item.ticket_type_id,
                    ticket_type_name=line.ticket_type_name,
                    quantity=line.item.quantity,
                    unit_price_minor=line.item.unit_price_minor,
                    total_minor=line.item.quantity * line.item.unit_price_minor,
                )
                for line in details.lines
            ],
            **extra,
        )


class CreatedOrderOut(OrderOut):
    access_token: str = Field(
        description=(
            "The secret that opens this order without an account (`?token=` or the "
            "`X-Order-Token` header). Shown once; only its hash is stored."
        )
    )
