"""The ledger alone: entries, moves, the balances' rules, the trial balance (on SQLite and
PostgreSQL), and a real race for one wallet's money with a negative control."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from admitone.cashless import ledger
from admitone.cashless.errors import AccountRefused, IdempotencyKeyReused
from admitone.cashless.models import (
    AccountKind,
    EntryKind,
    EntryOrigin,
    JournalEntry,
    LedgerAccount,
    LedgerTransfer,
    Wallet,
)
from admitone.db import Database
from tests.factories import make_event, make_organization


def _event(database: Database) -> uuid.UUID:
    organization_id, _slug = make_organization(database)
    return make_event(database, organization_id=organization_id)


def _wallet(database: Database, event_id: uuid.UUID) -> tuple[ledger.AccountRef, ...]:
    with database.session() as session:
        wallet = Wallet(event_id=event_id)
        session.add(wallet)
        session.flush()
        wallet_account, debt = ledger.wallet_accounts(
            session, event_id=event_id, wallet_id=wallet.id
        )
        payments = ledger.account(session, event_id=event_id, kind=AccountKind.online_payments)
        return wallet_account, debt, payments


def _book(
    database: Database,
    event_id: uuid.UUID,
    moves: Callable[[uuid.UUID], list[ledger.Move]],
    *,
    key: str | None = None,
    request: object = None,
) -> uuid.UUID | ledger.Replay:
    with database.session() as session:
        started = ledger.begin_entry(
            session,
            event_id=event_id,
            idempotency_key=key or str(uuid.uuid4()),
            kind=EntryKind.sale,
            origin=EntryOrigin.online,
            amount_minor=0,
            request=request,
        )
        if isinstance(started, ledger.Replay):
            return started
        ledger.post(session, entry_id=started, moves=moves(started))
        ledger.set_entry(session, started, answer={"entry_id": str(started)})
        return started


def _balance(database: Database, ref: ledger.AccountRef) -> int:
    with database.session(write=False) as session:
        return ledger.balances(session, [ref])[ref.id]


def test_moves_keep_every_balance_equal_to_its_transfers_and_the_sum_at_zero(
    clean_database: Database,
) -> None:
    event_id = _event(clean_database)
    wallet, debt, payments = _wallet(clean_database, event_id)
    with clean_database.session() as session:
        stand = ledger.account(session, event_id=event_id, kind=AccountKind.fees, key="sales:x:0")
    _book(clean_database, event_id, lambda _e: [ledger.Move(payments, wallet, 2000)])
    _book(
        clean_database,
        event_id,
        lambda _e: [ledger.Move(wallet, stand, 1500), ledger.Move(debt, stand, 300)],
    )
    assert _balance(clean_database, wallet) == 500
    assert _balance(clean_database, debt) == -300
    assert _balance(clean_database, payments) == -2000
    with clean_database.session(write=False) as session:
        trial = ledger.trial_balance(session, event_id=event_id)
    assert trial.balanced and trial.accounts == 4 and trial.total_minor == 0
    # A cached balance changed behind the ledger's back is found.
    with clean_database.session() as session:
        session.execute(
            update(LedgerAccount).where(LedgerAccount.id == stand.id).values(balance_minor=1)
        )
    with clean_database.session(write=False) as session:
        trial = ledger.trial_balance(session, event_id=event_id)
    assert not trial.balanced
    assert [(m.cached_minor, m.transfers_minor) for m in trial.mismatches] == [(1, 1800)]


def test_a_wallet_never_goes_below_zero_and_a_refused_entry_leaves_nothing(
    clean_database: Database,
) -> None:
    event_id = _event(clean_database)
    wallet, debt, payments = _wallet(clean_database, event_id)
    _book(clean_database, event_id, lambda _e: [ledger.Move(payments, wallet, 1000)])
    with pytest.raises(AccountRefused) as refused:
        _book(clean_database, event_id, lambda _e: [ledger.Move(wallet, payments, 1001)])
    assert refused.value.details["account_id"] == str(wallet.id)
    # A debt account never goes above zero either.
    with pytest.raises(AccountRefused):
        _book(clean_database, event_id, lambda _e: [ledger.Move(wallet, debt, 1)])
    assert _balance(clean_database, wallet) == 1000
    with clean_database.session(write=False) as session:
        assert len(session.scalars(select(JournalEntry.id)).all()) == 1
        assert len(session.scalars(select(LedgerTransfer.id)).all()) == 1


@pytest.mark.parametrize(("kind", "balance"), [("wallet", -1), ("wallet_debt", 1)])
def test_the_database_itself_refuses_a_negative_wallet_or_a_positive_debt(
    clean_database: Database, kind: str, balance: int
) -> None:
    """The CHECK constraints, on both databases: not only the code's condition."""
    event_id = _event(clean_database)
    wallet, debt, _payments = _wallet(clean_database, event_id)
    target = wallet if kind == "wallet" else debt
    with pytest.raises(IntegrityError), clean_database.session() as session:
        session.execute(
            text("UPDATE ledger_accounts SET balance_minor = :balance WHERE id = :id"),
            {"balance": balance, "id": target.id.hex if clean_database.is_sqlite else target.id},
        )
    assert _balance(clean_database, target) == 0


def test_an_idempotency_key_books_once_and_refuses_another_request(
    clean_database: Database,
) -> None:
    event_id = _event(clean_database)
    wallet, _debt, payments = _wallet(clean_database, event_id)

    def top_up(_entry: uuid.UUID) -> list[ledger.Move]:
        return [ledger.Move(payments, wallet, 700)]

    first = _book(clean_database, event_id, top_up, key="k-1", request={"amount": 700})
    again = _book(clean_database, event_id, top_up, key="k-1", request={"amount": 700})
    assert isinstance(first, uuid.UUID) and isinstance(again, ledger.Replay)
    assert again.entry_id == first and again.answer == {"entry_id": str(first)}
    with pytest.raises(IdempotencyKeyReused):
        _book(clean_database, event_id, top_up, key="k-1", request={"amount": 800})
    assert _balance(clean_database, wallet) == 700


def _race(database: Database, attempt: Callable[[], bool], crowd: int) -> int:
    barrier = threading.Barrier(crowd)
    successes: list[bool] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        ok = attempt()
        with lock:
            successes.append(ok)

    threads = [threading.Thread(target=run) for _ in range(crowd)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(successes)


def test_fifty_spends_race_for_ten_spends_worth_and_ten_win(clean_database: Database) -> None:
    event_id = _event(clean_database)
    wallet, _debt, payments = _wallet(clean_database, event_id)
    _book(clean_database, event_id, lambda _e: [ledger.Move(payments, wallet, 1000)])

    def spend() -> bool:
        try:
            _book(clean_database, event_id, lambda _e: [ledger.Move(wallet, payments, 100)])
        except AccountRefused:
            return False
        return True

    assert _race(clean_database, spend, 50) == 10
    assert _balance(clean_database, wallet) == 0
    with clean_database.session(write=False) as session:
        assert ledger.trial_balance(session, event_id=event_id).balanced


def test_negative_control_a_read_then_write_spend_overspends(clean_database: Database) -> None:
    """The same crowd through a spend that reads the balance, decides, then writes it
    (no condition in the UPDATE, no lock): it lets more than ten through, so the race
    above can fail. SQLite serialises its writers, so the read happens in a transaction
    of its own, as a careless service would do."""
    event_id = _event(clean_database)
    wallet, _debt, payments = _wallet(clean_database, event_id)
    _book(clean_database, event_id, lambda _e: [ledger.Move(payments, wallet, 1000)])
    gate = threading.Barrier(50)

    def careless_spend() -> bool:
        with clean_database.session(write=False) as session:
            seen = ledger.balances(session, [wallet])[wallet.id]
        gate.wait()
        if seen < 100:
            return False
        with clean_database.session() as session:
            session.execute(
                update(LedgerAccount)
                .where(LedgerAccount.id == wallet.id)
                .values(balance_minor=seen - 100)
            )
        return True

    assert _race(clean_database, careless_spend, 50) > 10
