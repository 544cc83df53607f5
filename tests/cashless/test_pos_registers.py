"""Cash registers and top-ups at a desk (POST /pos/registers, .../close, /pos/topups):
the cash taken, the close-out and its difference, card top-ups, debt first, the limits."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from admitone.cashless import ledger, passes
from admitone.cashless.models import (
    AccountKind,
    EntryKind,
    EntryOrigin,
    JournalEntry,
    LedgerAccount,
    LedgerTransfer,
    WalletTopup,
)
from admitone.db import Database
from tests.cashless.pos_helpers import (
    API,
    assign,
    balance,
    balanced,
    error_code,
    key_headers,
    make_festival,
    make_wallet,
    set_wallet,
)
from tests.conftest import BACKEND
from tests.helpers import add_member, create_org, db_snapshot, register


@pytest.fixture
def festival(client: TestClient, clean_database: Database):
    return make_festival(client, clean_database)


def open_register(festival, headers=None, *, stand=None, float_minor=5000, key=None):
    return festival.client.post(
        f"{API}/pos/registers",
        json={"stand_id": stand or festival.desk["id"], "opening_float_minor": float_minor},
        headers=key_headers(headers or festival.cashier, key),
    )


def close_register(festival, register_id, counted, headers=None, key=None):
    return festival.client.post(
        f"{API}/pos/registers/{register_id}/close",
        json={"counted_minor": counted},
        headers=key_headers(headers or festival.cashier, key),
    )


def top_up(
    festival, wallet, amount, *, method="card", register_id=None, headers=None, key=None, stand=None
):
    body = {
        "stand_id": stand or festival.desk["id"],
        "pass": wallet.code,
        "amount_minor": amount,
        "method": method,
    }
    if register_id is not None:
        body["register_id"] = register_id
    return festival.client.post(
        f"{API}/pos/topups", json=body, headers=key_headers(headers or festival.cashier, key)
    )


def _account_balance(
    database: Database, event_id: str, kind: AccountKind, key: str | None = None
) -> int:
    with database.session(write=False) as session:
        return (
            session.scalar(
                select(LedgerAccount.balance_minor).where(
                    LedgerAccount.event_id == uuid.UUID(event_id),
                    LedgerAccount.key == (key or kind.value),
                )
            )
            or 0
        )


def test_a_register_opens_once_per_cashier_and_stand(festival) -> None:
    opened = open_register(festival, key="open-1")
    assert opened.status_code == 201, opened.text
    drawer = opened.json()["data"]
    assert drawer["opening_float_minor"] == 5000 and drawer["cashier_id"] == festival.cashier_id
    assert drawer["closed_at"] is None and drawer["expected_minor"] is None
    again = open_register(festival)
    assert again.status_code == 200 and again.json()["data"]["id"] == drawer["id"]
    other_float = open_register(festival, float_minor=100)
    assert other_float.status_code == 409 and error_code(other_float) == "REGISTER_ALREADY_OPEN"
    # Another cashier has their own, at the same desk.
    client = festival.client
    second = register_cashier(festival)
    theirs = open_register(festival, second)
    assert theirs.status_code == 201 and theirs.json()["data"]["id"] != drawer["id"]
    missing_key = client.post(
        f"{API}/pos/registers", json={"stand_id": festival.desk["id"]}, headers=festival.cashier
    )
    assert missing_key.status_code == 400 and error_code(missing_key) == "IDEMPOTENCY_KEY_REQUIRED"


def register_cashier(festival, *, stand: str | None = None) -> dict[str, str]:
    person = register(festival.client)
    user_id = add_member(festival.client, festival.owner, festival.org, person["email"], "cashier")[
        "user"
    ]["id"]
    assign(festival, stand or festival.desk["id"], user_id)
    return person["headers"]


def test_cash_top_ups_then_the_close_books_the_cash_and_the_difference(festival) -> None:
    database = festival.database
    drawer = open_register(festival).json()["data"]
    wallet = make_wallet(database, festival.event_id)
    for amount in (2000, 1500):
        response = top_up(festival, wallet, amount, method="cash", register_id=drawer["id"])
        assert response.status_code == 201, response.text
        data = response.json()["data"]
        assert data["method"] == "cash" and data["register_id"] == drawer["id"]
    assert data["balance_minor"] == 3500 and data["debt_paid_minor"] == 0
    drawer_key = f"cash_register:{drawer['id']}"
    assert (
        _account_balance(database, festival.event_id, AccountKind.cash_register, drawer_key)
        == -3500
    )

    # 5000 float + 3500 taken = 8500 expected; 8450 counted: 50 short.
    closed = close_register(festival, drawer["id"], 8450, key="close-1")
    assert closed.status_code == 200, closed.text
    data = closed.json()["data"]
    assert (data["expected_minor"], data["counted_minor"], data["difference_minor"]) == (
        8500,
        8450,
        -50,
    )
    assert data["cash_taken_minor"] == 3500 and data["closed_at"] is not None
    assert _account_balance(database, festival.event_id, AccountKind.cash_register, drawer_key) == 0
    assert _account_balance(database, festival.event_id, AccountKind.cash_vault) == -3500 + 50
    assert _account_balance(database, festival.event_id, AccountKind.cash_imbalance) == -50
    with database.session(write=False) as session:
        entry = session.get(JournalEntry, uuid.UUID(data["entry_id"]))
        assert entry is not None and entry.kind == "register_close" and entry.amount_minor == 3500
    assert balanced(database, festival.event_id)

    # Its retry answers again; another close finds it closed; so does a cash top-up.
    assert close_register(festival, drawer["id"], 8450, key="close-1").json() == closed.json()
    again = close_register(festival, drawer["id"], 8450)
    assert again.status_code == 409 and error_code(again) == "REGISTER_CLOSED"
    late = top_up(festival, wallet, 1000, method="cash", register_id=drawer["id"])
    assert late.status_code == 409 and error_code(late) == "REGISTER_CLOSED"
    # A new shift opens a new register.
    assert open_register(festival).json()["data"]["id"] != drawer["id"]


def test_more_cash_than_expected_is_booked_to_the_imbalance(festival) -> None:
    drawer = open_register(festival, float_minor=0).json()["data"]
    wallet = make_wallet(festival.database, festival.event_id)
    top_up(festival, wallet, 1000, method="cash", register_id=drawer["id"])
    closed = close_register(festival, drawer["id"], 1020).json()["data"]
    assert closed["difference_minor"] == 20
    assert _account_balance(festival.database, festival.event_id, AccountKind.cash_imbalance) == 20
    assert _account_balance(festival.database, festival.event_id, AccountKind.cash_vault) == -1020
    # An empty drawer counted empty books nothing but the close.
    empty = open_register(festival, float_minor=0).json()["data"]
    closed = close_register(festival, empty["id"], 0).json()["data"]
    assert (closed["expected_minor"], closed["difference_minor"]) == (0, 0)
    assert balanced(festival.database, festival.event_id)


def test_who_may_open_and_close_a_register(festival, client) -> None:
    drawer = open_register(festival).json()["data"]
    other = register_cashier(festival)
    refused = close_register(festival, drawer["id"], 0, headers=other)
    assert refused.status_code == 404 and error_code(refused) == "REGISTER_NOT_FOUND"
    stranger = register(client)
    create_org(client, stranger["headers"])
    assert close_register(festival, drawer["id"], 0, headers=stranger["headers"]).status_code == 404
    assert close_register(festival, str(uuid.uuid4()), 0).status_code == 404
    assert open_register(festival, stranger["headers"]).status_code == 404
    # The bar's cashier only: not at the desk.
    bar_only = register_cashier(festival, stand=festival.bar["id"])
    assert open_register(festival, bar_only).status_code == 403
    # An admin closes anyone's register (the end of the night).
    admin = register(client)
    add_member(client, festival.owner, festival.org, admin["email"], "admin")
    closed = close_register(festival, drawer["id"], 5000, headers=admin["headers"])
    assert closed.status_code == 200 and closed.json()["data"]["difference_minor"] == 0


def test_a_card_top_up_pays_the_debt_first(festival) -> None:
    database = festival.database
    wallet = make_wallet(database, festival.event_id)
    # An offline sale of 8.00 the empty wallet could not cover: all of it is debt.
    with database.session() as session:
        sales = ledger.account(session, event_id=wallet.event_id, kind=AccountKind.sales, key="s")
        entry = ledger.begin_entry(
            session,
            event_id=wallet.event_id,
            idempotency_key="offline-1",
            kind=EntryKind.sale,
            origin=EntryOrigin.offline,
            amount_minor=800,
        )
        assert isinstance(entry, uuid.UUID)
        ledger.post(session, entry_id=entry, moves=[ledger.Move(wallet.debt, sales, 800)])
    response = top_up(festival, wallet, 2000, key="card-1")
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert (data["debt_paid_minor"], data["balance_minor"], data["debt_minor"]) == (800, 1200, 0)
    assert data["method"] == "card" and data["register_id"] is None and data["currency"] == "EUR"
    assert _account_balance(database, festival.event_id, AccountKind.card_terminal) == -2000
    with database.session(write=False) as session:
        topup = session.scalars(select(WalletTopup)).one()
        assert (topup.channel, topup.status, topup.amount_minor) == ("card", "credited", 2000)
        assert str(topup.id) == data["topup_id"] and str(topup.entry_id) == data["entry_id"]
        sources = session.scalars(
            select(LedgerAccount.kind)
            .join(LedgerTransfer, LedgerTransfer.source_account_id == LedgerAccount.id)
            .where(LedgerTransfer.entry_id == topup.entry_id)
        ).all()
        assert sorted(sources) == ["card_terminal", "wallet"]
    assert balanced(database, festival.event_id)
    # The retry answers again; the key with another amount is refused.
    again = top_up(festival, wallet, 2000, key="card-1")
    assert again.status_code == 200 and again.json() == response.json()
    reused = top_up(festival, wallet, 2500, key="card-1")
    assert reused.status_code == 422 and error_code(reused) == "IDEMPOTENCY_KEY_REUSED"
    assert balance(database, wallet.account) == 1200


def test_top_ups_keep_to_the_events_limits(festival) -> None:
    database = festival.database
    wallet = make_wallet(database, festival.event_id, funded=29_000)
    for amount, code, details in (
        (499, "TOPUP_BELOW_MINIMUM", {"minimum_minor": 500}),
        (20_001, "TOPUP_ABOVE_MAXIMUM", {"maximum_minor": 20_000}),
    ):
        response = top_up(festival, wallet, amount)
        assert response.status_code == 422 and error_code(response) == code
        assert response.json()["error"]["details"] == details
    before = db_snapshot(database)
    over = top_up(festival, wallet, 2000)
    assert over.status_code == 409 and error_code(over) == "BALANCE_LIMIT_REACHED"
    assert over.json()["error"]["details"] == {
        "balance_maximum_minor": 30_000,
        "room_minor": 1000,
    }
    assert "10.00 EUR can be added" in over.json()["error"]["message"]
    assert db_snapshot(database) == before
    assert top_up(festival, wallet, 1000).status_code == 201
    assert balance(database, wallet.account) == 30_000


def test_a_top_up_is_refused_where_and_when_it_cannot_be_taken(festival) -> None:
    database = festival.database
    wallet = make_wallet(database, festival.event_id)
    not_desk = top_up(festival, wallet, 1000, stand=festival.bar["id"])
    assert not_desk.status_code == 409 and error_code(not_desk) == "STAND_NOT_TOPUP_DESK"
    no_register = top_up(festival, wallet, 1000, method="cash")
    assert (
        no_register.status_code == 422 and "register_id" in no_register.json()["error"]["message"]
    )
    # Someone else's register, or one of another stand, is not the cashier's to fill.
    other = register_cashier(festival)
    theirs = open_register(festival, other).json()["data"]
    refused = top_up(festival, wallet, 1000, method="cash", register_id=theirs["id"])
    assert refused.status_code == 404 and error_code(refused) == "REGISTER_NOT_FOUND"
    at_bar = open_register(festival, stand=festival.bar["id"]).json()["data"]
    refused = top_up(festival, wallet, 1000, method="cash", register_id=at_bar["id"])
    assert refused.status_code == 404
    bad_method = top_up(festival, wallet, 1000, method="online")
    assert bad_method.status_code == 422 and error_code(bad_method) == "VALIDATION_ERROR"
    set_wallet(database, wallet, status="payout_pending")
    blocked = top_up(festival, wallet, 1000)
    assert blocked.status_code == 409 and error_code(blocked) == "WALLET_BLOCKED"
    set_wallet(database, wallet, status="active")
    festival.client.patch(
        festival.url(festival.desk["id"]), json={"active": False}, headers=festival.owner
    )
    closed = top_up(festival, wallet, 1000)
    assert closed.status_code == 409 and error_code(closed) == "STAND_INACTIVE"
    assert balance(database, wallet.account) == 0


@pytest.mark.skipif(
    BACKEND != "postgresql",
    reason="SQLite's write transaction holds the database from its start: no payout can "
    "commit between the top-up's first read and its locks",
)
def test_a_desk_top_up_rereads_the_wallet_under_its_locks(
    festival, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A payout marks the wallet ``payout_pending`` under the wallet's locks. A desk
    top-up that read the wallet just before (as still active) reads its status again
    once the credit holds those locks, and lands nowhere. The stale first read is made
    here by handing the service the wallet as it was."""
    database = festival.database
    wallet = make_wallet(database, festival.event_id)
    real_find_pass = passes.find_pass

    def read_just_before_the_payout(*args, **kwargs):
        found_pass, found_wallet = real_find_pass(*args, **kwargs)
        set_wallet(database, wallet, status="payout_pending")  # the payout commits
        return found_pass, found_wallet

    monkeypatch.setattr(passes, "find_pass", read_just_before_the_payout)
    refused = top_up(festival, wallet, 1000, key="late-1")
    assert refused.status_code == 409 and error_code(refused) == "WALLET_BLOCKED", refused.text
    assert balance(database, wallet.account) == 0
    assert _account_balance(database, festival.event_id, AccountKind.card_terminal) == 0
    assert balanced(database, festival.event_id)
