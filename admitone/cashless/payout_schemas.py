"""API shapes of the leftover refunds (payouts), their SEPA exports and the close."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from admitone.cashless.models import PayoutExport, PayoutStatus, WalletPayout
from admitone.cashless.payouts import ClosedCashless, PayoutRow, RefundQuote
from admitone.schemas import InputModel, OneLine, OutputModel

Holder = Annotated[str, StringConstraints(max_length=70), OneLine]
IbanText = Annotated[str, StringConstraints(max_length=50), OneLine]
BicText = Annotated[str, StringConstraints(max_length=20), OneLine]


class RefundRequestIn(InputModel):
    """The bank account for the part of the leftover that cannot go back to a card
    (cash and desk top-ups). Needed only then (the quote's ``needs_bank_account``)."""

    account_holder: Holder | None = Field(default=None, examples=["Ada Lovelace"])
    iban: IbanText | None = Field(default=None, examples=["DE89 3704 0044 0532 0130 00"])
    bic: BicText | None = Field(default=None, examples=["COBADEFFXXX"])


class CardRefundOut(OutputModel):
    payment_id: uuid.UUID
    refund_id: uuid.UUID
    amount_minor: int


class PayoutOut(OutputModel):
    """A leftover paid back: ``card_minor`` to the cards at once, ``bank_minor`` by bank
    transfer (``pending`` until the organizer's SEPA export, then ``exported``);
    ``completed`` when all of it went to the cards."""

    id: uuid.UUID
    wallet_id: uuid.UUID
    status: PayoutStatus
    currency: str
    amount_minor: int
    card_minor: int
    bank_minor: int
    fee_minor: int
    debt_settled_minor: int
    card_refunds: list[CardRefundOut]
    account_holder: str | None
    iban: str | None = Field(description="Masked but for its country and last four")
    requested_at: datetime
    exported_at: datetime | None

    @classmethod
    def build(cls, payout: WalletPayout, *, full_iban: bool = False) -> PayoutOut:
        iban = payout.iban
        if iban and not full_iban:
            iban = f"{iban[:2]}{'*' * (len(iban) - 6)}{iban[-4:]}"
        return cls(
            id=payout.id,
            wallet_id=payout.wallet_id,
            status=payout.status,
            currency=payout.currency,
            amount_minor=payout.amount_minor,
            card_minor=payout.card_minor,
            bank_minor=payout.bank_minor,
            fee_minor=payout.fee_minor,
            debt_settled_minor=payout.debt_settled_minor,
            card_refunds=[CardRefundOut.model_validate(part) for part in payout.card_refunds],
            account_holder=payout.account_holder,
            iban=iban,
            requested_at=payout.requested_at,
            exported_at=payout.exported_at,
        )


class OrganizerPayoutOut(PayoutOut):
    holder_email: str | None
    export_id: uuid.UUID | None

    @classmethod
    def of(cls, row: PayoutRow) -> OrganizerPayoutOut:
        base = PayoutOut.build(row.payout, full_iban=True).model_dump()
        return cls(**base, holder_email=row.holder_email, export_id=row.payout.export_id)


class RefundQuoteOut(OutputModel):
    """What asking for the leftover now gives, or why it would be refused, or the payout
    made. ``window``: "before" the event ends, "open", or "closed"."""

    window: str
    opens_at: datetime
    closes_at: datetime
    currency: str
    balance_minor: int | None
    debt_minor: int | None
    fee_minor: int | None
    amount_minor: int | None = Field(description="What would be paid back (card + bank)")
    card_minor: int | None
    bank_minor: int | None
    needs_bank_account: bool
    refusal: dict[str, Any] | None = Field(description="The error a request would get now")
    payout: PayoutOut | None

    @classmethod
    def build(cls, quote: RefundQuote) -> RefundQuoteOut:
        split = quote.split
        return cls(
            window=quote.window_state,
            opens_at=quote.window.opens_at,
            closes_at=quote.window.closes_at,
            currency=quote.event.currency,
            balance_minor=split.balance_minor if split else None,
            debt_minor=split.debt_minor if split else None,
            fee_minor=split.fee_minor if split else None,
            amount_minor=split.amount_minor if split else None,
            card_minor=split.card_minor if split else None,
            bank_minor=split.bank_minor if split else None,
            needs_bank_account=quote.needs_bank_account,
            refusal=quote.refusal.to_dict() if quote.refusal else None,
            payout=PayoutOut.build(quote.payout) if quote.payout else None,
        )


class SepaExportIn(InputModel):
    """The organizer's account the transfers are made from (the debtor)."""

    debtor_name: Annotated[str, StringConstraints(min_length=1, max_length=70), OneLine]
    debtor_iban: Annotated[str, StringConstraints(min_length=1, max_length=50), OneLine]
    debtor_bic: BicText | None = None
    execution_date: date | None = Field(
        default=None, description="When the bank should pay (default: today)"
    )


class PayoutExportOut(OutputModel):
    id: uuid.UUID
    payouts: int
    total_minor: int
    created_at: datetime

    @classmethod
    def build(cls, export: PayoutExport) -> PayoutExportOut:
        return cls(
            id=export.id,
            payouts=export.payouts,
            total_minor=export.total_minor,
            created_at=export.created_at,
        )


class ClosedCashlessOut(OutputModel):
    """What this close did (zeros for a repeated one) and the event's totals."""

    wallets_closed: int
    unclaimed_minor: int
    written_off_minor: int
    unclaimed_total_minor: int
    written_off_total_minor: int

    @classmethod
    def build(cls, closed: ClosedCashless) -> ClosedCashlessOut:
        return cls(
            wallets_closed=closed.wallets_closed,
            unclaimed_minor=closed.unclaimed_minor,
            written_off_minor=closed.written_off_minor,
            unclaimed_total_minor=closed.unclaimed_total_minor,
            written_off_total_minor=closed.written_off_total_minor,
        )
