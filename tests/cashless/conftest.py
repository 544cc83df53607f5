"""Cashless test fixtures: a festival with cashless on, a stand, a product, paired tills."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from admitone.cashless import ledger, offline, passes, wallets
from admitone.cashless.models import (
    AccountKind,
    CashlessSettings,
    EntryOrigin,
    PosDevice,
    Product,
    Stand,
    StandKind,
    WalletPass,
)
from admitone.checkin.models import CheckinDevice
from admitone.config import Settings
from admitone.db import Database, utcnow
from admitone.tickets.signing import KeyRing
from tests.factories import make_event, make_organization, make_user

BEER = 500  # 5.00, VAT 20 %


@dataclass
class Festival:
    database: Database
    keys: KeyRing
    event_id: uuid.UUID
    stand_id: uuid.UUID
    beer_id: uuid.UUID
    devices: list[uuid.UUID]
    org_slug: str

    def wallet(self, funded: int) -> tuple[uuid.UUID, str]:
        """A wallet funded with ``funded``, and the QR its phone would show."""
        with self.database.session() as session:
            wallet = wallets.open_wallet(
                session, event_id=self.event_id, user_id=make_user(self.database)
            )
            if funded:
                wallets.credit(
                    session,
                    wallet=wallet,
                    amount_minor=funded,
                    source=ledger.account(
                        session, event_id=self.event_id, kind=AccountKind.online_payments
                    ),
                    idempotency_key=f"fund:{wallet.id}",
                    origin=EntryOrigin.online,
                )
            wallet_id = wallet.id
            pass_id = session.scalar(select(WalletPass.id).where(WalletPass.wallet_id == wallet_id))
        with self.database.session(write=False) as session:
            key = self.keys.find(session, self.event_id)
        assert key is not None and pass_id is not None
        qr = passes.sign_pass(
            self.keys,
            key,
            pass_id=pass_id,
            not_after=utcnow() + timedelta(hours=6),
            wallet_cap_minor=3000,
            sale_cap_minor=1500,
        )
        return wallet_id, qr

    def sale(
        self, qr: str, *, seq: int, beers: int = 1, key: str | None = None
    ) -> offline.OfflineSale:
        return offline.OfflineSale(
            idempotency_key=key or str(uuid.uuid4()),
            device_seq=seq,
            occurred_at=utcnow() - timedelta(minutes=10) + timedelta(seconds=seq),
            stand_id=self.stand_id,
            shown=qr,
            lines=(offline.OfflineLine(self.beer_id, beers, BEER),),
        )

    def upload(self, sales: list[offline.OfflineSale], device: int = 0) -> offline.BatchAnswer:
        with self.database.session() as session:
            return offline.upload_sales(
                session,
                event_id=self.event_id,
                device_id=self.devices[device],
                operator_id=None,
                keys=self.keys,
                device_time=utcnow(),
                sales=sales,
            )

    def money(self, wallet_id: uuid.UUID) -> tuple[int, int]:
        """(balance, debt) of a wallet."""
        with self.database.session(write=False) as session:
            account, debt = ledger.wallet_accounts(
                session, event_id=self.event_id, wallet_id=wallet_id
            )
            found = ledger.balances(session, [account, debt])
            return found[account.id], -found[debt.id]

    def check_ledger(self) -> None:
        with self.database.session(write=False) as session:
            assert ledger.trial_balance(session, event_id=self.event_id).balanced


def make_festival(
    database: Database, settings: Settings, *, owner_id: uuid.UUID | str | None = None
) -> Festival:
    """A festival with cashless on, a bar selling beer and three paired tills."""
    organization_id, slug = make_organization(database, owner_id=owner_id)
    event_id = make_event(database, organization_id=organization_id)
    keys = KeyRing(settings=settings, database=database)
    with database.session(write=False) as session:
        keys.get_or_create(session, event_id)
    with database.session() as session:
        session.add(
            CashlessSettings(
                event_id=event_id,
                topup_minimum_minor=500,
                topup_maximum_minor=20000,
                balance_maximum_minor=50000,
                offline_wallet_cap_minor=3000,
                offline_sale_cap_minor=1500,
            )
        )
        stand = Stand(event_id=event_id, name="Main bar", kind=StandKind.bar)
        session.add(stand)
        session.flush()
        ledger.open_sales_shards(session, event_id=event_id, stand_id=stand.id)
        beer = Product(
            event_id=event_id, stand_id=stand.id, name="Beer", price_minor=BEER, vat_rate_bp=2000
        )
        session.add(beer)
        devices = [
            CheckinDevice(
                event_id=event_id,
                name=f"Till {n}",
                gate="Main bar",
                token_hash=uuid.uuid4().hex * 2,
            )
            for n in range(3)
        ]
        session.add_all(devices)
        session.flush()
        session.add_all(PosDevice(device_id=device.id, stand_id=stand.id) for device in devices)
        return Festival(
            database, keys, event_id, stand.id, beer.id, [device.id for device in devices], slug
        )


@pytest.fixture
def festival(clean_database: Database, settings: Settings) -> Festival:
    return make_festival(clean_database, settings)
