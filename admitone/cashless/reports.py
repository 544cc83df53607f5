"""Cashless reports and the reconciliation (issue 17, point 8; docs/cashless.md,
"Reports").

Every figure is read from the ledger and its sale lines as they are now (live), in minor
units of the event's currency. Sales are net of reversals: a reversed sale and its
reversal are both left out. Hours are the event's local hours.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from admitone.cashless import ledger
from admitone.cashless.models import (
    AccountKind,
    CashRegister,
    EntryKind,
    EntryOrigin,
    JournalEntry,
    LedgerAccount,
    PosDevice,
    Product,
    SaleLine,
    Stand,
    TopupChannel,
    TopupStatus,
    WalletTopup,
)
from admitone.cashless.topups import TOPUP_PURPOSE
from admitone.checkin.models import CheckinDevice
from admitone.events.models import Event
from admitone.payments.models import Payment, PaymentStatus
from admitone.spreadsheets import csv_text


class SalesGrouping(StrEnum):
    stand = "stand"
    product = "product"
    hour = "hour"
    vat_rate = "vat_rate"


@dataclass(frozen=True, slots=True)
class SalesRow:
    label: str  # the stand, the product, the hour ("2026-07-14 21:00") or the rate ("20.00 %")
    sales: int  # sales with at least one line here
    quantity: int
    total_minor: int
    vat_minor: int


def _kept_sales(event_id: uuid.UUID) -> Any:
    """The sale entries of the event that no reversal undid."""
    reversal = aliased(JournalEntry)
    return (
        select(JournalEntry.id)
        .outerjoin(reversal, reversal.reverses_entry_id == JournalEntry.id)
        .where(
            JournalEntry.event_id == event_id,
            JournalEntry.kind == EntryKind.sale,
            reversal.id.is_(None),
        )
    )


def sales(session: Session, *, event: Event, by: SalesGrouping) -> list[SalesRow]:
    kept = _kept_sales(event.id).subquery()
    base = (
        select(
            SaleLine.entry_id,
            SaleLine.quantity,
            SaleLine.total_minor,
            SaleLine.vat_minor,
            SaleLine.vat_rate_bp,
            SaleLine.product_id,
            JournalEntry.stand_id,
            JournalEntry.occurred_at,
        )
        .join(kept, kept.c.id == SaleLine.entry_id)
        .join(JournalEntry, JournalEntry.id == SaleLine.entry_id)
    )
    names: dict[Any, str] = {}
    if by == SalesGrouping.stand:
        names = {
            row.id: row.name
            for row in session.execute(
                select(Stand.id, Stand.name).where(Stand.event_id == event.id)
            )
        }
    elif by == SalesGrouping.product:
        names = {
            row.id: row.name
            for row in session.execute(
                select(Product.id, Product.name).where(Product.event_id == event.id)
            )
        }
    zone = ZoneInfo(event.timezone)
    groups: dict[Any, dict[str, Any]] = defaultdict(
        lambda: {"entries": set(), "quantity": 0, "total": 0, "vat": 0}
    )
    # Grouped here rather than in SQL: an hour in the event's zone is one expression
    # on both databases, and a festival's lines are a few hundred thousand at most.
    for row in session.execute(base):
        if by == SalesGrouping.stand:
            key: Any = row.stand_id
        elif by == SalesGrouping.product:
            key = row.product_id
        elif by == SalesGrouping.vat_rate:
            key = row.vat_rate_bp
        else:
            key = row.occurred_at.astimezone(zone).replace(minute=0, second=0, microsecond=0)
        group = groups[key]
        group["entries"].add(row.entry_id)
        group["quantity"] += row.quantity
        group["total"] += row.total_minor
        group["vat"] += row.vat_minor
    rows = []
    for key, group in groups.items():
        if by == SalesGrouping.vat_rate:
            label = f"{key / 100:.2f} %"
        elif by == SalesGrouping.hour:
            label = key.strftime("%Y-%m-%d %H:00")
        else:
            label = names.get(key, str(key))
        rows.append(
            SalesRow(label, len(group["entries"]), group["quantity"], group["total"], group["vat"])
        )
    if by in (SalesGrouping.hour, SalesGrouping.vat_rate):
        return sorted(rows, key=lambda row: row.label)
    return sorted(rows, key=lambda row: (-row.total_minor, row.label))


@dataclass(frozen=True, slots=True)
class TopupRow:
    channel: TopupChannel
    count: int
    total_minor: int


def topups(session: Session, *, event_id: uuid.UUID) -> list[TopupRow]:
    rows = session.execute(
        select(
            WalletTopup.channel, func.count(), func.coalesce(func.sum(WalletTopup.amount_minor), 0)
        )
        .where(WalletTopup.event_id == event_id, WalletTopup.status == TopupStatus.credited)
        .group_by(WalletTopup.channel)
    ).all()
    found = {TopupChannel(channel): (count, int(total)) for channel, count, total in rows}
    return [TopupRow(channel, *found.get(channel, (0, 0))) for channel in TopupChannel]


@dataclass(frozen=True, slots=True)
class RegisterRow:
    register_id: uuid.UUID
    stand: str
    opened_at: datetime
    closed_at: datetime | None
    opening_float_minor: int
    expected_minor: int | None
    counted_minor: int | None

    @property
    def difference_minor(self) -> int | None:
        if self.expected_minor is None or self.counted_minor is None:
            return None
        return self.counted_minor - self.expected_minor


def registers(session: Session, *, event_id: uuid.UUID) -> list[RegisterRow]:
    rows = session.execute(
        select(CashRegister, Stand.name)
        .join(Stand, Stand.id == CashRegister.stand_id)
        .where(CashRegister.event_id == event_id)
        .order_by(CashRegister.opened_at.desc())
    )
    return [
        RegisterRow(
            register.id,
            stand,
            register.opened_at,
            register.closed_at,
            register.opening_float_minor,
            register.expected_minor,
            register.counted_minor,
        )
        for register, stand in rows
    ]


@dataclass(frozen=True, slots=True)
class Liability:
    """Money owed to and by attendees, and where the rest went (minor units, >= 0)."""

    wallets_minor: int  # still owed to attendees
    debt_minor: int  # owed by attendees (offline sales beyond their balance)
    written_off_minor: int
    sales_minor: int
    paid_back_minor: int  # leftovers paid back by bank transfer
    fees_minor: int
    unclaimed_minor: int
    cash_imbalance_minor: int  # counted minus expected, all close-outs


def liability(session: Session, *, event_id: uuid.UUID) -> Liability:
    sums = {
        AccountKind(row.kind): int(row.total or 0)
        for row in session.execute(
            select(LedgerAccount.kind, func.sum(LedgerAccount.balance_minor).label("total"))
            .where(LedgerAccount.event_id == event_id)
            .group_by(LedgerAccount.kind)
        )
    }

    def total(kind: AccountKind) -> int:
        return sums.get(kind, 0)

    return Liability(
        wallets_minor=total(AccountKind.wallet),
        debt_minor=-total(AccountKind.wallet_debt),
        written_off_minor=-total(AccountKind.offline_loss),
        sales_minor=total(AccountKind.sales),
        paid_back_minor=total(AccountKind.bank_payouts),
        fees_minor=total(AccountKind.fees),
        unclaimed_minor=total(AccountKind.unclaimed),
        cash_imbalance_minor=total(AccountKind.cash_imbalance),
    )


@dataclass(frozen=True, slots=True)
class DeviceFigures:
    device_id: uuid.UUID
    name: str
    stand: str
    sales_received: int
    duplicates: int
    refused: int
    debts_created: int  # offline sales that left debt
    debt_created_minor: int
    sequence_gaps: int  # numbers missing between the device's first and last sale
    clock_offset_ms: int | None
    last_upload_at: datetime | None
    revoked: bool


def devices(session: Session, *, event_id: uuid.UUID) -> list[DeviceFigures]:
    offline_sales = (
        select(
            JournalEntry.device_id,
            func.count().label("count"),
            func.min(JournalEntry.device_seq).label("first"),
            func.max(JournalEntry.device_seq).label("last"),
            func.count(func.distinct(JournalEntry.device_seq)).label("numbers"),
            func.sum(JournalEntry.shortfall_minor).label("shortfall"),
        )
        .where(
            JournalEntry.event_id == event_id,
            JournalEntry.origin == EntryOrigin.offline,
            JournalEntry.device_id.is_not(None),
        )
        .group_by(JournalEntry.device_id)
    ).subquery()
    with_debt = (
        select(JournalEntry.device_id, func.count().label("count"))
        .where(
            JournalEntry.event_id == event_id,
            JournalEntry.origin == EntryOrigin.offline,
            JournalEntry.shortfall_minor > 0,
        )
        .group_by(JournalEntry.device_id)
    ).subquery()
    rows = session.execute(
        select(
            PosDevice,
            CheckinDevice.name,
            CheckinDevice.clock_offset_ms,
            CheckinDevice.revoked_at,
            Stand.name.label("stand"),
            offline_sales.c.first,
            offline_sales.c.last,
            offline_sales.c.numbers,
            offline_sales.c.shortfall,
            with_debt.c.count.label("debts"),
        )
        .join(CheckinDevice, CheckinDevice.id == PosDevice.device_id)
        .join(Stand, Stand.id == PosDevice.stand_id)
        .outerjoin(offline_sales, offline_sales.c.device_id == PosDevice.device_id)
        .outerjoin(with_debt, with_debt.c.device_id == PosDevice.device_id)
        .where(Stand.event_id == event_id)
        .order_by(Stand.name, CheckinDevice.name)
    )
    figures = []
    for row in rows:
        device: PosDevice = row[0]
        gaps = 0 if row.first is None else int(row.last) - int(row.first) + 1 - int(row.numbers)
        figures.append(
            DeviceFigures(
                device_id=device.device_id,
                name=row.name,
                stand=row.stand,
                sales_received=device.sales_received,
                duplicates=device.duplicates,
                refused=device.refused,
                debts_created=int(row.debts or 0),
                debt_created_minor=int(row.shortfall or 0),
                sequence_gaps=gaps,
                clock_offset_ms=row.clock_offset_ms,
                last_upload_at=device.last_upload_at,
                revoked=row.revoked_at is not None,
            )
        )
    return figures


@dataclass(frozen=True, slots=True)
class ProviderCheck:
    """Online top-ups against the payment provider's records (the payments table, which
    holds what the provider confirmed). ``paid_minor`` is net of refunds made since;
    a top-up refused at its payment's success was refunded at once and is not listed."""

    paid_minor: int  # the provider's payments of top-ups, net of refunds
    credited_minor: int  # online top-ups credited to wallets
    paid_not_credited: tuple[uuid.UUID, ...]  # payment ids: paid, kept, never credited
    credited_not_paid: tuple[uuid.UUID, ...]  # top-up ids: credited without a payment

    @property
    def matches(self) -> bool:
        return not self.paid_not_credited and not self.credited_not_paid


def provider_check(session: Session, *, event_id: uuid.UUID) -> ProviderCheck:
    online = (
        select(WalletTopup.id, WalletTopup.status, WalletTopup.amount_minor)
        .where(WalletTopup.event_id == event_id, WalletTopup.channel == TopupChannel.online)
        .subquery()
    )
    rows = session.execute(
        select(
            online.c.id,
            online.c.status,
            online.c.amount_minor,
            Payment.id.label("payment_id"),
            Payment.status.label("payment_status"),
            Payment.amount_minor.label("paid"),
            Payment.refunded_minor.label("refunded"),
        ).outerjoin(
            Payment,
            (Payment.purpose == TOPUP_PURPOSE)
            & (Payment.purpose_id == online.c.id)
            & (Payment.status.in_([PaymentStatus.succeeded, PaymentStatus.refunded])),
        )
    ).all()
    paid = credited = 0
    paid_not_credited: list[uuid.UUID] = []
    credited_not_paid: list[uuid.UUID] = []
    for row in rows:
        is_credited = row.status == TopupStatus.credited
        if row.payment_id is not None:
            paid += int(row.paid) - int(row.refunded)
            if not is_credited and row.payment_status == PaymentStatus.succeeded:
                paid_not_credited.append(row.payment_id)
        elif is_credited:
            credited_not_paid.append(row.id)
        if is_credited:
            credited += int(row.amount_minor)
    return ProviderCheck(paid, credited, tuple(paid_not_credited), tuple(credited_not_paid))


@dataclass(frozen=True, slots=True)
class Reconciliation:
    checked_at: datetime
    trial_balance: ledger.TrialBalance
    liability: Liability
    devices: list[DeviceFigures]
    provider: ProviderCheck


def reconciliation(session: Session, *, event_id: uuid.UUID) -> Reconciliation:
    return Reconciliation(
        checked_at=datetime.now(UTC),
        trial_balance=ledger.trial_balance(session, event_id=event_id),
        liability=liability(session, event_id=event_id),
        devices=devices(session, event_id=event_id),
        provider=provider_check(session, event_id=event_id),
    )


# --- CSV ------------------------------------------------------------------------------------


def sales_csv(rows: list[SalesRow], *, by: SalesGrouping) -> str:
    return csv_text(
        [by.value, "sales", "quantity", "total_minor", "vat_minor"],
        ([row.label, row.sales, row.quantity, row.total_minor, row.vat_minor] for row in rows),
    )


def topups_csv(rows: list[TopupRow]) -> str:
    return csv_text(
        ["channel", "count", "total_minor"],
        ([row.channel.value, row.count, row.total_minor] for row in rows),
    )


def registers_csv(rows: list[RegisterRow]) -> str:
    return csv_text(
        [
            "register_id",
            "stand",
            "opened_at",
            "closed_at",
            "opening_float_minor",
            "expected_minor",
            "counted_minor",
            "difference_minor",
        ],
        (
            [
                row.register_id,
                row.stand,
                row.opened_at.isoformat(),
                row.closed_at.isoformat() if row.closed_at else "",
                row.opening_float_minor,
                row.expected_minor,
                row.counted_minor,
                row.difference_minor,
            ]
            for row in rows
        ),
    )


def devices_csv(rows: list[DeviceFigures]) -> str:
    return csv_text(
        [
            "device_id",
            "name",
            "stand",
            "sales_received",
            "duplicates",
            "refused",
            "debts_created",
            "debt_created_minor",
            "sequence_gaps",
            "clock_offset_ms",
            "last_upload_at",
            "revoked",
        ],
        (
            [
                row.device_id,
                row.name,
                row.stand,
                row.sales_received,
                row.duplicates,
                row.refused,
                row.debts_created,
                row.debt_created_minor,
                row.sequence_gaps,
                row.clock_offset_ms,
                row.last_upload_at.isoformat() if row.last_upload_at else "",
                row.revoked,
            ]
            for row in rows
        ),
    )
