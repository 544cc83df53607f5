"""Reversing a sale at its stand (POST /pos/charges/{entry_id}/reverse): the money and
the stock come back once, within the window, by the stand's cashiers."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from admitone.cashless.models import JournalEntry, LedgerAccount, LedgerTransfer, Product
from admitone.db import Database, utcnow
from tests.cashless.pos_helpers import (
    API,
    assign,
    balance,
    balanced,
    charge,
    error_code,
    key_headers,
    make_festival,
    make_wallet,
)
from tests.helpers import add_member, create_org, db_snapshot, register


@pytest.fixture
def festival(client: TestClient, clean_database: Database):
    return make_festival(client, clean_database)


def _sale(festival, wallet, *lines) -> str:
    response = charge(festival.client, festival.cashier, festival.bar["id"], wallet.code, *lines)
    assert response.status_code == 201, response.text
    return response.json()["data"]["entry_id"]


def reverse(client: TestClient, headers: dict[str, str], entry_id: str, key: str | None = None):
    return client.post(f"{API}/pos/charges/{entry_id}/reverse", headers=key_headers(headers, key))


def _stock(database: Database, product_id: str) -> int | None:
    with database.session(write=False) as session:
        return session.scalar(select(Product.stock).where(Product.id == uuid.UUID(product_id)))


def _age(database: Database, entry_id: str, minutes: int) -> None:
    with database.session() as session:
        session.execute(
            update(JournalEntry)
            .where(JournalEntry.id == uuid.UUID(entry_id))
            .values(recorded_at=utcnow() - timedelta(minutes=minutes))
        )


def test_a_reversal_gives_the_money_and_the_stock_back_once(festival) -> None:
    database = festival.database
    wallet = make_wallet(database, festival.event_id, funded=5000)
    cap, beer = festival.product_id("Cap"), festival.product_id("Beer")
    sale = _sale(festival, wallet, (cap, 2), (beer, 1))
    assert balance(database, wallet.account) == 5000 - 3450 and _stock(database, cap) == 0

    response = reverse(festival.client, festival.cashier, sale, key="undo-1")
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["reverses_entry_id"] == sale and data["amount_minor"] == 3450
    assert data["balance_minor"] == 5000 and data["currency"] == "EUR"
    assert balance(database, wallet.account) == 5000 and _stock(database, cap) == 2
    with database.session(write=False) as session:
        entry = session.get(JournalEntry, uuid.UUID(data["entry_id"]))
        assert entry is not None and entry.kind == "reversal"
        assert entry.reverses_entry_id == uuid.UUID(sale) and entry.wallet_id == wallet.id
        # The sale's transfer, backwards: from the stand's shard to the wallet.
        source_kind, target = session.execute(
            select(LedgerAccount.kind, LedgerTransfer.target_account_id)
            .join(LedgerAccount, LedgerAccount.id == LedgerTransfer.source_account_id)
            .where(LedgerTransfer.entry_id == entry.id)
        ).one()
        assert source_kind == "sales" and target == wallet.account.id
    assert balanced(database, festival.event_id)

    # The same key answers again; another key finds the sale reversed already.
    again = reverse(festival.client, festival.cashier, sale, key="undo-1")
    assert again.status_code == 200 and again.json() == response.json()
    before = db_snapshot(database)
    second = reverse(festival.client, festival.cashier, sale, key="undo-2")
    assert second.status_code == 409 and error_code(second) == "ENTRY_ALREADY_REVERSED"
    assert second.json()["error"]["details"] == {"reversal_entry_id": data["entry_id"]}
    assert db_snapshot(database) == before
    # A reversal is not a sale: it cannot be reversed in turn.
    undo_undo = reverse(festival.client, festival.cashier, data["entry_id"])
    assert undo_undo.status_code == 404 and error_code(undo_undo) == "SALE_NOT_FOUND"


def test_a_sale_is_reversed_within_the_window_only(festival) -> None:
    database = festival.database
    wallet = make_wallet(database, festival.event_id, funded=1000)
    sale = _sale(festival, wallet, (festival.product_id("Water"), 2))
    _age(database, sale, 11)
    late = reverse(festival.client, festival.cashier, sale)
    assert late.status_code == 409 and error_code(late) == "REVERSAL_WINDOW_CLOSED"
    assert late.json()["error"]["details"] == {"minutes": 10}
    assert balance(database, wallet.account) == 800
    # Within it (9 minutes old): reversed; its retry answers even once the window is past.
    recent = _sale(festival, wallet, (festival.product_id("Water"), 1))
    _age(database, recent, 9)
    first = reverse(festival.client, festival.cashier, recent, key="late-undo")
    assert first.status_code == 201
    _age(database, recent, 60)
    assert (
        reverse(festival.client, festival.cashier, recent, key="late-undo").json() == first.json()
    )


def test_the_window_is_a_setting(make_app, clean_database) -> None:
    with TestClient(make_app(pos_reversal_minutes=1), raise_server_exceptions=False) as client:
        festival = make_festival(client, clean_database)
        wallet = make_wallet(clean_database, festival.event_id, funded=1000)
        sale = _sale(festival, wallet, (festival.product_id("Water"), 2))
        _age(clean_database, sale, 2)
        late = reverse(client, festival.cashier, sale)
        assert late.status_code == 409 and late.json()["error"]["details"] == {"minutes": 1}


def test_what_is_not_a_sale_of_the_callers_stands_is_not_found(festival, client) -> None:
    wallet = make_wallet(festival.database, festival.event_id, funded=1000)
    sale = _sale(festival, wallet, (festival.product_id("Water"), 1))
    with festival.database.session(write=False) as session:
        funding = session.scalar(select(JournalEntry.id).where(JournalEntry.kind == "topup"))
    for entry_id in (str(uuid.uuid4()), str(funding)):
        response = reverse(client, festival.cashier, entry_id)
        assert response.status_code == 404 and error_code(response) == "SALE_NOT_FOUND"
    assert (
        client.post(
            f"{API}/pos/charges/not-a-uuid/reverse", headers=key_headers(festival.cashier)
        ).status_code
        == 422
    )
    missing_key = client.post(f"{API}/pos/charges/{sale}/reverse", headers=festival.cashier)
    assert missing_key.status_code == 400 and error_code(missing_key) == "IDEMPOTENCY_KEY_REQUIRED"
    assert reverse(client, {}, sale).status_code == 401
    stranger = register(client)
    create_org(client, stranger["headers"])
    refused = reverse(client, stranger["headers"], sale)
    assert refused.status_code == 404 and error_code(refused) == "SALE_NOT_FOUND"
    # A cashier of the desk only may not undo the bar's sales; an admin may.
    desk_cashier = register(client)
    desk_id = add_member(client, festival.owner, festival.org, desk_cashier["email"], "cashier")[
        "user"
    ]["id"]
    assign(festival, festival.desk["id"], desk_id)
    assert reverse(client, desk_cashier["headers"], sale).status_code == 403
    admin = register(client)
    add_member(client, festival.owner, festival.org, admin["email"], "admin")
    assert reverse(client, admin["headers"], sale).status_code == 201
    assert balance(festival.database, wallet.account) == 1000
