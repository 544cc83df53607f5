"""Offline sales uploaded in batches (issue 17, point 6; docs/cashless.md, "Offline sales").

A point of sale with no network checks the pass on the device (signature, validity,
revocation list, caps), takes the sale and queues it. At upload the sale **is always
booked** (it happened): what the wallet holds pays it, the rest becomes the wallet's
debt, and a wallet with debt is blocked for offline use until a top-up clears it. A sale
on a pass revoked before the sale is booked too, flagged ``revoked_pass``. Only a sale
the device could not have accepted (a pass that is not this event's, a forged one, an
unknown product) is refused, and reported.

Exactly once per idempotency key, however a batch is repeated, split or reordered, and
whether or not the sale's online attempt got through first (it used the same key): the
entries are claimed first (one ``INSERT ... ON CONFLICT DO NOTHING RETURNING``), and only
the sales whose claim inserted a row are booked. Then, in the ledger's lock order, the
wallets' accounts are locked, each claimed sale is split between the wallet and its debt
in the order the sales happened, stock is taken (never below zero), and everything is
posted at once (``ledger.post_entries``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, insert, select, update
from sqlalchemy.orm import Session

from admitone.cashless import ledger, passes, pos
from admitone.cashless.errors import PassInvalid
from admitone.cashless.models import (
    EntryKind,
    EntryOrigin,
    JournalEntry,
    PosDevice,
    Product,
    SaleLine,
    Wallet,
    WalletPass,
)
from admitone.checkin.models import CheckinDevice
from admitone.db import insert_returning, utcnow
from admitone.errors import DomainError, InvalidInput
from admitone.tickets.signing import KeyRing

MAX_BATCH = 500
MAX_CLOCK_OFFSET_MS = 2**31 - 1
FLAG_REVOKED = "revoked_pass"  # a sale on a pass revoked before it


class OfflineProductUnknown(InvalidInput):
    code = "OFFLINE_PRODUCT_UNKNOWN"
    message = "A sale names a product this stand does not have."


class OfflineSaleEmpty(InvalidInput):
    code = "OFFLINE_SALE_EMPTY"
    message = "A sale must have at least one line and a total above zero."


@dataclass(frozen=True, slots=True)
class OfflineLine:
    product_id: uuid.UUID
    quantity: int
    unit_price_minor: int  # what the device charged: the sale is booked at that price


@dataclass(frozen=True, slots=True)
class OfflineSale:
    idempotency_key: str
    device_seq: int
    occurred_at: datetime  # the device's clock
    stand_id: uuid.UUID
    shown: str  # the pass QR the device verified
    lines: tuple[OfflineLine, ...]

    @property
    def total_minor(self) -> int:
        return sum(line.quantity * line.unit_price_minor for line in self.lines)


@dataclass(frozen=True, slots=True)
class UnreadableSale:
    """An item of a batch whose fields are wrong: refused alone, the others booked."""

    idempotency_key: str  # as sent ("" when it had none)
    error: DomainError


class SaleStatus(StrEnum):
    booked = "booked"  # paid from the wallet
    booked_with_debt = "booked_with_debt"  # the wallet could not cover all of it
    duplicate = "duplicate"  # booked before (an earlier upload, or its online attempt)
    refused = "refused"  # never booked: see the error


@dataclass(frozen=True, slots=True)
class SaleResult:
    idempotency_key: str
    status: SaleStatus
    entry_id: uuid.UUID | None = None
    amount_minor: int = 0
    shortfall_minor: int = 0
    flag: str | None = None
    error: DomainError | None = None


@dataclass(frozen=True, slots=True)
class BatchAnswer:
    results: list[SaleResult]
    clock_offset_ms: int


@dataclass(slots=True)
class _Claim:
    index: int
    sale: OfflineSale
    entry_id: uuid.UUID
    wallet_id: uuid.UUID
    pass_id: uuid.UUID
    at: datetime
    flag: str | None
    moves: list[ledger.Move] = field(default_factory=list)
    shortfall: int = 0


def upload_sales(
    session: Session,
    *,
    event_id: uuid.UUID,
    device_id: uuid.UUID,
    operator_id: uuid.UUID | None,
    keys: KeyRing,
    device_time: datetime,
    sales: Sequence[OfflineSale | UnreadableSale],
) -> BatchAnswer:
    """Book a device's offline sales, each exactly once; one result per sale, in the
    order sent. Notes the device's clock offset (the server's time minus
    ``device_time``) and corrects the sales' times by it."""
    now = utcnow()
    offset_ms = int((now - device_time) / timedelta(milliseconds=1))
    offset_ms = max(-MAX_CLOCK_OFFSET_MS, min(MAX_CLOCK_OFFSET_MS, offset_ms))
    offset = timedelta(milliseconds=offset_ms)
    session.execute(
        update(CheckinDevice)
        .where(CheckinDevice.id == device_id)
        .values(clock_offset_ms=offset_ms, last_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    results: list[SaleResult | None] = [None] * len(sales)

    # Pass 1, no writes: what each sale names must be this event's.
    read = {index: sale for index, sale in enumerate(sales) if isinstance(sale, OfflineSale)}
    for index, sale in enumerate(sales):
        if isinstance(sale, UnreadableSale):
            results[index] = SaleResult(sale.idempotency_key, SaleStatus.refused, error=sale.error)
    found = _passes_shown(session, keys, event_id=event_id, sales=read)
    products = _products(session, event_id=event_id, sales=list(read.values()))
    readable: list[tuple[int, OfflineSale, WalletPass]] = []
    for index, sale in read.items():
        wallet_pass = found.get(index)
        error: DomainError | None = None
        if wallet_pass is None:
            error = PassInvalid()
        elif not sale.lines or sale.total_minor <= 0:
            error = OfflineSaleEmpty()
        elif any(
            line.product_id not in products or products[line.product_id].stand_id != sale.stand_id
            for line in sale.lines
        ):
            error = OfflineProductUnknown()
        if error is not None or wallet_pass is None:
            results[index] = SaleResult(sale.idempotency_key, SaleStatus.refused, error=error)
        else:
            readable.append((index, sale, wallet_pass))

    # Pass 2: claim every new key with ONE insert, in key order.
    claims: dict[str, _Claim] = {}
    rows: list[dict[str, Any]] = []
    for index, sale, wallet_pass in sorted(readable, key=lambda item: item[1].idempotency_key):
        if sale.idempotency_key in claims:
            continue  # twice in one batch: the second is a duplicate of the first
        at = sale.occurred_at + offset
        revoked = wallet_pass.revoked_at is not None and wallet_pass.revoked_at <= at
        claim = _Claim(
            index=index,
            sale=sale,
            entry_id=uuid.uuid4(),
            wallet_id=wallet_pass.wallet_id,
            pass_id=wallet_pass.id,
            at=at,
            flag=FLAG_REVOKED if revoked else None,
        )
        claims[sale.idempotency_key] = claim
        rows.append(
            {
                "id": claim.entry_id,
                "event_id": event_id,
                "kind": EntryKind.sale,
                "origin": EntryOrigin.offline,
                "idempotency_key": sale.idempotency_key,
                "request_hash": None,
                "amount_minor": sale.total_minor,
                "shortfall_minor": 0,
                "flag": claim.flag,
                "wallet_id": claim.wallet_id,
                "pass_id": claim.pass_id,
                "stand_id": sale.stand_id,
                "operator_id": operator_id,
                "device_id": device_id,
                "device_seq": sale.device_seq,
                "occurred_at": at,
                "recorded_at": now,
            }
        )
    inserted = (
        {row[0] for row in insert_returning(session, JournalEntry, rows, JournalEntry.id)}
        if rows
        else set()
    )
    booked = [claim for claim in claims.values() if claim.entry_id in inserted]

    # Pass 3: the wallets' accounts locked, each sale split in the order sales happened.
    accounts = ledger.lock_wallet_accounts(
        session, wallet_ids=[claim.wallet_id for claim in booked]
    )
    shards = ledger.sales_shards(
        event_id=event_id, stand_ids=[claim.sale.stand_id for claim in booked]
    )
    left = {wallet_id: balance for wallet_id, (_w, balance, _d, _b) in accounts.items()}
    in_debt: set[uuid.UUID] = set()
    for claim in sorted(booked, key=lambda claim: (claim.at, claim.sale.device_seq)):
        wallet_account, _balance, debt, _debt_balance = accounts[claim.wallet_id]
        sales_account = shards[claim.sale.stand_id][claim.entry_id.int % ledger.SALES_SHARDS]
        total = claim.sale.total_minor
        paid = min(left[claim.wallet_id], total)
        left[claim.wallet_id] -= paid
        claim.shortfall = total - paid
        if paid:
            claim.moves.append(ledger.Move(wallet_account, sales_account, paid))
        if claim.shortfall:
            claim.moves.append(ledger.Move(debt, sales_account, claim.shortfall))
            in_debt.add(claim.wallet_id)
    _take_stock(session, booked)
    ledger.post_entries(session, [(claim.entry_id, claim.moves) for claim in booked])
    _record_lines(session, booked, products_named=products)
    short = [claim for claim in booked if claim.shortfall]
    if short:
        entries = cast(Table, JournalEntry.__table__)
        session.execute(
            update(entries)
            .where(entries.c.id == bindparam("entry"))
            .values(shortfall_minor=bindparam("shortfall")),
            [{"entry": claim.entry_id, "shortfall": claim.shortfall} for claim in short],
        )
    if in_debt:
        session.execute(
            update(Wallet)
            .where(Wallet.id.in_(sorted(in_debt)))
            .values(offline_blocked=True, changed_at=now)
            .execution_options(synchronize_session=False)
        )

    for claim in booked:
        results[claim.index] = SaleResult(
            claim.sale.idempotency_key,
            SaleStatus.booked_with_debt if claim.shortfall else SaleStatus.booked,
            entry_id=claim.entry_id,
            amount_minor=claim.sale.total_minor,
            shortfall_minor=claim.shortfall,
            flag=claim.flag,
        )
    _fill_duplicates(session, event_id=event_id, sales=sales, results=results)
    statuses = [cast(SaleResult, result).status for result in results]
    session.execute(
        update(PosDevice)
        .where(PosDevice.device_id == device_id)
        .values(
            sales_received=PosDevice.sales_received + len(booked),
            duplicates=PosDevice.duplicates + statuses.count(SaleStatus.duplicate),
            refused=PosDevice.refused + statuses.count(SaleStatus.refused),
            last_upload_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return BatchAnswer(
        results=[cast(SaleResult, result) for result in results], clock_offset_ms=offset_ms
    )


def _passes_shown(
    session: Session, keys: KeyRing, *, event_id: uuid.UUID, sales: dict[int, OfflineSale]
) -> dict[int, WalletPass]:
    """The pass each sale's QR names, when the QR is this event's and well signed
    (revoked passes included: the sale is booked and flagged)."""
    key = keys.find(session, event_id)
    named: dict[int, uuid.UUID] = {}
    for index, sale in sales.items():
        claims = passes.parse_pass(sale.shown)
        if (
            claims is not None
            and key is not None
            and claims.event_id == event_id
            and passes.verify(key.public_key, claims)
        ):
            named[index] = claims.pass_id
    if not named:
        return {}
    rows = session.scalars(
        select(WalletPass).where(
            WalletPass.event_id == event_id, WalletPass.id.in_(set(named.values()))
        )
    ).all()
    by_id = {row.id: row for row in rows}
    return {index: by_id[pass_id] for index, pass_id in named.items() if pass_id in by_id}


def _products(
    session: Session, *, event_id: uuid.UUID, sales: Sequence[OfflineSale]
) -> dict[uuid.UUID, Product]:
    """The products the sales name (this event's only), by id."""
    named = {line.product_id for sale in sales for line in sale.lines}
    if not named:
        return {}
    return {
        row.id: row
        for row in session.scalars(
            select(Product).where(Product.event_id == event_id, Product.id.in_(named))
        )
    }


def _take_stock(session: Session, booked: list[_Claim]) -> None:
    """Stock taken by the sales (given back by returned deposits), per product in id
    order; never below zero: what was sold offline beyond the count was there after all."""
    taken: dict[uuid.UUID, int] = defaultdict(int)
    for claim in booked:
        for line in claim.sale.lines:
            taken[line.product_id] += line.quantity
    for product_id in sorted(taken):
        quantity = taken[product_id]
        session.execute(
            update(Product)
            .where(Product.id == product_id, Product.stock.is_not(None))
            .values(stock=case((Product.stock >= quantity, Product.stock - quantity), else_=0))
            .execution_options(synchronize_session=False)
        )


def _record_lines(
    session: Session, booked: list[_Claim], *, products_named: dict[uuid.UUID, Product]
) -> None:
    rows = []
    for claim in booked:
        for number, line in enumerate(claim.sale.lines, start=1):
            product = products_named[line.product_id]
            total = line.quantity * line.unit_price_minor
            rows.append(
                {
                    "entry_id": claim.entry_id,
                    "line_no": number,
                    "product_id": product.id,
                    "name": product.name,
                    "quantity": line.quantity,
                    "unit_price_minor": line.unit_price_minor,
                    "vat_rate_bp": product.vat_rate_bp,
                    "total_minor": total,
                    "vat_minor": pos.vat_included(total, product.vat_rate_bp),
                }
            )
    if rows:
        session.execute(insert(SaleLine), rows)


def _fill_duplicates(
    session: Session,
    *,
    event_id: uuid.UUID,
    sales: Sequence[OfflineSale | UnreadableSale],
    results: list[SaleResult | None],
) -> None:
    """The sales booked before (their key had an entry): what that entry booked."""
    waiting = {sales[index].idempotency_key: index for index, r in enumerate(results) if r is None}
    if not waiting:
        return
    rows = session.execute(
        select(
            JournalEntry.idempotency_key,
            JournalEntry.id,
            JournalEntry.amount_minor,
            JournalEntry.shortfall_minor,
            JournalEntry.flag,
        ).where(
            JournalEntry.event_id == event_id,
            JournalEntry.idempotency_key.in_(list(waiting)),
        )
    )
    first = {row.idempotency_key: row for row in rows}
    for index, result in enumerate(results):
        if result is not None:
            continue
        row = first[sales[index].idempotency_key]
        results[index] = SaleResult(
            sales[index].idempotency_key,
            SaleStatus.duplicate,
            entry_id=row.id,
            amount_minor=row.amount_minor,
            shortfall_minor=row.shortfall_minor,
            flag=row.flag,
        )
