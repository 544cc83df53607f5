"""Helpers of the leftover refund tests: an event moved into the past, money put in a
wallet at a desk (no card to refund it to), a debt beside a balance."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from admitone.cashless import ledger, payouts, wallets
from admitone.cashless.models import AccountKind, EntryKind, EntryOrigin, Wallet
from admitone.config import Settings
from admitone.db import Database, utcnow
from admitone.events.models import Event

GOOD_IBAN = "DE89 3704 0044 0532 0130 00"
OTHER_IBAN = "FR14 2004 1010 0505 0001 3M02 606"
BAD_IBAN = "DE89 3704 0044 0532 0130 01"  # one digit off: its checksum fails
ORGANIZER_IBAN = "DE02 1203 0000 0000 2020 51"


def end_event(database: Database, event_id: uuid.UUID | str, *, ended_ago: timedelta) -> None:
    """Move the event so that it ended ``ended_ago`` ago (it lasted a day)."""
    ends = utcnow() - ended_ago
    with database.session() as session:
        session.execute(
            update(Event)
            .where(Event.id == uuid.UUID(str(event_id)))
            .values(starts_at=ends - timedelta(days=1), ends_at=ends)
        )


def desk_topup(database: Database, wallet_id: uuid.UUID, amount_minor: int) -> None:
    """A top-up paid by card at a desk's terminal: no online payment to refund it to."""
    with database.session() as session:
        wallet = session.get(Wallet, wallet_id)
        assert wallet is not None
        wallets.credit(
            session,
            wallet=wallet,
            amount_minor=amount_minor,
            source=ledger.account(
                session, event_id=wallet.event_id, kind=AccountKind.card_terminal
            ),
            idempotency_key=f"desk-{uuid.uuid4()}",
            origin=EntryOrigin.online,
        )


def debt_beside_balance(database: Database, wallet_id: uuid.UUID, amount_minor: int) -> None:
    """Debt on a wallet that holds money (a reversal given back after an offline sale
    left debt can do it): booked straight on the debt account."""
    with database.session() as session:
        wallet = session.get(Wallet, wallet_id)
        assert wallet is not None
        _account, debt = ledger.wallet_accounts(
            session, event_id=wallet.event_id, wallet_id=wallet.id
        )
        sales = ledger.account(
            session, event_id=wallet.event_id, kind=AccountKind.sales, key="sales:test:1"
        )
        entry = ledger.begin_entry(
            session,
            event_id=wallet.event_id,
            idempotency_key=f"offline-{uuid.uuid4()}",
            kind=EntryKind.sale,
            origin=EntryOrigin.offline,
            amount_minor=amount_minor,
            wallet_id=wallet.id,
            shortfall_minor=amount_minor,
        )
        assert isinstance(entry, uuid.UUID)
        ledger.post(session, entry_id=entry, moves=[ledger.Move(debt, sales, amount_minor)])


def refund(
    database: Database,
    settings: Settings,
    *,
    event_id: uuid.UUID,
    user_id: uuid.UUID,
    iban: str | None = GOOD_IBAN,
    holder: str | None = "Ada Lovelace",
    **kwargs: Any,
) -> payouts.RequestedPayout:
    """``payouts.request_refund`` in a unit of work of its own, as a request."""
    with database.session() as session:
        return payouts.request_refund(
            session,
            event_id=event_id,
            user_id=user_id,
            holder=holder,
            iban=iban,
            bic=kwargs.pop("bic", None),
            now=kwargs.pop("now", utcnow()),
            settings=settings,
        )


def spend(database: Database, event_id: uuid.UUID, wallet_id: uuid.UUID, amount: int) -> None:
    """A sale of ``amount`` from the wallet, booked straight through the ledger."""
    with database.session() as session:
        account, _debt = ledger.wallet_accounts(session, event_id=event_id, wallet_id=wallet_id)
        sales = ledger.account(session, event_id=event_id, kind=AccountKind.sales, key="sales:x:0")
        entry = ledger.begin_entry(
            session,
            event_id=event_id,
            idempotency_key=f"sale-{uuid.uuid4()}",
            kind=EntryKind.sale,
            origin=EntryOrigin.online,
            amount_minor=amount,
            wallet_id=wallet_id,
        )
        assert isinstance(entry, uuid.UUID)
        ledger.post(session, entry_id=entry, moves=[ledger.Move(account, sales, amount)])
