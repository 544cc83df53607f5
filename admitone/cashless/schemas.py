"""API shapes of cashless: an event's settings, wallets, their passes and history, top-ups.

Money is an integer of minor units of the event's ``currency``; ``unit_name`` (such as
"Jetons") is a display name shown beside the amounts, never instead of them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from admitone.accounts.models import User
from admitone.cashless.models import (
    EntryKind,
    EntryOrigin,
    TopupStatus,
    UnclaimedPolicy,
    WalletStatus,
    WalletTopup,
)
from admitone.cashless.passes import display_code
from admitone.cashless.settings import (
    DONATION_RECIPIENT_MAX,
    PASS_VALIDITY_MAX_MINUTES,
    REFUND_WINDOW_MAX_DAYS,
    UNIT_NAME_MAX,
    CashlessValues,
    EventCashless,
)
from admitone.cashless.wallets import (
    HistoryEntry,
    ReplacedPass,
    WalletCard,
    WalletSummary,
)
from admitone.payments.models import Payment, PaymentStatus
from admitone.schemas import InputModel, MoneyMinor, OneLine, OutputModel, ShortText, StrictInt

_DEFAULTS = CashlessValues()
UnitName = Annotated[str, StringConstraints(max_length=UNIT_NAME_MAX), OneLine]
Recipient = Annotated[str, StringConstraints(max_length=DONATION_RECIPIENT_MAX), OneLine]


class CashlessSettingsIn(InputModel):
    """Every setting (PUT replaces them all; an omitted one takes its default)."""

    enabled: bool = True
    unit_name: UnitName | None = Field(
        default=None, description='Shown beside amounts ("Jetons"), never instead of them'
    )
    topup_minimum_minor: MoneyMinor = _DEFAULTS.topup_minimum_minor
    topup_maximum_minor: MoneyMinor = _DEFAULTS.topup_maximum_minor
    balance_maximum_minor: MoneyMinor = _DEFAULTS.balance_maximum_minor
    offline_wallet_cap_minor: MoneyMinor = Field(
        default=_DEFAULTS.offline_wallet_cap_minor,
        description="What one offline device may accept on one pass before it syncs",
    )
    offline_sale_cap_minor: MoneyMinor = Field(
        default=_DEFAULTS.offline_sale_cap_minor,
        description="The largest sale an offline device may accept (at most the wallet cap)",
    )
    pass_validity_minutes: Annotated[StrictInt, Field(ge=1, le=PASS_VALIDITY_MAX_MINUTES)] = (
        _DEFAULTS.pass_validity_minutes
    )
    wallet_with_ticket: bool = Field(
        default=False, description="Every ticket buyer with an account has a wallet"
    )
    refund_window_days: Annotated[StrictInt, Field(ge=0, le=REFUND_WINDOW_MAX_DAYS)] = (
        _DEFAULTS.refund_window_days
    )
    refund_minimum_minor: MoneyMinor = _DEFAULTS.refund_minimum_minor
    refund_fee_minor: MoneyMinor = _DEFAULTS.refund_fee_minor
    unclaimed_policy: UnclaimedPolicy = UnclaimedPolicy.keep
    donation_recipient: Recipient | None = Field(
        default=None, description="Required when unclaimed balances are donated"
    )

    def values(self) -> CashlessValues:
        return CashlessValues(**self.model_dump())


class CashlessSettingsOut(OutputModel):
    event_id: uuid.UUID
    currency: str = Field(description="The event's currency: every amount is in it")
    configured: bool = Field(description="False: never set up (the defaults, switched off)")
    enabled: bool
    unit_name: str | None
    topup_minimum_minor: int
    topup_maximum_minor: int
    balance_maximum_minor: int
    offline_wallet_cap_minor: int
    offline_sale_cap_minor: int
    pass_validity_minutes: int
    wallet_with_ticket: bool
    refund_window_days: int
    refund_minimum_minor: int
    refund_fee_minor: int
    unclaimed_policy: UnclaimedPolicy
    donation_recipient: str | None

    @classmethod
    def build(cls, found: EventCashless) -> CashlessSettingsOut:
        values = found.values
        return cls(
            event_id=found.event_id,
            currency=found.currency,
            configured=found.configured,
            **{name: getattr(values, name) for name in CashlessValues.__dataclass_fields__},
        )


class WalletOut(OutputModel):
    id: uuid.UUID
    event_id: uuid.UUID
    event_title: str
    event_starts_at: datetime
    currency: str
    unit_name: str | None = Field(description="Shown beside amounts, never instead of them")
    status: WalletStatus
    offline_blocked: bool = Field(description="Debt from offline sales: no offline use")
    balance_minor: int
    debt_minor: int = Field(description="What the holder owes (offline sales beyond the balance)")
    cashless_enabled: bool

    @classmethod
    def build(cls, summary: WalletSummary) -> WalletOut:
        wallet, event = summary.wallet, summary.event
        return cls(
            id=wallet.id,
            event_id=event.id,
            event_title=event.title,
            event_starts_at=event.starts_at,
            currency=event.currency,
            unit_name=summary.unit_name,
            status=wallet.status,
            offline_blocked=wallet.offline_blocked,
            balance_minor=summary.balance_minor,
            debt_minor=summary.debt_minor,
            cashless_enabled=summary.cashless_enabled,
        )


class WalletPassOut(OutputModel):
    id: uuid.UUID
    qr: str = Field(description="The QR's text, signed now with the event's key")
    code: str = Field(description="The printed code, in its display form (ABCD-EFGH-JK)")
    not_after: datetime = Field(description="Offline devices refuse the QR after this")
    offline_wallet_cap_minor: int
    offline_sale_cap_minor: int


class WalletCardOut(WalletOut):
    current_pass: WalletPassOut | None
    topup_minimum_minor: int | None
    topup_maximum_minor: int | None
    balance_maximum_minor: int | None

    @classmethod
    def from_card(cls, card: WalletCard) -> WalletCardOut:
        shown = card.current_pass
        settings = card.summary.settings
        return cls(
            **WalletOut.build(card.summary).model_dump(),
            current_pass=WalletPassOut(
                id=shown.pass_id,
                qr=shown.qr,
                code=shown.code,
                not_after=shown.not_after,
                offline_wallet_cap_minor=shown.wallet_cap_minor,
                offline_sale_cap_minor=shown.sale_cap_minor,
            )
            if shown
            else None,
            topup_minimum_minor=settings.topup_minimum_minor if settings else None,
            topup_maximum_minor=settings.topup_maximum_minor if settings else None,
            balance_maximum_minor=settings.balance_maximum_minor if settings else None,
        )


class HistoryItemOut(OutputModel):
    name: str
    quantity: int
    unit_price_minor: int
    total_minor: int


class TransactionOut(OutputModel):
    id: uuid.UUID
    kind: EntryKind
    origin: EntryOrigin
    amount_minor: int = Field(
        description="What it did to the holder's money (balance less debt): + in, - out"
    )
    debt_change_minor: int = Field(description="+ debt it created, - debt it paid")
    stand_name: str | None
    items: list[HistoryItemOut]
    occurred_at: datetime

    @classmethod
    def build(cls, entry: HistoryEntry) -> TransactionOut:
        return cls(
            id=entry.entry_id,
            kind=entry.kind,
            origin=entry.origin,
            amount_minor=entry.amount_minor,
            debt_change_minor=entry.debt_change_minor,
            stand_name=entry.stand_name,
            items=[HistoryItemOut.model_validate(line) for line in entry.lines],
            occurred_at=entry.occurred_at,
        )


class TopupIn(InputModel):
    amount_minor: Annotated[MoneyMinor, Field(ge=1, examples=[2000])]


class TopupPaymentOut(OutputModel):
    """A top-up and its payment: send the attendee to ``checkout_url``."""

    id: uuid.UUID = Field(description="The payment's id")
    topup_id: uuid.UUID
    topup_status: TopupStatus
    provider: str
    status: PaymentStatus
    amount_minor: int
    currency: str
    checkout_url: str | None = Field(description="Send the attendee here to pay")
    created_at: datetime

    @classmethod
    def build(cls, topup: WalletTopup, payment: Payment) -> TopupPaymentOut:
        return cls(
            id=payment.id,
            topup_id=topup.id,
            topup_status=topup.status,
            provider=payment.provider,
            status=payment.status,
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            checkout_url=payment.checkout_url,
            created_at=payment.created_at,
        )


class PassReplaceIn(InputModel):
    reason: ShortText = Field(examples=["Lost phone"])


class ReplacedPassOut(OutputModel):
    wallet_id: uuid.UUID
    pass_id: uuid.UUID
    code: str = Field(description="The new printed code, in its display form")
    revoked: int = Field(description="Passes revoked (the lost one)")

    @classmethod
    def build(cls, replaced: ReplacedPass) -> ReplacedPassOut:
        return cls(
            wallet_id=replaced.wallet_id,
            pass_id=replaced.new_pass.id,
            code=display_code(replaced.new_pass.code),
            revoked=replaced.revoked,
        )


class OrganizerWalletOut(WalletOut):
    holder_name: str | None
    holder_email: str | None
    code: str | None = Field(description="The current printed code (display form)")
    created_at: datetime

    @classmethod
    def of(
        cls, summary: WalletSummary, holder: User | None, code: str | None
    ) -> OrganizerWalletOut:
        return cls(
            **WalletOut.build(summary).model_dump(),
            holder_name=holder.full_name if holder else None,
            holder_email=holder.email if holder else None,
            code=code,
            created_at=summary.wallet.created_at,
        )
