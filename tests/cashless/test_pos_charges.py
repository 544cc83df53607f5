"""Charges at a stand (POST /pos/charges): what they book, what they refuse, who may make
them, and retries under one Idempotency-Key; on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from admitone.cashless.models import (
    JournalEntry,
    LedgerAccount,
    LedgerTransfer,
    Product,
    SaleLine,
    WalletPass,
)
from admitone.cashless.pos import vat_included
from admitone.db import Database, utcnow
from admitone.events.models import Event, EventStatus
from tests.cashless.pos_helpers import (
    API,
    assign,
    balance,
    balanced,
    charge,
    charge_body,
    enable_cashless,
    error_code,
    key_headers,
    make_festival,
    make_wallet,
    set_wallet,
    signed_pass,
)
from tests.helpers import add_member, create_event, create_org, db_snapshot, register


@pytest.fixture
def festival(client: TestClient, clean_database: Database):
    return make_festival(client, clean_database)


def _entries(database: Database) -> int:
    with database.session(write=False) as session:
        return session.scalar(select(func.count()).select_from(JournalEntry)) or 0


@pytest.mark.parametrize(
    ("total", "rate", "vat"),
    [
        (450, 2000, 75),  # 450 x 2000 / 12000 = 75
        (500, 2000, 83),  # 83.33 down
        (1, 10_000, 1),  # 0.5: half up
        (3, 10_000, 2),  # 1.5: half up
        (-3, 10_000, -2),  # a returned deposit: the mirror image
        (1000, 550, 52),  # 52.13
        (1000, 0, 0),
    ],
)
def test_vat_is_the_part_of_a_price_that_includes_it_rounded_half_up(total, rate, vat) -> None:
    assert vat_included(total, rate) == vat


def test_a_charge_books_the_sale_and_answers_balance_lines_and_receipt(festival) -> None:
    database = festival.database
    wallet = make_wallet(database, festival.event_id, funded=2000)
    beer, cup = festival.product_id("Beer"), festival.product_id("Cup")
    response = charge(
        festival.client, festival.cashier, festival.bar["id"], wallet.code, (beer, 2), (cup, 1)
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["amount_minor"] == 1100 and data["balance_minor"] == 900
    assert data["currency"] == "EUR" and data["stand_id"] == festival.bar["id"]
    assert [
        (line["name"], line["quantity"], line["total_minor"], line["vat_minor"])
        for line in data["lines"]
    ] == [
        ("Beer", 2, 900, 150),
        ("Cup", 1, 200, 0),
    ]
    receipt = data["receipt"]
    assert receipt["stand_name"] == "Main bar" and receipt["unit_name"] == "Jetons"
    assert receipt["total_minor"] == 1100 and receipt["vat_minor"] == 150
    assert receipt["balance_minor"] == 900
    assert receipt["vat_by_rate"] == [
        {"vat_rate_bp": 0, "total_minor": 200, "vat_minor": 0},
        {"vat_rate_bp": 2000, "total_minor": 900, "vat_minor": 150},
    ]
    assert wallet.code.replace("-", "") not in response.text  # the receipt shows no credential
    assert balance(database, wallet.account) == 900
    with database.session(write=False) as session:
        entry = session.get(JournalEntry, uuid.UUID(data["entry_id"]))
        assert entry is not None
        assert (entry.kind, entry.origin, entry.amount_minor) == ("sale", "online", 1100)
        assert entry.wallet_id == wallet.id and entry.pass_id == wallet.pass_id
        assert str(entry.stand_id) == festival.bar["id"]
        assert entry.answer is not None and entry.answer["entry_id"] == data["entry_id"]
        transfers = session.execute(
            select(LedgerTransfer.source_account_id, LedgerAccount.kind, LedgerAccount.key)
            .join(LedgerAccount, LedgerAccount.id == LedgerTransfer.target_account_id)
            .where(LedgerTransfer.entry_id == entry.id)
        ).all()
        assert len(transfers) == 1 and transfers[0][0] == wallet.account.id
        assert transfers[0][1] == "sales" and transfers[0][2].startswith(
            f"sales:{festival.bar['id']}:"
        )
        lines = session.scalars(select(SaleLine).order_by(SaleLine.line_no)).all()
        assert [
            (line.name, line.quantity, line.unit_price_minor, line.vat_minor) for line in lines
        ] == [
            ("Beer", 2, 450, 150),
            ("Cup", 1, 200, 0),
        ]
    assert balanced(database, festival.event_id)


def test_the_signed_qr_pays_like_the_printed_code(festival) -> None:
    wallet = make_wallet(festival.database, festival.event_id, funded=1000)
    qr = signed_pass(festival.client, wallet)
    response = charge(
        festival.client, festival.cashier, festival.bar["id"], qr, (festival.product_id("Water"), 3)
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["balance_minor"] == 700
    # The code typed in lower case, with spaces: the same pass.
    typed = wallet.code.lower().replace("-", " ")
    again = charge(
        festival.client,
        festival.cashier,
        festival.bar["id"],
        typed,
        (festival.product_id("Water"), 1),
    )
    assert again.status_code == 201 and again.json()["data"]["balance_minor"] == 600


def test_a_returned_cup_takes_its_deposit_off_the_sale(festival) -> None:
    wallet = make_wallet(festival.database, festival.event_id, funded=1000)
    beer, cup = festival.product_id("Beer"), festival.product_id("Cup")
    response = charge(
        festival.client, festival.cashier, festival.bar["id"], wallet.code, (beer, 1), (cup, -1)
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["amount_minor"] == 250 and data["balance_minor"] == 750
    assert data["lines"][1]["total_minor"] == -200


def test_a_sale_of_returned_cups_alone_is_refused(festival) -> None:
    wallet = make_wallet(festival.database, festival.event_id, funded=1000)
    cup, water = festival.product_id("Cup"), festival.product_id("Water")
    for lines in [((cup, -2),), ((cup, -2), (water, 4))]:
        response = charge(
            festival.client, festival.cashier, festival.bar["id"], wallet.code, *lines
        )
        assert response.status_code == 422 and error_code(response) == "SALE_TOTAL_NOT_POSITIVE"
    assert _entries(festival.database) == 1  # the funding only
    # Only a deposit item comes back.
    response = charge(
        festival.client, festival.cashier, festival.bar["id"], wallet.code, (water, -1)
    )
    assert response.status_code == 422 and error_code(response) == "RETURN_NOT_DEPOSIT"


def test_insufficient_funds_says_what_is_missing_and_books_nothing(festival) -> None:
    database = festival.database
    wallet = make_wallet(database, festival.event_id, funded=400)
    before = db_snapshot(database)
    response = charge(
        festival.client,
        festival.cashier,
        festival.bar["id"],
        wallet.code,
        (festival.product_id("Beer"), 1),
    )
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "INSUFFICIENT_FUNDS"
    assert error["details"] == {
        "required_minor": 450,
        "available_minor": 400,
        "missing_minor": 50,
        "currency": "EUR",
    }
    assert "0.50 EUR missing" in error["message"]
    assert db_snapshot(database) == before


def test_stock_never_goes_below_zero_and_the_refusal_names_the_product(festival) -> None:
    database = festival.database
    wallet = make_wallet(database, festival.event_id, funded=10_000)
    cap = festival.product_id("Cap")
    sold = charge(festival.client, festival.cashier, festival.bar["id"], wallet.code, (cap, 2))
    assert sold.status_code == 201
    refused = charge(festival.client, festival.cashier, festival.bar["id"], wallet.code, (cap, 1))
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "OUT_OF_STOCK" and "Cap" in error["message"]
    assert error["details"] == {"product_id": cap, "name": "Cap", "available": 0, "requested": 1}
    with database.session(write=False) as session:
        assert session.scalar(select(Product.stock).where(Product.id == uuid.UUID(cap))) == 0
    assert balance(database, wallet.account) == 7000


@pytest.mark.parametrize("status", ["blocked", "payout_pending", "closed"])
def test_a_wallet_that_is_not_active_cannot_spend(festival, status) -> None:
    wallet = make_wallet(festival.database, festival.event_id, funded=1000)
    set_wallet(festival.database, wallet, status=status)
    response = charge(
        festival.client,
        festival.cashier,
        festival.bar["id"],
        wallet.code,
        (festival.product_id("Water"), 1),
    )
    assert response.status_code == 409 and error_code(response) == "WALLET_BLOCKED"
    assert balance(festival.database, wallet.account) == 1000


def test_a_revoked_or_unknown_pass_is_refused(festival) -> None:
    database = festival.database
    wallet = make_wallet(database, festival.event_id, funded=1000)
    water = festival.product_id("Water")
    for shown in ("ABCD-EFGH-JK", "not a pass", "x" * 175):
        response = charge(festival.client, festival.cashier, festival.bar["id"], shown, (water, 1))
        assert response.status_code == 422 and error_code(response) == "PASS_INVALID", shown
    # A pass of another event, QR or code, is not one of this event's.
    other = create_event(festival.client, festival.owner, festival.org)["id"]
    enable_cashless(database, other)
    foreign = make_wallet(database, other, funded=1000)
    for shown in (foreign.code, signed_pass(festival.client, foreign)):
        response = charge(festival.client, festival.cashier, festival.bar["id"], shown, (water, 1))
        assert response.status_code == 422 and error_code(response) == "PASS_INVALID"
    with database.session() as session:
        session.execute(
            update(WalletPass).where(WalletPass.id == wallet.pass_id).values(revoked_at=utcnow())
        )
    response = charge(
        festival.client, festival.cashier, festival.bar["id"], wallet.code, (water, 1)
    )
    assert response.status_code == 409 and error_code(response) == "PASS_REVOKED"


def test_products_must_be_the_stands_and_on_sale_and_the_stand_open(festival) -> None:
    client, owner = festival.client, festival.owner
    wallet = make_wallet(festival.database, festival.event_id, funded=1000)
    water = festival.product_id("Water")
    # A product of another stand.
    response = charge(client, festival.cashier, festival.desk["id"], wallet.code, (water, 1))
    assert response.status_code == 404 and error_code(response) == "PRODUCT_NOT_FOUND"
    assert response.json()["error"]["details"] == {"product_id": water}
    client.patch(
        festival.url(festival.bar["id"], "products", water), json={"active": False}, headers=owner
    )
    response = charge(client, festival.cashier, festival.bar["id"], wallet.code, (water, 1))
    assert response.status_code == 409 and error_code(response) == "PRODUCT_INACTIVE"
    client.patch(festival.url(festival.bar["id"]), json={"active": False}, headers=owner)
    response = charge(client, festival.cashier, festival.bar["id"], wallet.code, (water, 1))
    assert response.status_code == 409 and error_code(response) == "STAND_INACTIVE"


def test_a_cancelled_event_sells_nothing(festival) -> None:
    wallet = make_wallet(festival.database, festival.event_id, funded=1000)
    water = festival.product_id("Water")
    with festival.database.session() as session:
        session.execute(
            update(Event)
            .where(Event.id == uuid.UUID(festival.event_id))
            .values(status=EventStatus.cancelled)
        )
    response = charge(
        festival.client, festival.cashier, festival.bar["id"], wallet.code, (water, 1)
    )
    assert response.status_code == 409 and error_code(response) == "EVENT_CANCELLED"
    assert balance(festival.database, wallet.account) == 1000


def test_cashless_must_be_on_for_the_event(client, clean_database) -> None:
    festival = make_festival(client, clean_database, cashless=False)
    wallet = make_wallet(clean_database, festival.event_id)
    response = charge(
        client, festival.cashier, festival.bar["id"], wallet.code, (festival.product_id("Water"), 1)
    )
    assert response.status_code == 409 and error_code(response) == "CASHLESS_NOT_ENABLED"


@pytest.mark.parametrize(
    "lines",
    [
        [],
        [{"product_id": "not-a-uuid", "quantity": 1}],
        [{"product_id": "00000000-0000-0000-0000-000000000001", "quantity": 0}],
        [{"product_id": "00000000-0000-0000-0000-000000000001", "quantity": 1001}],
        [{"product_id": "00000000-0000-0000-0000-000000000001", "quantity": "1"}],
        [{"product_id": "00000000-0000-0000-0000-000000000001", "quantity": 1}] * 2,
    ],
)
def test_bad_lines_are_refused(festival, lines) -> None:
    body = {"stand_id": festival.bar["id"], "pass": "ABCD-EFGH-JK", "lines": lines}
    response = festival.client.post(
        f"{API}/pos/charges", json=body, headers=key_headers(festival.cashier)
    )
    assert response.status_code == 422 and error_code(response) == "VALIDATION_ERROR"


def test_a_charge_without_an_idempotency_key_is_refused(festival) -> None:
    wallet = make_wallet(festival.database, festival.event_id, funded=1000)
    body = charge_body(festival.bar["id"], wallet.code, (festival.product_id("Water"), 1))
    response = festival.client.post(f"{API}/pos/charges", json=body, headers=festival.cashier)
    assert response.status_code == 400 and error_code(response) == "IDEMPOTENCY_KEY_REQUIRED"
    for bad in ("", "x" * 101, "with space", "tab\there"):
        response = festival.client.post(
            f"{API}/pos/charges", json=body, headers={**festival.cashier, "Idempotency-Key": bad}
        )
        assert response.status_code in (400, 422), bad
    assert balance(festival.database, wallet.account) == 1000


def test_a_retried_charge_answers_the_first_answer_and_books_once(festival) -> None:
    database = festival.database
    wallet = make_wallet(database, festival.event_id, funded=500)
    water = festival.product_id("Water")
    first = charge(
        festival.client, festival.cashier, festival.bar["id"], wallet.code, (water, 5), key="sale-1"
    )
    assert first.status_code == 201
    # The wallet is now empty and the water off sale: the retry still gets the first answer.
    festival.client.patch(
        festival.url(festival.bar["id"], "products", water),
        json={"active": False},
        headers=festival.owner,
    )
    again = charge(
        festival.client, festival.cashier, festival.bar["id"], wallet.code, (water, 5), key="sale-1"
    )
    assert again.status_code == 200
    assert again.json() == first.json()
    assert balance(database, wallet.account) == 0
    assert _entries(database) == 2
    # The same key with another body is refused, and books nothing.
    other = charge(
        festival.client, festival.cashier, festival.bar["id"], wallet.code, (water, 4), key="sale-1"
    )
    assert other.status_code == 422 and error_code(other) == "IDEMPOTENCY_KEY_REUSED"
    assert _entries(database) == 2


def test_a_refused_charge_is_decided_again_when_retried(festival) -> None:
    """Refusals are not stored: the retry of a 402 succeeds once the wallet is topped up."""
    from tests.cashless.pos_helpers import fund

    wallet = make_wallet(festival.database, festival.event_id, funded=100)
    water = festival.product_id("Water")
    refused = charge(
        festival.client, festival.cashier, festival.bar["id"], wallet.code, (water, 2), key="k"
    )
    assert refused.status_code == 402
    fund(festival.database, wallet, 100)
    retried = charge(
        festival.client, festival.cashier, festival.bar["id"], wallet.code, (water, 2), key="k"
    )
    assert retried.status_code == 201 and retried.json()["data"]["balance_minor"] == 0


def test_who_may_charge_at_a_stand(festival, client) -> None:
    wallet = make_wallet(festival.database, festival.event_id, funded=10_000)
    water = festival.product_id("Water")

    def attempt(headers):
        return charge(client, headers, festival.bar["id"], wallet.code, (water, 1))

    assert attempt({}).status_code == 401
    # Gate staff cannot sell; a cashier not assigned to the bar cannot either.
    staff = register(client)
    add_member(client, festival.owner, festival.org, staff["email"], "staff")
    refused = attempt(staff["headers"])
    assert refused.status_code == 403 and error_code(refused) == "PERMISSION_DENIED"
    other_cashier = register(client)
    other_id = add_member(client, festival.owner, festival.org, other_cashier["email"], "cashier")[
        "user"
    ]["id"]
    refused = attempt(other_cashier["headers"])
    assert refused.status_code == 403 and "not assigned" in refused.json()["error"]["message"]
    assign(festival, festival.desk["id"], other_id)
    assert attempt(other_cashier["headers"]).status_code == 403  # the desk, not the bar
    assign(festival, festival.bar["id"], other_id)
    assert attempt(other_cashier["headers"]).status_code == 201
    # Admins and owners stand in at any stand; another organization's members do not
    # learn the stand exists.
    admin = register(client)
    add_member(client, festival.owner, festival.org, admin["email"], "admin")
    assert attempt(admin["headers"]).status_code == 201
    assert attempt(festival.owner).status_code == 201
    stranger = register(client)
    create_org(client, stranger["headers"])
    for headers in (stranger["headers"], register(client)["headers"]):
        refused = attempt(headers)
        assert refused.status_code == 404 and error_code(refused) == "STAND_NOT_FOUND"
    # A cashier whose role is lowered to staff stops selling at once.
    member = next(
        m
        for m in client.get(
            f"{API}/organizations/{festival.org}/members", headers=festival.owner
        ).json()["data"]
        if m["user"]["id"] == other_id
    )
    client.patch(
        f"{API}/organizations/{festival.org}/members/{member['id']}",
        json={"role": "staff"},
        headers=festival.owner,
    )
    assert attempt(other_cashier["headers"]).status_code == 403
    assert balance(festival.database, wallet.account) == 10_000 - 3 * 100
