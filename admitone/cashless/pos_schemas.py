"""Request and response shapes of the point of sale: stands, products, charges,
reversals, cash registers, desk top-ups."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AwareDatetime,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from admitone.cashless import offline
from admitone.cashless.models import StandKind, TopupChannel
from admitone.cashless.stands import StandView
from admitone.errors import InvalidInput
from admitone.events.schemas import PatchModel
from admitone.schemas import (
    InputModel,
    MoneyMinor,
    OneLine,
    OutputModel,
    StrictInt,
    validation_problems,
)

StandName = Annotated[str, StringConstraints(min_length=1, max_length=100), OneLine]
ProductName = Annotated[str, StringConstraints(min_length=1, max_length=100), OneLine]
Category = Annotated[str, StringConstraints(min_length=1, max_length=50), OneLine]
# VAT included in the price, in basis points: 2000 is 20 %, 550 is 5.5 %.
VatRate = Annotated[StrictInt, Field(ge=0, le=10_000)]
Stock = Annotated[StrictInt, Field(ge=0, le=10_000_000)]
StockAdded = Annotated[StrictInt, Field(ge=-10_000_000, le=10_000_000)]
# What a cashier scanned (a pass's QR, 175 characters) or typed (its printed code).
ShownPass = Annotated[str, StringConstraints(min_length=1, max_length=200), OneLine]
# Negative: a deposit item given back (a returned cup).
LineQuantity = Annotated[StrictInt, Field(ge=-1000, le=1000)]
# One per request the client makes (and keeps for its retries): what orders take too.
IdempotencyKey = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$")
]


# --- stands --------------------------------------------------------------------------------


class StandIn(InputModel):
    name: StandName = Field(examples=["Main bar"])
    kind: StandKind = Field(examples=["bar"])


class StandPatch(PatchModel):
    name: StandName | None = None
    kind: StandKind | None = None
    active: StrictBool | None = Field(default=None, description="false: closed, sells nothing")


class StandOut(OutputModel):
    id: uuid.UUID
    event_id: uuid.UUID
    name: str
    kind: StandKind
    active: bool
    created_at: datetime
    cashier_ids: list[uuid.UUID] = Field(description="The members assigned to sell here")

    @classmethod
    def from_view(cls, view: StandView) -> StandOut:
        stand = view.stand
        return cls(
            id=stand.id,
            event_id=stand.event_id,
            name=stand.name,
            kind=stand.kind,
            active=stand.active,
            created_at=stand.created_at,
            cashier_ids=list(view.cashier_ids),
        )


# --- products ------------------------------------------------------------------------------


class ProductIn(InputModel):
    name: ProductName = Field(examples=["Beer 25 cl"])
    price_minor: MoneyMinor = Field(examples=[450], description="Price including VAT")
    vat_rate_bp: VatRate = Field(examples=[2000], description="VAT rate, basis points")
    category: Category | None = Field(default=None, examples=["Drinks"])
    stock: Stock | None = Field(default=None, description="null: unlimited")
    active: StrictBool = True
    deposit: StrictBool = Field(
        default=False, description="A returnable item (a cup): may be sold in a negative quantity"
    )


class ProductPatch(PatchModel):
    nullable: ClassVar[frozenset[str]] = frozenset({"category", "stock"})

    name: ProductName | None = None
    price_minor: MoneyMinor | None = None
    vat_rate_bp: VatRate | None = None
    category: Category | None = None
    stock: Stock | None = Field(default=None, description="Set the count; null: unlimited")
    stock_add: StockAdded | None = Field(
        default=None, description="Add to the count (negative: take away); never below zero"
    )
    active: StrictBool | None = None
    deposit: StrictBool | None = None

    @model_validator(mode="after")
    def _set_or_add(self) -> ProductPatch:
        if {"stock", "stock_add"} <= self.model_fields_set:
            raise ValueError("send stock (set it) or stock_add (add to it), not both")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: value for name, value in super().changes().items() if name != "stock_add"}


class ProductOut(OutputModel):
    id: uuid.UUID
    stand_id: uuid.UUID
    name: str
    price_minor: int
    vat_rate_bp: int
    category: str | None
    stock: int | None
    active: bool
    deposit: bool
    created_at: datetime


# --- charges -------------------------------------------------------------------------------


class LineIn(InputModel):
    product_id: uuid.UUID
    quantity: LineQuantity = Field(examples=[2])

    @field_validator("quantity")
    @classmethod
    def _not_zero(cls, quantity: int) -> int:
        if quantity == 0:
            raise ValueError("a line's quantity is not zero")
        return quantity


class ChargeIn(InputModel):
    stand_id: uuid.UUID
    shown_pass: ShownPass = Field(
        alias="pass", description="The wallet pass: its QR's text, or its printed code"
    )
    lines: list[LineIn] = Field(min_length=1, max_length=50)

    @field_validator("lines")
    @classmethod
    def _one_line_per_product(cls, lines: list[LineIn]) -> list[LineIn]:
        if len({line.product_id for line in lines}) != len(lines):
            raise ValueError("each product may appear only once")
        return lines


class SaleLineOut(OutputModel):
    product_id: uuid.UUID
    name: str
    quantity: int
    unit_price_minor: int
    vat_rate_bp: int
    total_minor: int
    vat_minor: int = Field(description="The VAT the line's total includes")


class VatRateOut(OutputModel):
    vat_rate_bp: int
    total_minor: int
    vat_minor: int


class ReceiptOut(OutputModel):
    stand_name: str
    event_title: str
    issued_at: datetime
    total_minor: int
    vat_minor: int
    vat_by_rate: list[VatRateOut]
    balance_minor: int
    currency: str
    unit_name: str | None = Field(
        description="The organizer's name for the money (shown beside it)"
    )


class ChargeOut(OutputModel):
    entry_id: uuid.UUID
    stand_id: uuid.UUID
    amount_minor: int
    balance_minor: int = Field(description="What the wallet holds after the sale")
    currency: str
    lines: list[SaleLineOut]
    receipt: ReceiptOut


class ReversalOut(OutputModel):
    entry_id: uuid.UUID = Field(description="The reversal's own entry")
    reverses_entry_id: uuid.UUID
    stand_id: uuid.UUID
    amount_minor: int
    balance_minor: int | None = Field(description="What the wallet holds after the reversal")
    currency: str


# --- cash registers and desk top-ups -------------------------------------------------------


class RegisterIn(InputModel):
    stand_id: uuid.UUID
    opening_float_minor: MoneyMinor = Field(
        default=0, description="The cash in the drawer at the start, to give change"
    )


class RegisterCloseIn(InputModel):
    counted_minor: MoneyMinor = Field(description="The cash counted in the drawer, float included")


class RegisterOut(OutputModel):
    id: uuid.UUID
    stand_id: uuid.UUID
    cashier_id: uuid.UUID | None
    opening_float_minor: int
    opened_at: datetime
    currency: str
    closed_at: datetime | None
    expected_minor: int | None = Field(description="At the close: the float plus the cash taken")
    counted_minor: int | None
    difference_minor: int | None = Field(description="Counted minus expected")
    cash_taken_minor: int | None
    entry_id: uuid.UUID | None = Field(description="The close's entry in the ledger")


class TopupIn(InputModel):
    stand_id: uuid.UUID = Field(description="A top-up desk")
    shown_pass: ShownPass = Field(alias="pass", description="The wallet pass: QR text or code")
    amount_minor: MoneyMinor
    method: Literal["cash", "card"]
    register_id: uuid.UUID | None = Field(
        default=None, description="For cash: the cashier's open register at this desk"
    )


class TopupOut(OutputModel):
    entry_id: uuid.UUID
    topup_id: uuid.UUID
    stand_id: uuid.UUID
    method: TopupChannel
    register_id: uuid.UUID | None
    amount_minor: int
    debt_paid_minor: int = Field(description="The part of the top-up that paid the wallet's debt")
    balance_minor: int
    debt_minor: int = Field(description="What the wallet still owes")
    currency: str


# --- points of sale as devices: pairing, the bundle, offline sales -----------------------

DeviceName = Annotated[str, StringConstraints(min_length=1, max_length=100), OneLine]
# One per sale, made by the device before its first attempt (online or queued).
SaleKey = IdempotencyKey


class PosDeviceIn(InputModel):
    stand_id: uuid.UUID
    name: DeviceName = Field(examples=["Main bar, till 2"])


class PosDeviceOut(OutputModel):
    id: uuid.UUID
    name: str
    stand_id: uuid.UUID
    stand_name: str
    created_at: datetime
    token: str = Field(description="Given once: the device's bearer token (aod_...)")


class BundleProductOut(OutputModel):
    id: uuid.UUID
    name: str
    price_minor: int
    vat_rate_bp: int
    category: str | None
    active: bool
    deposit: bool


class BundlePassOut(OutputModel):
    pass_id: uuid.UUID
    blocked: bool = Field(description="true: refuse this pass offline")


class PosBundleOut(OutputModel):
    event_id: uuid.UUID
    stand_id: uuid.UUID
    stand_name: str
    currency: str
    unit_name: str | None
    public_key: str = Field(description="The event's Ed25519 public key, base64 (raw 32 bytes)")
    key_id: str
    offline_wallet_cap_minor: int
    offline_sale_cap_minor: int
    products: list[BundleProductOut]
    full: bool = Field(description="true: `passes` is every pass to refuse; else the changes")
    passes: list[BundlePassOut]
    server_time: datetime
    cursor: str = Field(description="Send it as `cursor` next time for the changes only")


class OfflineLineIn(LineIn):
    unit_price_minor: MoneyMinor = Field(description="The price the device charged")


class OfflineSaleIn(InputModel):
    idempotency_key: SaleKey
    device_seq: Annotated[StrictInt, Field(ge=0, le=2**62)] = Field(
        description="The device's own sale number, one more for each sale"
    )
    occurred_at: AwareDatetime = Field(description="The device's clock at the sale")
    shown_pass: ShownPass = Field(alias="pass", description="The pass QR the device checked")
    lines: list[OfflineLineIn] = Field(min_length=1, max_length=50)


class OfflineBatchIn(InputModel):
    device_time: AwareDatetime = Field(description="The device's clock when sending")
    # Each item is read on its own (``read_sales``): one with a wrong field is refused
    # alone, so one bad item never holds back the device's whole queue.
    sales: list[Any] = Field(
        min_length=1,
        max_length=offline.MAX_BATCH,
        description="Each an OfflineSaleIn; an item with a wrong field is answered "
        "`refused` (VALIDATION_ERROR), the others are booked",
    )

    def read_sales(
        self, *, stand_id: uuid.UUID
    ) -> list[offline.OfflineSale | offline.UnreadableSale]:
        """The sales, at the device's stand."""
        read: list[offline.OfflineSale | offline.UnreadableSale] = []
        for raw in self.sales:
            try:
                item = OfflineSaleIn.model_validate(raw)
            except ValidationError as exc:
                key = raw.get("idempotency_key") if isinstance(raw, dict) else None
                read.append(
                    offline.UnreadableSale(
                        idempotency_key=key if isinstance(key, str) else "",
                        error=InvalidInput(errors=validation_problems(exc)),
                    )
                )
                continue
            read.append(
                offline.OfflineSale(
                    idempotency_key=item.idempotency_key,
                    device_seq=item.device_seq,
                    occurred_at=item.occurred_at,
                    stand_id=stand_id,
                    shown=item.shown_pass,
                    lines=tuple(
                        offline.OfflineLine(line.product_id, line.quantity, line.unit_price_minor)
                        for line in item.lines
                    ),
                )
            )
        return read


class OfflineSaleResultOut(OutputModel):
    idempotency_key: str
    status: Literal["booked", "booked_with_debt", "duplicate", "refused"]
    entry_id: uuid.UUID | None
    amount_minor: int
    shortfall_minor: int = Field(description="What the wallet could not cover: its debt")
    flag: str | None = Field(description="revoked_pass: a sale on a pass revoked before it")
    error: dict[str, Any] | None = Field(description="Why a sale was refused")


class OfflineBatchOut(OutputModel):
    results: list[OfflineSaleResultOut]
    clock_offset_ms: int

    @classmethod
    def from_answer(cls, answer: offline.BatchAnswer) -> OfflineBatchOut:
        return cls(
            results=[
                OfflineSaleResultOut(
                    idempotency_key=result.idempotency_key,
                    status=result.status.value,
                    entry_id=result.entry_id,
                    amount_minor=result.amount_minor,
                    shortfall_minor=result.shortfall_minor,
                    flag=result.flag,
                    error=result.error.to_dict() if result.error is not None else None,
                )
                for result in answer.results
            ],
            clock_offset_ms=answer.clock_offset_ms,
        )
