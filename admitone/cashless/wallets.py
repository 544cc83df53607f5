"""Wallets: finding and opening them, and crediting them (debt first).

``credit`` is the one way money enters a wallet, whatever brought it (an online payment,
cash or a card at a desk): the top-up lands in the wallet, then pays whatever debt the
wallet has (offline sales it could not cover), and a wallet whose debt is cleared may be
used offline again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from admitone.cashless import ledger
from admitone.cashless.errors import CashlessNotEnabled, WalletNotFound
from admitone.cashless.models import (
    CashlessSettings,
    EntryKind,
    EntryOrigin,
    Wallet,
    WalletPass,
)
from admitone.cashless.passes import new_code
from admitone.db import insert_once, utcnow


def cashless_of(session: Session, *, event_id: uuid.UUID) -> CashlessSettings:
    """The event's cashless settings; ``CashlessNotEnabled`` if it has none or is off."""
    settings = session.get(CashlessSettings, event_id)
    if settings is None or not settings.enabled:
        raise CashlessNotEnabled()
    return settings


def wallet_of(session: Session, *, event_id: uuid.UUID, wallet_id: uuid.UUID) -> Wallet:
    wallet = session.scalar(
        select(Wallet).where(Wallet.id == wallet_id, Wallet.event_id == event_id)
    )
    if wallet is None:
        raise WalletNotFound()
    return wallet


def open_wallet(session: Session, *, event_id: uuid.UUID, user_id: uuid.UUID) -> Wallet:
    """The user's wallet for the event, opened (with its accounts and a first pass) the
    first time. Two first times at once open one: the insert does nothing on the unique
    ``(event_id, user_id)`` and both read the same row."""
    wallet = session.scalar(
        select(Wallet).where(Wallet.event_id == event_id, Wallet.user_id == user_id)
    )
    if wallet is not None:
        return wallet
    wallet_id = uuid.uuid4()
    now = utcnow()
    if insert_once(
        session,
        Wallet,
        {
            "id": wallet_id,
            "event_id": event_id,
            "user_id": user_id,
            "status": "active",
            "offline_blocked": False,
            "created_at": now,
            "changed_at": now,
        },
    ):
        ledger.wallet_accounts(session, event_id=event_id, wallet_id=wallet_id)
        issue_pass(session, wallet_id=wallet_id, event_id=event_id, issued_by_id=user_id)
    wallet = session.scalar(
        select(Wallet).where(Wallet.event_id == event_id, Wallet.user_id == user_id)
    )
    assert wallet is not None
    return wallet


def issue_pass(
    session: Session,
    *,
    wallet_id: uuid.UUID,
    event_id: uuid.UUID,
    issued_by_id: uuid.UUID | None,
) -> WalletPass:
    """A new pass for the wallet, with a printed code no other pass of the event has."""
    while True:
        code = new_code()
        taken = session.scalar(
            select(WalletPass.id).where(WalletPass.event_id == event_id, WalletPass.code == code)
        )
        if taken is None:
            break
    wallet_pass = WalletPass(
        wallet_id=wallet_id, event_id=event_id, code=code, issued_by_id=issued_by_id
    )
    session.add(wallet_pass)
    session.flush()
    return wallet_pass


@dataclass(frozen=True, slots=True)
class Credited:
    """A credit booked (or found again under its key): the entry, what paid the debt,
    and the wallet's balance and debt after it."""

    entry_id: uuid.UUID
    replayed: bool
    debt_paid_minor: int
    balance_minor: int
    debt_minor: int


def credit(
    session: Session,
    *,
    wallet: Wallet,
    amount_minor: int,
    source: ledger.AccountRef,
    idempotency_key: str,
    origin: EntryOrigin,
    request: Any = None,
    **entry_fields: Any,
) -> Credited:
    """Put ``amount_minor`` from ``source`` (the online payments, a cash register, a card
    terminal) into ``wallet``, then pay its debt from it: one entry, two transfers at
    most. A wallet whose debt reaches zero may be used offline again."""
    wallet_account, debt = ledger.wallet_accounts(
        session, event_id=wallet.event_id, wallet_id=wallet.id
    )
    started = ledger.begin_entry(
        session,
        event_id=wallet.event_id,
        idempotency_key=idempotency_key,
        kind=EntryKind.topup,
        origin=origin,
        amount_minor=amount_minor,
        request=request,
        wallet_id=wallet.id,
        **entry_fields,
    )
    if isinstance(started, ledger.Replay):
        now = ledger.balances(session, [wallet_account, debt])
        paid = int((started.answer or {}).get("debt_paid_minor", 0))
        return Credited(started.entry_id, True, paid, now[wallet_account.id], -now[debt.id])
    owed = -ledger.lock_balance(session, debt)
    paid = min(owed, amount_minor)
    moves = [ledger.Move(source, wallet_account, amount_minor)]
    if paid:
        moves.append(ledger.Move(wallet_account, debt, paid))
    after = ledger.post(session, entry_id=started, moves=moves)
    debt_after = -after.get(debt.id, -owed)
    ledger.set_entry(session, started, answer={"debt_paid_minor": paid})
    if owed and not debt_after and wallet.offline_blocked:
        session.execute(
            update(Wallet)
            .where(Wallet.id == wallet.id)
            .values(offline_blocked=False, changed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        wallet.offline_blocked = False
    return Credited(started, False, paid, after[wallet_account.id], debt_after)
