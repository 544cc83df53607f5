"""Offline sales uploaded in batches: always booked, debt beyond the balance, exactly once
per key whatever the repeats, splits and orders (on SQLite and PostgreSQL)."""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from admitone.cashless import ledger, offline, passes, wallets
from admitone.cashless.models import (
    AccountKind,
    CashlessSettings,
    EntryKind,
    EntryOrigin,
    JournalEntry,
    PosDevice,
    Product,
    SaleLine,
    Stand,
    StandKind,
    Wallet,
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


@pytest.fixture
def festival(clean_database: Database, settings: Settings) -> Festival:
    organization_id, _slug = make_organization(clean_database)
    event_id = make_event(clean_database, organization_id=organization_id)
    keys = KeyRing(settings=settings, database=clean_database)
    with clean_database.session(write=False) as session:
        keys.get_or_create(session, event_id)
    with clean_database.session() as session:
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
        beer = Product(
            event_id=event_id, stand_id=stand.id, name="Beer", price_minor=BEER, vat_rate_bp=2000
        )
        session.add(beer)
        devices = [
            CheckinDevice(
                event_id=event_id, name=f"Till {n}", gate="Main bar", token_hash=f"{n:064d}"
            )
            for n in range(3)
        ]
        session.add_all(devices)
        session.flush()
        session.add_all(PosDevice(device_id=device.id, stand_id=stand.id) for device in devices)
        return Festival(
            clean_database, keys, event_id, stand.id, beer.id, [device.id for device in devices]
        )


def test_sales_are_booked_from_the_wallet_and_beyond_it_as_debt(festival: Festival) -> None:
    wallet_id, qr = festival.wallet(funded=1200)
    answer = festival.upload([festival.sale(qr, seq=1, beers=2), festival.sale(qr, seq=2)])
    assert [r.status for r in answer.results] == [
        offline.SaleStatus.booked,
        offline.SaleStatus.booked_with_debt,
    ]
    assert [r.shortfall_minor for r in answer.results] == [0, 300]
    assert festival.money(wallet_id) == (0, 300)
    with festival.database.session(write=False) as session:
        wallet = session.get(Wallet, wallet_id)
        assert wallet is not None and wallet.offline_blocked
        lines = session.scalars(select(SaleLine).order_by(SaleLine.total_minor)).all()
        assert [(line.total_minor, line.vat_minor) for line in lines] == [(500, 83), (1000, 167)]
        entry = session.get(JournalEntry, answer.results[1].entry_id)
        assert entry is not None and entry.origin == EntryOrigin.offline
        assert entry.shortfall_minor == 300 and entry.device_id == festival.devices[0]
    festival.check_ledger()


def test_a_batch_sent_again_books_nothing_more(festival: Festival) -> None:
    wallet_id, qr = festival.wallet(funded=2000)
    batch = [festival.sale(qr, seq=n) for n in range(1, 4)]
    first = festival.upload(batch)
    again = festival.upload(list(reversed(batch)) + batch[:1])
    assert all(r.status == offline.SaleStatus.duplicate for r in again.results)
    assert [r.entry_id for r in again.results] == [
        *(r.entry_id for r in reversed(first.results)),
        first.results[0].entry_id,
    ]
    assert festival.money(wallet_id) == (500, 0)
    festival.check_ledger()
    with festival.database.session(write=False) as session:
        figures = session.get(PosDevice, festival.devices[0])
        assert figures is not None
        assert (figures.sales_received, figures.duplicates, figures.refused) == (3, 4, 0)


def test_a_sale_first_tried_online_is_booked_once(festival: Festival) -> None:
    """The online call timed out after the server booked it; the device queued the sale
    under the same key: the upload finds it."""
    _wallet_id, qr = festival.wallet(funded=2000)
    sale = festival.sale(qr, seq=1)
    with festival.database.session() as session:
        online = ledger.begin_entry(
            session,
            event_id=festival.event_id,
            idempotency_key=sale.idempotency_key,
            kind=EntryKind.sale,
            origin=EntryOrigin.online,
            amount_minor=BEER,
        )
    answer = festival.upload([sale])
    assert answer.results[0].status == offline.SaleStatus.duplicate
    assert answer.results[0].entry_id == online


def test_final_money_does_not_depend_on_the_order_of_uploads(festival: Festival) -> None:
    wallet_a, qr_a = festival.wallet(funded=1000)
    wallet_b, qr_b = festival.wallet(funded=1000)
    sales = [festival.sale(qr_a, seq=n) for n in range(1, 5)]
    copies = [festival.sale(qr_b, seq=n) for n in range(1, 5)]
    festival.upload(sales[:2], device=0)
    festival.upload(sales[2:], device=1)
    # The same sales for wallet B, in other batches, another order, with repeats.
    festival.upload([copies[3], copies[1]], device=1)
    festival.upload([copies[0], copies[3], copies[2]], device=0)
    balance_a, debt_a = festival.money(wallet_a)
    balance_b, debt_b = festival.money(wallet_b)
    assert balance_a - debt_a == balance_b - debt_b == 1000 - 4 * BEER
    festival.check_ledger()


def test_revoked_forged_and_unknown_sales(festival: Festival) -> None:
    wallet_id, qr = festival.wallet(funded=2000)
    with festival.database.session() as session:
        session.execute(
            WalletPass.__table__.update()
            .where(WalletPass.wallet_id == wallet_id)
            .values(revoked_at=utcnow() - timedelta(hours=1))
        )
    forged = qr[:-4] + ("AAAA" if not qr.endswith("AAAA") else "BBBB")
    unknown = festival.sale(qr, seq=3)
    unknown = offline.OfflineSale(
        unknown.idempotency_key,
        3,
        unknown.occurred_at,
        festival.stand_id,
        qr,
        (offline.OfflineLine(uuid.uuid4(), 1, BEER),),
    )
    answer = festival.upload([festival.sale(qr, seq=1), festival.sale(forged, seq=2), unknown])
    assert [r.status for r in answer.results] == [
        offline.SaleStatus.booked,
        offline.SaleStatus.refused,
        offline.SaleStatus.refused,
    ]
    assert answer.results[0].flag == offline.FLAG_REVOKED
    assert [r.error.code for r in answer.results[1:] if r.error] == [
        "PASS_INVALID",
        "OFFLINE_PRODUCT_UNKNOWN",
    ]
    assert festival.money(wallet_id) == (1500, 0)
    with festival.database.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(SaleLine)) == 1


def test_stock_never_goes_below_zero(festival: Festival) -> None:
    with festival.database.session() as session:
        product = session.get(Product, festival.beer_id)
        assert product is not None
        product.stock = 2
    _wallet_id, qr = festival.wallet(funded=5000)
    festival.upload([festival.sale(qr, seq=1, beers=2), festival.sale(qr, seq=2)])
    with festival.database.session(write=False) as session:
        assert session.scalar(select(Product.stock).where(Product.id == festival.beer_id)) == 0


def test_the_same_batch_posted_three_times_at_once_books_each_sale_once(
    festival: Festival,
) -> None:
    wallets_and_qrs = [festival.wallet(funded=1500) for _ in range(5)]
    batch = [
        festival.sale(qr, seq=n * 10 + k)
        for n, (_wallet, qr) in enumerate(wallets_and_qrs)
        for k in range(4)
    ]
    random.Random(7).shuffle(batch)
    barrier = threading.Barrier(3)
    answers: list[offline.BatchAnswer] = []
    errors: list[BaseException] = []

    def post() -> None:
        barrier.wait()
        try:
            answers.append(festival.upload(batch))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=post) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    # Each sale has one entry, and every answer names it.
    entry_ids = {answer.results[i].entry_id for answer in answers for i in range(len(batch))}
    assert len(entry_ids) == len(batch)
    with festival.database.session(write=False) as session:
        assert session.scalar(
            select(func.count())
            .select_from(JournalEntry)
            .where(JournalEntry.kind == EntryKind.sale)
        ) == len(batch)
    for wallet_id, _qr in wallets_and_qrs:
        assert festival.money(wallet_id) == (0, 500)
    festival.check_ledger()
