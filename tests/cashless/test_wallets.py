"""Wallets: one per account and event, a first pass, and credits that pay debt first."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from admitone.cashless import ledger, wallets
from admitone.cashless.models import AccountKind, EntryOrigin, Wallet, WalletPass
from admitone.db import Database
from tests.factories import make_event, make_organization, make_user


def test_a_wallet_opens_once_with_its_accounts_and_a_pass(clean_database: Database) -> None:
    organization_id, _slug = make_organization(clean_database)
    event_id = make_event(clean_database, organization_id=organization_id)
    user_id = make_user(clean_database)
    with clean_database.session() as session:
        first = wallets.open_wallet(session, event_id=event_id, user_id=user_id)
        again = wallets.open_wallet(session, event_id=event_id, user_id=user_id)
        assert first.id == again.id
    with clean_database.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Wallet)) == 1
        assert session.scalar(select(func.count()).select_from(WalletPass)) == 1


def test_a_credit_pays_the_debt_first_and_lifts_the_offline_block(
    clean_database: Database,
) -> None:
    organization_id, _slug = make_organization(clean_database)
    event_id = make_event(clean_database, organization_id=organization_id)
    user_id = make_user(clean_database)
    with clean_database.session() as session:
        wallet = wallets.open_wallet(session, event_id=event_id, user_id=user_id)
        wallet.offline_blocked = True
        account, debt = ledger.wallet_accounts(session, event_id=event_id, wallet_id=wallet.id)
        sales = ledger.account(session, event_id=event_id, kind=AccountKind.sales, key="s")
        payments = ledger.account(session, event_id=event_id, kind=AccountKind.online_payments)
        # An offline sale of 8.00 the empty wallet could not cover: all of it is debt.
        entry = ledger.begin_entry(
            session,
            event_id=event_id,
            idempotency_key="offline-1",
            kind=ledger.EntryKind.sale,
            origin=EntryOrigin.offline,
            amount_minor=800,
        )
        assert isinstance(entry, uuid.UUID)
        ledger.post(session, entry_id=entry, moves=[ledger.Move(debt, sales, 800)])
        wallet_id = wallet.id

    def top_up(key: str, amount: int) -> wallets.Credited:
        with clean_database.session() as session:
            wallet = session.get(Wallet, wallet_id)
            assert wallet is not None
            return wallets.credit(
                session,
                wallet=wallet,
                amount_minor=amount,
                source=payments,
                idempotency_key=key,
                origin=EntryOrigin.online,
                request={"amount": amount},
            )

    first = top_up("t-1", 500)
    assert (first.debt_paid_minor, first.balance_minor, first.debt_minor) == (500, 0, 300)
    second = top_up("t-2", 1000)
    assert (second.debt_paid_minor, second.balance_minor, second.debt_minor) == (300, 700, 0)
    replay = top_up("t-2", 1000)
    assert replay.replayed and replay.entry_id == second.entry_id
    assert (replay.debt_paid_minor, replay.balance_minor, replay.debt_minor) == (300, 700, 0)
    with clean_database.session(write=False) as session:
        wallet = session.get(Wallet, wallet_id)
        assert wallet is not None and not wallet.offline_blocked
        assert ledger.balances(session, [account, debt]) == {account.id: 700, debt.id: 0}
        assert ledger.trial_balance(session, event_id=event_id).balanced
