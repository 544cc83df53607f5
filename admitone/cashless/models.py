"""Festival cashless (issue 17): wallets on a double-entry ledger, stands and products.

Money is an integer of minor units in the event's currency (``*_minor``).

The ledger (docs/cashless.md): every movement is a ``JournalEntry`` of
``LedgerTransfer`` rows, each moving a positive amount from one ``LedgerAccount`` to
another, so every entry balances by construction and the sum of all balances is zero.
An account's ``balance_minor`` is kept in the same transaction as its transfers
(``ledger.post``). Signs: an account gains what it receives. A wallet (what the festival
owes its attendee) is never negative and a wallet's debt account (what the attendee
owes, from offline sales beyond the balance) never positive: both are CHECK constraints
on both databases. The system accounts that money enters through (online payments, cash
registers) run negative: that is the money they hold.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from admitone.db import Base, IdMixin, utcnow


def _enum(kind: type[StrEnum], length: int = 20) -> Enum:
    return Enum(kind, native_enum=False, length=length)


# --- settings ----------------------------------------------------------------------------


class UnclaimedPolicy(StrEnum):
    """What becomes of balances nobody claimed by the end of the refund window."""

    keep = "keep"  # the organizer keeps them (breakage, declared in the terms)
    donate = "donate"  # given to the cause named in ``donation_recipient``


class CashlessSettings(Base):
    """An event's cashless: on or off, its limits, its offline caps, its refund window.

    One row per event (its key). Amounts are in the event's currency; ``unit_name``
    (seed 003's "Jetons") is shown beside the real amount, never instead of it.
    """

    __tablename__ = "cashless_settings"
    __table_args__ = (
        CheckConstraint("topup_minimum_minor > 0", name="topup_minimum_positive"),
        CheckConstraint("topup_maximum_minor >= topup_minimum_minor", name="topup_range"),
        CheckConstraint("balance_maximum_minor > 0", name="balance_maximum_positive"),
        CheckConstraint("offline_wallet_cap_minor >= 0", name="offline_wallet_cap"),
        CheckConstraint(
            "offline_sale_cap_minor >= 0 AND offline_sale_cap_minor <= offline_wallet_cap_minor",
            name="offline_sale_cap",
        ),
        CheckConstraint("pass_validity_minutes > 0", name="pass_validity_positive"),
        CheckConstraint("refund_window_days >= 0", name="refund_window"),
        CheckConstraint("refund_minimum_minor >= 0", name="refund_minimum"),
        CheckConstraint("refund_fee_minor >= 0", name="refund_fee"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    unit_name: Mapped[str | None] = mapped_column(String(30), default=None)
    topup_minimum_minor: Mapped[int] = mapped_column(BigInteger)
    topup_maximum_minor: Mapped[int] = mapped_column(BigInteger)
    balance_maximum_minor: Mapped[int] = mapped_column(BigInteger)
    # Offline sales: what one device may accept on one pass before it syncs, and per sale.
    offline_wallet_cap_minor: Mapped[int] = mapped_column(BigInteger)
    offline_sale_cap_minor: Mapped[int] = mapped_column(BigInteger)
    # How long a pass shown by a phone stays valid for an offline device.
    pass_validity_minutes: Mapped[int] = mapped_column(Integer, default=360)
    # A wallet opened with every ticket bought for the event.
    wallet_with_ticket: Mapped[bool] = mapped_column(Boolean, default=False)
    refund_window_days: Mapped[int] = mapped_column(Integer, default=14)
    refund_minimum_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    refund_fee_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    unclaimed_policy: Mapped[UnclaimedPolicy] = mapped_column(
        _enum(UnclaimedPolicy), default=UnclaimedPolicy.keep
    )
    donation_recipient: Mapped[str | None] = mapped_column(String(200), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- wallets and their passes ------------------------------------------------------------


class WalletStatus(StrEnum):
    active = "active"
    blocked = "blocked"  # by the organizer: no spending at all
    payout_pending = "payout_pending"  # its leftover is being paid back: no spending
    closed = "closed"  # paid back, or its balance booked at the end of the window


class Wallet(IdMixin, Base):
    """An attendee's money at one festival: one per account and event.

    Its balance lives on its ledger accounts (``LedgerAccount.wallet_id``): the wallet
    account and the debt account, both made with it. ``offline_blocked`` is set while it
    has debt: devices stop accepting its passes offline until a top-up clears the debt.
    """

    __tablename__ = "wallets"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id"),
        Index("ix_wallets_event_id_changed_at", "event_id", "changed_at"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True, default=None
    )
    status: Mapped[WalletStatus] = mapped_column(_enum(WalletStatus), default=WalletStatus.active)
    offline_blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When its status or offline block last changed: devices download only the changes.
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class WalletPass(IdMixin, Base):
    """A wallet's credential: what a phone shows as a signed QR and a wristband carries as
    a short printed ``code``. Lost: it is revoked and a new one issued; the money stays
    in the wallet. The QR itself is signed afresh each time it is fetched
    (``passes.sign_pass``: short validity, the offline caps inside)."""

    __tablename__ = "wallet_passes"
    __table_args__ = (
        UniqueConstraint("event_id", "code"),
        Index("ix_wallet_passes_event_id_changed_at", "event_id", "changed_at"),
    )

    wallet_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wallets.id"), index=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"))
    code: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    revoke_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- stands, products, cash registers ------------------------------------------------------


class StandKind(StrEnum):
    bar = "bar"
    food = "food"
    merchandise = "merchandise"
    topup_desk = "topup_desk"


class Stand(IdMixin, Base):
    __tablename__ = "stands"
    __table_args__ = (UniqueConstraint("event_id", "name"),)

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[StandKind] = mapped_column(_enum(StandKind))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StandCashier(Base):
    """A member with the cashier role assigned to sell at a stand."""

    __tablename__ = "stand_cashiers"

    stand_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("stands.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)


class Product(IdMixin, Base):
    """What a stand sells, price including VAT. ``stock`` NULL is unlimited and never goes
    below zero (a CHECK, moved by a conditional update). A ``deposit`` item (a returnable
    cup) may be sold in a negative quantity: the cup given back."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price_minor >= 0", name="price_positive"),
        CheckConstraint("vat_rate_bp >= 0 AND vat_rate_bp <= 10000", name="vat_rate"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_positive"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"), index=True)
    stand_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stands.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    price_minor: Mapped[int] = mapped_column(BigInteger)
    # Basis points: 2000 is 20 %, 550 is 5.5 %.
    vat_rate_bp: Mapped[int] = mapped_column(Integer)
    category: Mapped[str | None] = mapped_column(String(50), default=None)
    stock: Mapped[int | None] = mapped_column(Integer, default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    deposit: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CashRegister(IdMixin, Base):
    """A cashier's shift of cash at a stand: opened, then closed with the counted cash
    (expected against counted; the difference is booked). ``open_key`` is
    ``"<stand>:<cashier>"`` while open and NULL once closed, unique: one open register per
    cashier and stand (a portable partial unique index)."""

    __tablename__ = "cash_registers"

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"), index=True)
    stand_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stands.id"), index=True)
    cashier_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    open_key: Mapped[str | None] = mapped_column(String(80), unique=True, default=None)
    opening_float_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    expected_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    counted_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)


class PosDevice(Base):
    """A gate device (``checkin_devices``: its token, its member, its clock offset) paired
    as a point of sale of one stand, and what its offline uploads brought: the
    reconciliation's per-device figures."""

    __tablename__ = "pos_devices"

    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checkin_devices.id"), primary_key=True)
    stand_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stands.id"), index=True)
    sales_received: Mapped[int] = mapped_column(BigInteger, default=0)
    duplicates: Mapped[int] = mapped_column(BigInteger, default=0)
    refused: Mapped[int] = mapped_column(BigInteger, default=0)
    last_upload_at: Mapped[datetime | None] = mapped_column(default=None)


# --- the ledger ---------------------------------------------------------------------------


class AccountKind(StrEnum):
    wallet = "wallet"  # what the festival owes one attendee (>= 0)
    wallet_debt = "wallet_debt"  # what one attendee owes from offline sales (<= 0)
    sales = "sales"  # a stand's takings, in shards (docs/cashless.md, "The hot account")
    online_payments = "online_payments"  # held by the payment provider (negative)
    card_terminal = "card_terminal"  # card payments taken at a desk (negative)
    cash_register = "cash_register"  # cash in one register (negative: cash held)
    cash_vault = "cash_vault"  # cash brought back from the registers (negative)
    cash_imbalance = "cash_imbalance"  # counted minus expected at close-outs
    bank_payouts = "bank_payouts"  # leftovers paid back by bank transfer
    fees = "fees"  # refund fees kept
    unclaimed = "unclaimed"  # leftovers nobody claimed in the window
    offline_loss = "offline_loss"  # debt written off at the close
    # Refunded at the payment provider (its dashboard) beyond what the wallet still held:
    # money the attendee had spent, the organizer's loss (negative).
    provider_refunds = "provider_refunds"


NON_NEGATIVE_KINDS = frozenset({AccountKind.wallet})
NON_POSITIVE_KINDS = frozenset({AccountKind.wallet_debt})


class LedgerAccount(IdMixin, Base):
    """One account of an event's ledger, found by its ``key`` (``"wallet:<id>"``,
    ``"sales:<stand>:<shard>"``, ``"online_payments"``): unique per event."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("event_id", "key"),
        CheckConstraint("kind <> 'wallet' OR balance_minor >= 0", name="wallet_not_negative"),
        CheckConstraint("kind <> 'wallet_debt' OR balance_minor <= 0", name="debt_not_positive"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"), index=True)
    kind: Mapped[AccountKind] = mapped_column(_enum(AccountKind))
    key: Mapped[str] = mapped_column(String(120))
    wallet_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("wallets.id"), index=True, default=None
    )
    stand_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("stands.id"), index=True, default=None
    )
    cash_register_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cash_registers.id"), index=True, default=None
    )
    balance_minor: Mapped[int] = mapped_column(BigInteger, default=0)


class EntryKind(StrEnum):
    topup = "topup"
    sale = "sale"
    reversal = "reversal"
    debt_payment = "debt_payment"  # part of a top-up that pays the wallet's debt
    register_close = "register_close"
    payout = "payout"  # a leftover paid back (card refund or bank transfer)
    unclaimed = "unclaimed"  # a leftover booked at the end of the window
    write_off = "write_off"  # debt written off at the close


class EntryOrigin(StrEnum):
    online = "online"  # a cashier's or attendee's call, answered at once
    offline = "offline"  # uploaded by a device that took it without a network
    provider = "provider"  # a payment provider's confirmation
    organizer = "organizer"  # the organizer's own act (close-out, write-off)


class JournalEntry(IdMixin, Base):
    """One movement of money: its transfers balance by construction. Never edited: a
    mistake is reversed by a new entry (``reverses_entry_id``, unique: at most once).

    ``(event_id, idempotency_key)`` is unique: a retried call, a duplicated upload or an
    online attempt replayed from the offline queue finds the entry made the first time
    and answers ``answer`` (what the first call answered), never a second entry.
    ``request_hash`` tells a replay from another request reusing the key.
    """

    __tablename__ = "journal_entries"
    __table_args__ = (
        UniqueConstraint("event_id", "idempotency_key"),
        Index("ix_journal_entries_event_id_recorded_at", "event_id", "recorded_at"),
        Index("ix_journal_entries_wallet_id_recorded_at", "wallet_id", "recorded_at"),
        Index("ix_journal_entries_device_id_device_seq", "device_id", "device_seq"),
        CheckConstraint("amount_minor >= 0", name="amount_positive"),
        CheckConstraint("shortfall_minor >= 0", name="shortfall_positive"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"))
    kind: Mapped[EntryKind] = mapped_column(_enum(EntryKind))
    origin: Mapped[EntryOrigin] = mapped_column(_enum(EntryOrigin))
    idempotency_key: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    # The headline amount: a sale's total, a top-up's amount, a payout's amount.
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    # An offline sale the wallet could not cover: the part booked as debt.
    shortfall_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # Why an entry deserves a look: "revoked_pass" (an offline sale on a revoked pass).
    flag: Mapped[str | None] = mapped_column(String(30), default=None)
    wallet_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("wallets.id"), default=None)
    pass_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("wallet_passes.id"), default=None)
    stand_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("stands.id"), index=True, default=None
    )
    cash_register_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cash_registers.id"), default=None
    )
    operator_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("checkin_devices.id"), default=None
    )
    device_seq: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # When it happened (a device's clock, corrected by its offset) and when it was booked.
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    reverses_entry_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("journal_entries.id"), unique=True, default=None
    )
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class LedgerTransfer(IdMixin, Base):
    """``amount_minor`` (> 0) moved from ``source_account_id`` to ``target_account_id``."""

    __tablename__ = "ledger_transfers"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("source_account_id <> target_account_id", name="two_accounts"),
    )

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    source_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_accounts.id"), index=True
    )
    target_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_accounts.id"), index=True
    )
    amount_minor: Mapped[int] = mapped_column(BigInteger)


class SaleLine(Base):
    """One line of a sale, its price and VAT as they were (products change later)."""

    __tablename__ = "sale_lines"
    __table_args__ = (
        CheckConstraint("quantity <> 0", name="quantity_not_zero"),
        Index("ix_sale_lines_product_id", "product_id"),
    )

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journal_entries.id"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    name: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    vat_rate_bp: Mapped[int] = mapped_column(Integer)
    # quantity x unit price, and the VAT it includes (rounded half up, once, here).
    total_minor: Mapped[int] = mapped_column(BigInteger)
    vat_minor: Mapped[int] = mapped_column(BigInteger)


# --- top-ups -----------------------------------------------------------------------------


class TopupChannel(StrEnum):
    online = "online"  # by the attendee, through a payment provider
    cash = "cash"  # at a top-up desk, into its cash register
    card = "card"  # at a top-up desk, on its card terminal


class TopupStatus(StrEnum):
    pending = "pending"  # an online top-up waiting for its payment
    credited = "credited"
    failed = "failed"


class WalletTopup(IdMixin, Base):
    """Money put into a wallet. An online top-up is a payment's purpose
    (``payments.purposes``, "wallet_topup"): credited when the payment succeeds."""

    __tablename__ = "wallet_topups"
    __table_args__ = (CheckConstraint("amount_minor > 0", name="amount_positive"),)

    wallet_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wallets.id"), index=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"), index=True)
    channel: Mapped[TopupChannel] = mapped_column(_enum(TopupChannel))
    status: Mapped[TopupStatus] = mapped_column(_enum(TopupStatus), default=TopupStatus.pending)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    entry_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("journal_entries.id"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    credited_at: Mapped[datetime | None] = mapped_column(default=None)


# --- leftover refunds (payouts) ------------------------------------------------------------


class PayoutStatus(StrEnum):
    pending = "pending"  # its bank part waits for the organizer's transfer (SEPA export)
    exported = "exported"  # its bank part is in a SEPA credit transfer file
    completed = "completed"  # all of it went back to the card: nothing left to do


class PayoutExport(IdMixin, Base):
    """A SEPA credit transfer file (pain.001) of bank payouts, kept as made: downloaded
    again, never regenerated (its payouts are marked with its id, exported once)."""

    __tablename__ = "payout_exports"

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"), index=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    payouts: Mapped[int] = mapped_column(Integer)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    xml: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WalletPayout(IdMixin, Base):
    """A wallet's leftover paid back after the event: at most one per wallet (unique),
    booked as one ``payout`` entry (``entry_id``). ``card_minor`` went back to the card
    through the provider at once (``card_refunds``: payment, refund, amount each);
    ``bank_minor`` is owed by bank transfer to ``iban`` until exported. The fee was kept,
    the debt settled first."""

    __tablename__ = "wallet_payouts"
    __table_args__ = (
        Index("ix_wallet_payouts_event_id_status", "event_id", "status"),
        CheckConstraint("card_minor >= 0 AND bank_minor >= 0", name="parts_positive"),
        CheckConstraint("amount_minor = card_minor + bank_minor", name="parts_add_up"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("bank_minor = 0 OR iban IS NOT NULL", name="bank_has_iban"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"))
    wallet_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wallets.id"), unique=True)
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    status: Mapped[PayoutStatus] = mapped_column(_enum(PayoutStatus))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # paid back: card + bank
    card_minor: Mapped[int] = mapped_column(BigInteger)
    bank_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    debt_settled_minor: Mapped[int] = mapped_column(BigInteger)
    card_refunds: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    account_holder: Mapped[str | None] = mapped_column(String(70), default=None)
    iban: Mapped[str | None] = mapped_column(String(34), default=None)
    bic: Mapped[str | None] = mapped_column(String(11), default=None)
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journal_entries.id"))
    export_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("payout_exports.id"), index=True, default=None
    )
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    exported_at: Mapped[datetime | None] = mapped_column(default=None)
