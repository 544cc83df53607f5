"""The cashless ledger: the only code that writes journal entries, transfers and account
balances (docs/cashless.md).

A use case (a sale, a top-up, a close-out) starts an entry under its idempotency key
(``begin_entry``: a replay finds the first entry and its answer instead), then posts
its moves (``post``): each account's balance moves by one conditional ``UPDATE`` that
refuses to take a wallet below zero or a debt above it, then the transfers are inserted.
All in the caller's unit of work: a refusal rolls the whole entry back.

Lock order: accounts are updated by rank, then id: an attendee's own accounts first
(wallet, debt), then a cash register (one cashier's), then the event's shared accounts,
and a stand's sales shards last (the hottest rows: held the shortest time). Every post
takes its row locks in that one order, so two posts never wait on each other in a cycle.

The hot account: every sale of a stand credits its takings. One row would queue all of
a stand's sales on its lock, so a stand's takings are ``SALES_SHARDS`` accounts
(``sales:<stand>:<n>``) and a sale credits the one its entry id picks; the stand's
takings are their sum.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from admitone.cashless.errors import AccountRefused, IdempotencyKeyReused
from admitone.cashless.models import (
    NON_NEGATIVE_KINDS,
    NON_POSITIVE_KINDS,
    AccountKind,
    EntryKind,
    EntryOrigin,
    JournalEntry,
    LedgerAccount,
    LedgerTransfer,
)
from admitone.db import insert_once

SALES_SHARDS = 8

_RANK = {
    AccountKind.wallet: 0,
    AccountKind.wallet_debt: 0,
    AccountKind.cash_register: 1,
    AccountKind.sales: 3,
}
_SHARED_RANK = 2


@dataclass(frozen=True, slots=True)
class AccountRef:
    """An account as a post needs it: its id, and its kind for the lock order."""

    id: uuid.UUID
    kind: AccountKind

    @property
    def rank(self) -> tuple[int, str]:
        return (_RANK.get(self.kind, _SHARED_RANK), str(self.id))


@dataclass(frozen=True, slots=True)
class Move:
    """``amount_minor`` (> 0) from ``source`` to ``target``."""

    source: AccountRef
    target: AccountRef
    amount_minor: int


@dataclass(frozen=True, slots=True)
class Replay:
    """An entry made earlier under the same idempotency key (and the same request)."""

    entry_id: uuid.UUID
    answer: dict[str, Any] | None


# --- accounts ------------------------------------------------------------------------------


def wallet_key(wallet_id: uuid.UUID) -> str:
    return f"wallet:{wallet_id}"


def debt_key(wallet_id: uuid.UUID) -> str:
    return f"wallet_debt:{wallet_id}"


def account_id(event_id: uuid.UUID, key: str) -> uuid.UUID:
    """An account's id, derived from its event and key: a use case names an account it
    knows is there (a wallet's, made with the wallet; a stand's sales shards, made with
    the stand) without a query for its id. The hot path of a sale reads none."""
    return uuid.uuid5(event_id, key)


def account(
    session: Session,
    *,
    event_id: uuid.UUID,
    kind: AccountKind,
    key: str | None = None,
    wallet_id: uuid.UUID | None = None,
    stand_id: uuid.UUID | None = None,
    cash_register_id: uuid.UUID | None = None,
) -> AccountRef:
    """The event's account ``key`` (an event-wide kind's key is the kind itself), made the
    first time it is needed. Two first times at once make one account: the insert does
    nothing on the unique ``(event_id, key)`` and both read the same row."""
    key = key or kind.value
    found = session.scalar(
        select(LedgerAccount.id).where(LedgerAccount.event_id == event_id, LedgerAccount.key == key)
    )
    if found is None:
        insert_once(
            session,
            LedgerAccount,
            {
                "id": account_id(event_id, key),
                "event_id": event_id,
                "kind": kind,
                "key": key,
                "wallet_id": wallet_id,
                "stand_id": stand_id,
                "cash_register_id": cash_register_id,
                "balance_minor": 0,
            },
        )
        found = session.scalar(
            select(LedgerAccount.id).where(
                LedgerAccount.event_id == event_id, LedgerAccount.key == key
            )
        )
        assert found is not None
    return AccountRef(found, kind)


def wallet_accounts(
    session: Session, *, event_id: uuid.UUID, wallet_id: uuid.UUID
) -> tuple[AccountRef, AccountRef]:
    """A wallet's own account and its debt account."""
    return (
        account(
            session,
            event_id=event_id,
            kind=AccountKind.wallet,
            key=wallet_key(wallet_id),
            wallet_id=wallet_id,
        ),
        account(
            session,
            event_id=event_id,
            kind=AccountKind.wallet_debt,
            key=debt_key(wallet_id),
            wallet_id=wallet_id,
        ),
    )


def known_wallet_accounts(
    *, event_id: uuid.UUID, wallet_id: uuid.UUID
) -> tuple[AccountRef, AccountRef]:
    """A wallet's account and debt account, which ``wallets.open_wallet`` made with it:
    named without a query."""
    return (
        AccountRef(account_id(event_id, wallet_key(wallet_id)), AccountKind.wallet),
        AccountRef(account_id(event_id, debt_key(wallet_id)), AccountKind.wallet_debt),
    )


def _sales_key(stand_id: uuid.UUID, shard: int) -> str:
    return f"sales:{stand_id}:{shard}"


def open_sales_shards(session: Session, *, event_id: uuid.UUID, stand_id: uuid.UUID) -> None:
    """Make a new stand's sales shards, in one insert: its sales name them by id
    (``sales_account``) and expect them there."""
    session.execute(
        insert(LedgerAccount),
        [
            {
                "id": account_id(event_id, _sales_key(stand_id, shard)),
                "event_id": event_id,
                "kind": AccountKind.sales,
                "key": _sales_key(stand_id, shard),
                "stand_id": stand_id,
                "balance_minor": 0,
            }
            for shard in range(SALES_SHARDS)
        ],
    )


def sales_account(*, event_id: uuid.UUID, stand_id: uuid.UUID, spread: uuid.UUID) -> AccountRef:
    """The shard of a stand's takings that the entry ``spread`` credits (made with the
    stand: ``open_sales_shards``)."""
    key = _sales_key(stand_id, spread.int % SALES_SHARDS)
    return AccountRef(account_id(event_id, key), AccountKind.sales)


def register_account(
    session: Session, *, event_id: uuid.UUID, cash_register_id: uuid.UUID
) -> AccountRef:
    return account(
        session,
        event_id=event_id,
        kind=AccountKind.cash_register,
        key=f"cash_register:{cash_register_id}",
        cash_register_id=cash_register_id,
    )


def balances(session: Session, accounts: Iterable[AccountRef]) -> dict[uuid.UUID, int]:
    ids = [ref.id for ref in accounts]
    rows = session.execute(
        select(LedgerAccount.id, LedgerAccount.balance_minor).where(LedgerAccount.id.in_(ids))
    )
    return {row.id: row.balance_minor for row in rows}


def lock_balance(session: Session, ref: AccountRef) -> int:
    """``ref``'s balance, its row locked until the unit of work ends (PostgreSQL; SQLite's
    write transaction holds the whole database already). For a use case that must read
    a balance before deciding its moves: an offline sale booked up to what is there."""
    balance = session.execute(
        select(LedgerAccount.balance_minor).where(LedgerAccount.id == ref.id).with_for_update()
    ).scalar_one()
    return int(balance)


def lock_wallet_accounts(
    session: Session, *, wallet_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[AccountRef, int, AccountRef, int]]:
    """For each wallet: its account and balance, its debt account and balance, every row
    locked in the ledger's order (rank 0, by id) until the unit of work ends."""
    rows = session.execute(
        select(
            LedgerAccount.id,
            LedgerAccount.kind,
            LedgerAccount.wallet_id,
            LedgerAccount.balance_minor,
        )
        .where(LedgerAccount.wallet_id.in_(list(set(wallet_ids))))
        .order_by(LedgerAccount.id)
        .with_for_update()
    ).all()
    found: dict[uuid.UUID, dict[AccountKind, tuple[AccountRef, int]]] = defaultdict(dict)
    for row in rows:
        kind = AccountKind(row.kind)
        found[row.wallet_id][kind] = (AccountRef(row.id, kind), int(row.balance_minor))
    return {
        wallet_id: (*kinds[AccountKind.wallet], *kinds[AccountKind.wallet_debt])
        for wallet_id, kinds in found.items()
    }


def sales_shards(
    *, event_id: uuid.UUID, stand_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[AccountRef]]:
    """Every shard of each stand's takings, in shard order: entry ``e`` of stand ``s``
    credits ``shards[s][e.int % SALES_SHARDS]``, as ``sales_account``."""
    return {
        stand_id: [
            AccountRef(account_id(event_id, _sales_key(stand_id, shard)), AccountKind.sales)
            for shard in range(SALES_SHARDS)
        ]
        for stand_id in set(stand_ids)
    }


# --- entries ------------------------------------------------------------------------------


def request_hash(request: Any) -> str:
    """A stable digest of a request's content: a replay under the same key must carry
    the same one."""
    text = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def begin_entry(
    session: Session,
    *,
    event_id: uuid.UUID,
    idempotency_key: str,
    kind: EntryKind,
    origin: EntryOrigin,
    amount_minor: int,
    request: Any = None,
    **fields: Any,
) -> uuid.UUID | Replay:
    """Insert an entry under ``idempotency_key``; its id, or the ``Replay`` of the entry
    that key made before (``IdempotencyKeyReused`` if that one was another request).

    On PostgreSQL a second call racing an uncommitted first one waits for it: if the
    first commits, the second replays it; if it rolls back (a refusal), the second
    inserts its own."""
    digest = request_hash(request) if request is not None else None
    entry_id = uuid.uuid4()
    inserted = insert_once(
        session,
        JournalEntry,
        {
            "id": entry_id,
            "event_id": event_id,
            "idempotency_key": idempotency_key,
            "request_hash": digest,
            "kind": kind,
            "origin": origin,
            "amount_minor": amount_minor,
            **fields,
        },
    )
    if inserted:
        return entry_id
    first = session.execute(
        select(JournalEntry.id, JournalEntry.request_hash, JournalEntry.answer).where(
            JournalEntry.event_id == event_id, JournalEntry.idempotency_key == idempotency_key
        )
    ).one()
    if first.request_hash != digest:
        raise IdempotencyKeyReused(idempotency_key=idempotency_key)
    return Replay(entry_id=first.id, answer=first.answer)


def set_entry(session: Session, entry_id: uuid.UUID, **values: Any) -> None:
    """Fill in what an entry learns once posted (its answer, its shortfall); nothing of
    its money: that is its transfers."""
    session.execute(
        update(JournalEntry)
        .where(JournalEntry.id == entry_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def post(session: Session, *, entry_id: uuid.UUID, moves: Sequence[Move]) -> dict[uuid.UUID, int]:
    """Book ``moves`` as ``entry_id``'s transfers; the new balance of every account moved.

    ``AccountRefused`` (naming the account) when a wallet would go below zero or a debt
    above it; the caller's unit of work then rolls the entry back."""
    return post_entries(session, [(entry_id, moves)])


def post_entries(
    session: Session, entries: Sequence[tuple[uuid.UUID, Sequence[Move]]]
) -> dict[uuid.UUID, int]:
    """``post`` for several entries at once (an offline batch): each account's balance
    moves once by the net of all their moves, and their transfers are one insert."""
    deltas: dict[AccountRef, int] = defaultdict(int)
    rows: list[dict[str, Any]] = []
    for entry_id, moves in entries:
        for move in moves:
            if move.amount_minor <= 0 or move.source.id == move.target.id:
                raise ValueError(f"not a transfer: {move}")
            deltas[move.source] -= move.amount_minor
            deltas[move.target] += move.amount_minor
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "entry_id": entry_id,
                    "source_account_id": move.source.id,
                    "target_account_id": move.target.id,
                    "amount_minor": move.amount_minor,
                }
            )
    after: dict[uuid.UUID, int] = {}
    for ref in sorted(deltas, key=lambda ref: ref.rank):
        after[ref.id] = _move_balance(session, ref, deltas[ref])
    if rows:
        session.execute(insert(LedgerTransfer), rows)
    return after


def _move_balance(session: Session, ref: AccountRef, delta: int) -> int:
    balance = LedgerAccount.balance_minor
    statement = update(LedgerAccount).where(LedgerAccount.id == ref.id)
    # The WHERE is evaluated on the locked, current row (PostgreSQL re-checks it after the
    # lock wait): a balance two sales race for is spent once.
    if delta < 0:
        statement = statement.where(
            or_(LedgerAccount.kind.not_in(NON_NEGATIVE_KINDS), balance + delta >= 0)
        )
    elif delta > 0:
        statement = statement.where(
            or_(LedgerAccount.kind.not_in(NON_POSITIVE_KINDS), balance + delta <= 0)
        )
    row = session.execute(
        statement.values(balance_minor=balance + delta)
        .returning(balance)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        if session.scalar(select(LedgerAccount.id).where(LedgerAccount.id == ref.id)) is None:
            # A programming error, not a refusal: an account named by id was never made.
            raise LookupError(f"no ledger account {ref.id} ({ref.kind.value})")
        raise AccountRefused(account_id=str(ref.id), kind=ref.kind.value)
    return int(row[0])


# --- the trial balance --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mismatch:
    account_id: uuid.UUID
    key: str
    cached_minor: int
    transfers_minor: int


@dataclass(frozen=True, slots=True)
class TrialBalance:
    """An event's ledger checked: the sum of every balance (zero), and each account
    whose cached balance differs from the sum of its transfers (none)."""

    accounts: int
    total_minor: int
    mismatches: tuple[Mismatch, ...]

    @property
    def balanced(self) -> bool:
        return self.total_minor == 0 and not self.mismatches


def trial_balance(session: Session, *, event_id: uuid.UUID) -> TrialBalance:
    received = (
        select(
            LedgerTransfer.target_account_id.label("account_id"),
            LedgerTransfer.amount_minor.label("amount"),
        )
        .join(LedgerAccount, LedgerAccount.id == LedgerTransfer.target_account_id)
        .where(LedgerAccount.event_id == event_id)
    )
    given = (
        select(
            LedgerTransfer.source_account_id.label("account_id"),
            (-LedgerTransfer.amount_minor).label("amount"),
        )
        .join(LedgerAccount, LedgerAccount.id == LedgerTransfer.source_account_id)
        .where(LedgerAccount.event_id == event_id)
    )
    movements = received.union_all(given).subquery()
    sums: dict[uuid.UUID, int] = {
        row.account_id: int(row.total)
        for row in session.execute(
            select(movements.c.account_id, func.sum(movements.c.amount).label("total")).group_by(
                movements.c.account_id
            )
        )
    }
    accounts = session.execute(
        select(LedgerAccount.id, LedgerAccount.key, LedgerAccount.balance_minor).where(
            LedgerAccount.event_id == event_id
        )
    ).all()
    mismatches = tuple(
        Mismatch(row.id, row.key, row.balance_minor, sums.get(row.id, 0))
        for row in accounts
        if row.balance_minor != sums.get(row.id, 0)
    )
    total = sum(row.balance_minor for row in accounts)
    return TrialBalance(accounts=len(accounts), total_minor=total, mismatches=mismatches)
