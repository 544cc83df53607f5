"""Offline sales uploaded in batches: always booked, debt beyond the balance, exactly once
per key whatever the repeats, splits and orders (on SQLite and PostgreSQL)."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from admitone.cashless import ledger, offline
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
from admitone.db import utcnow
from tests.cashless.conftest import BEER, Festival


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
