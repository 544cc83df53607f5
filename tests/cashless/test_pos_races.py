"""Charges racing through a real server (uvicorn in a thread, one connection per client),
on SQLite and PostgreSQL: a wallet's last euros are spent once, a retried key books once.

The negative control shows the crowd really races: with a charge that reads the balance,
then writes the balance it computed (no condition, no lock), the same crowd spends the
wallet's 10.00 many times over; if it did not, the tests above would prove nothing.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from admitone.cashless import ledger, pos
from admitone.cashless.errors import InsufficientFunds
from admitone.cashless.models import (
    EntryKind,
    JournalEntry,
    LedgerAccount,
    LedgerTransfer,
    SaleLine,
)
from admitone.db import Database
from tests.cashless.pos_helpers import (
    Festival,
    TestWallet,
    balance,
    balanced,
    charge_body,
    make_festival,
    make_wallet,
)
from tests.concurrency.conftest import SERVER_SETTINGS, run_at_once, serve

pytestmark = pytest.mark.race

CROWD = 50
FUNDED = 1000  # 10.00: ten waters of 1.00


@pytest.fixture
def pos_server(make_app: Callable[..., FastAPI]) -> Iterator[str]:
    with serve(make_app(**SERVER_SETTINGS)) as url:
        yield url


@pytest.fixture
def festival(client: TestClient, clean_database: Database) -> Festival:
    return make_festival(client, clean_database)


def _charge_at_once(url: str, festival: Festival, wallet: TestWallet, key: Callable[[int], str]):
    body = charge_body(festival.bar["id"], wallet.code, (festival.product_id("Water"), 1))

    def cashier(http: httpx.Client, index: int) -> tuple[int, Any]:
        response = http.post(
            "/api/v1/pos/charges",
            json=body,
            headers={**festival.cashier, "Idempotency-Key": key(index)},
        )
        payload = response.json()
        return response.status_code, payload.get("data") or payload["error"]["code"]

    return run_at_once(url, CROWD if key(0) != key(1) else 10, cashier)


def _sales(database: Database) -> int:
    with database.session(write=False) as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(JournalEntry)
                .where(JournalEntry.kind == EntryKind.sale)
            )
            or 0
        )


def test_fifty_charges_race_for_ten_charges_worth_and_ten_win(pos_server, festival) -> None:
    database = festival.database
    wallet = make_wallet(database, festival.event_id, funded=FUNDED)
    results = _charge_at_once(pos_server, festival, wallet, key=lambda index: f"race-{index}")

    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 10, 402: 40}, statuses
    assert {data for status, data in results if status == 402} == {"INSUFFICIENT_FUNDS"}
    # Each winner saw its own balance: 9.00 down to 0.00, once each.
    assert sorted(data["balance_minor"] for status, data in results if status == 201) == list(
        range(0, FUNDED, 100)
    )
    assert balance(database, wallet.account) == 0
    assert balance(database, wallet.debt) == 0
    assert _sales(database) == 10
    with database.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(SaleLine)) == 10
    assert balanced(database, festival.event_id)


def test_one_charge_sent_ten_times_at_once_books_once(pos_server, festival) -> None:
    database = festival.database
    wallet = make_wallet(database, festival.event_id, funded=FUNDED)
    results = _charge_at_once(pos_server, festival, wallet, key=lambda index: "the-same-sale")

    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 200: 9}, statuses
    assert len({data["entry_id"] for _status, data in results}) == 1
    assert {data["balance_minor"] for _status, data in results} == {FUNDED - 100}
    assert balance(database, wallet.account) == FUNDED - 100
    assert _sales(database) == 1
    assert balanced(database, festival.event_id)


def test_wallets_racing_for_the_last_items_of_two_products_sell_each_once(
    pos_server, festival
) -> None:
    """Twenty wallets, five caps and five scarves left, each sale one of both, the lines
    in either order: five sales, the stock at zero, the rest OUT_OF_STOCK, and no
    deadlock (the products are locked in id order whatever the lines' order)."""
    database, client = festival.database, festival.client
    scarf = client.post(
        festival.url(festival.bar["id"], "products"),
        json={"name": "Scarf", "price_minor": 1000, "vat_rate_bp": 2000, "stock": 5},
        headers=festival.owner,
    ).json()["data"]["id"]
    cap = festival.product_id("Cap")
    client.patch(
        festival.url(festival.bar["id"], "products", cap), json={"stock": 5}, headers=festival.owner
    )
    crowd = [make_wallet(database, festival.event_id, funded=5000) for _ in range(20)]

    def buyer(http: httpx.Client, index: int) -> tuple[int, str | None]:
        lines = [(cap, 1), (scarf, 1)]
        body = charge_body(festival.bar["id"], crowd[index].code, *lines[:: 1 - 2 * (index % 2)])
        response = http.post(
            "/api/v1/pos/charges",
            json=body,
            headers={**festival.cashier, "Idempotency-Key": f"scarf-{index}"},
        )
        return response.status_code, response.json().get("error", {}).get("code")

    results = run_at_once(pos_server, len(crowd), buyer)
    assert Counter(results) == {(201, None): 5, (409, "OUT_OF_STOCK"): 15}, Counter(results)
    listed = client.get(festival.url(festival.bar["id"], "products"), headers=festival.owner)
    stock = {product["name"]: product["stock"] for product in listed.json()["data"]}
    assert (stock["Cap"], stock["Scarf"]) == (0, 0)
    assert sorted(balance(database, wallet.account) for wallet in crowd) == [2500] * 5 + [5000] * 15
    assert balanced(database, festival.event_id)


class CarelessCharge:
    """``pos.charge`` done wrong: read the wallet's balance in a transaction of its own
    (a service that commits half-way), decide on it after a moment, then write the
    balance computed from that read: no condition in the UPDATE, no lock. The classic
    read-then-write bug, in tests only (production code has no switch for it)."""

    def __init__(self, *, wallet: TestWallet, window_seconds: float) -> None:
        self.wallet = wallet
        self.window_seconds = window_seconds
        self.real_charge = pos.charge
        self.seen = threading.local()

    def charge(self, session: Session, **kwargs: Any) -> pos.Answer:
        self.seen.balance = session.scalar(
            select(LedgerAccount.balance_minor).where(LedgerAccount.id == self.wallet.account.id)
        )
        session.commit()
        time.sleep(self.window_seconds)
        return self.real_charge(session, **kwargs)

    def check_funds(self, session: Session, *, amount_minor: int, **_ignored: Any) -> int:
        seen: int = self.seen.balance
        if seen < amount_minor:
            raise InsufficientFunds(required_minor=amount_minor, available_minor=seen)
        return seen - amount_minor

    def post(
        self, session: Session, *, entry_id: uuid.UUID, moves: list[ledger.Move]
    ) -> dict[uuid.UUID, int]:
        (move,) = moves
        left = self.seen.balance - move.amount_minor
        for account_id, value in (
            (move.source.id, left),
            (move.target.id, LedgerAccount.balance_minor + move.amount_minor),
        ):
            session.execute(
                update(LedgerAccount)
                .where(LedgerAccount.id == account_id)
                .values(balance_minor=value)
                .execution_options(synchronize_session=False)
            )
        session.execute(
            insert(LedgerTransfer).values(
                id=uuid.uuid4(),
                entry_id=entry_id,
                source_account_id=move.source.id,
                target_account_id=move.target.id,
                amount_minor=move.amount_minor,
            )
        )
        return {move.source.id: left}


def test_negative_control_a_read_then_write_charge_overspends(
    pos_server, festival, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, the race tests above prove nothing: the harness would not race."""
    database = festival.database
    wallet = make_wallet(database, festival.event_id, funded=FUNDED)
    careless = CarelessCharge(wallet=wallet, window_seconds=0.3)
    monkeypatch.setattr(pos, "charge", careless.charge)
    monkeypatch.setattr(pos, "_check_funds", careless.check_funds)
    monkeypatch.setattr(pos.ledger, "post", careless.post)
    results = _charge_at_once(pos_server, festival, wallet, key=lambda index: f"careless-{index}")

    sold = Counter(status for status, _ in results)[201]
    # More than ten sales of 1.00 on a wallet of 10.00: the money was spent many times
    # over, and the wallet's cached balance no longer equals its transfers.
    assert sold > 10, Counter(status for status, _ in results)
    assert _sales(database) == sold
    assert not balanced(database, festival.event_id)
