"""A festival ready to sell, for the point-of-sale tests: an organization with cashless
on for an event, a bar and a top-up desk with their products, a cashier assigned to both,
and wallets funded through the ledger (the attendees' own top-ups are another part)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from admitone.cashless import ledger, passes, wallets
from admitone.cashless.models import (
    AccountKind,
    CashlessSettings,
    EntryOrigin,
    Wallet,
    WalletPass,
)
from admitone.db import Database, utcnow
from admitone.tickets.signing import KeyRing
from tests.factories import make_user
from tests.helpers import add_member, create_event, create_org, events_url, register

API = "/api/v1"
CASHLESS = {
    "topup_minimum_minor": 500,
    "topup_maximum_minor": 20_000,
    "balance_maximum_minor": 30_000,
    "offline_wallet_cap_minor": 2_000,
    "offline_sale_cap_minor": 1_000,
    "unit_name": "Jetons",
}
# name -> the product's body at the bar.
BAR_PRODUCTS = {
    "Beer": {"name": "Beer", "price_minor": 450, "vat_rate_bp": 2000, "category": "Drinks"},
    "Cup": {"name": "Cup", "price_minor": 200, "vat_rate_bp": 0, "deposit": True},
    "Water": {"name": "Water", "price_minor": 100, "vat_rate_bp": 550, "category": "Drinks"},
    "Cap": {"name": "Cap", "price_minor": 1500, "vat_rate_bp": 2000, "stock": 2},
}


@dataclass
class Festival:
    client: TestClient
    database: Database
    org: str
    event_id: str
    owner: dict[str, str]
    cashier: dict[str, str]
    cashier_id: str
    bar: dict[str, Any]
    desk: dict[str, Any]
    products: dict[str, dict[str, Any]] = field(default_factory=dict)

    def url(self, *parts: str) -> str:
        return events_url(self.org, self.event_id, "stands", *parts)

    def product_id(self, name: str) -> str:
        return str(self.products[name]["id"])


def enable_cashless(database: Database, event_id: str | uuid.UUID, **overrides: Any) -> None:
    with database.session() as session:
        session.add(
            CashlessSettings(event_id=uuid.UUID(str(event_id)), **{**CASHLESS, **overrides})
        )


def create_stand(
    client: TestClient, headers: dict[str, str], org: str, event_id: str, **body: Any
) -> dict[str, Any]:
    response = client.post(events_url(org, event_id, "stands"), json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def create_product(
    client: TestClient, headers: dict[str, str], url: str, **body: Any
) -> dict[str, Any]:
    response = client.post(url, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def assign(festival: Festival, stand_id: str, user_id: str, headers: dict[str, str] | None = None):
    return festival.client.put(
        festival.url(stand_id, "cashiers", user_id), headers=headers or festival.owner
    )


def make_festival(client: TestClient, database: Database, *, cashless: bool = True) -> Festival:
    owner = register(client)
    org = create_org(client, owner["headers"])["slug"]
    event_id = create_event(client, owner["headers"], org)["id"]
    if cashless:
        enable_cashless(database, event_id)
    cashier = register(client)
    cashier_id = add_member(client, owner["headers"], org, cashier["email"], "cashier")["user"][
        "id"
    ]
    bar = create_stand(client, owner["headers"], org, event_id, name="Main bar", kind="bar")
    desk = create_stand(client, owner["headers"], org, event_id, name="Desk", kind="topup_desk")
    festival = Festival(
        client=client,
        database=database,
        org=org,
        event_id=event_id,
        owner=owner["headers"],
        cashier=cashier["headers"],
        cashier_id=cashier_id,
        bar=bar,
        desk=desk,
    )
    for stand in (bar, desk):
        assert assign(festival, stand["id"], cashier_id).status_code == 200
    products_url = festival.url(bar["id"], "products")
    festival.products = {
        name: create_product(client, owner["headers"], products_url, **body)
        for name, body in BAR_PRODUCTS.items()
    }
    return festival


# --- wallets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestWallet:
    id: uuid.UUID
    event_id: uuid.UUID
    pass_id: uuid.UUID
    code: str  # the printed code, as a cashier types it
    account: ledger.AccountRef
    debt: ledger.AccountRef

    __test__ = False


def make_wallet(database: Database, event_id: str | uuid.UUID, *, funded: int = 0) -> TestWallet:
    """An attendee's wallet with its first pass, ``funded`` minor units in it (an online
    top-up booked through the ledger)."""
    event_id = uuid.UUID(str(event_id))
    user_id = make_user(database)
    with database.session() as session:
        wallet = wallets.open_wallet(session, event_id=event_id, user_id=user_id)
        wallet_pass = session.scalars(
            select(WalletPass).where(WalletPass.wallet_id == wallet.id)
        ).one()
        account, debt = ledger.wallet_accounts(session, event_id=event_id, wallet_id=wallet.id)
        made = TestWallet(
            wallet.id,
            event_id,
            wallet_pass.id,
            passes.display_code(wallet_pass.code),
            account,
            debt,
        )
    if funded:
        fund(database, made, funded)
    return made


def fund(database: Database, wallet: TestWallet, amount: int) -> None:
    with database.session() as session:
        found = session.get(Wallet, wallet.id)
        assert found is not None
        wallets.credit(
            session,
            wallet=found,
            amount_minor=amount,
            source=ledger.account(
                session, event_id=wallet.event_id, kind=AccountKind.online_payments
            ),
            idempotency_key=f"fund-{uuid.uuid4()}",
            origin=EntryOrigin.online,
        )


def signed_pass(client: TestClient, wallet: TestWallet) -> str:
    """The wallet's pass as its holder's phone shows it: a QR signed with the event's key."""
    state = client.app.state  # type: ignore[attr-defined]
    keys = KeyRing(settings=state.settings, database=state.db)
    # A read-only session: a new key is written in a unit of work of its own.
    with state.db.session(write=False) as session:
        key = keys.get_or_create(session, wallet.event_id)
        return passes.sign_pass(
            keys,
            key,
            pass_id=wallet.pass_id,
            not_after=utcnow() + timedelta(hours=1),
            wallet_cap_minor=2000,
            sale_cap_minor=1000,
        )


def set_wallet(database: Database, wallet: TestWallet, **values: Any) -> None:
    with database.session() as session:
        session.execute(update(Wallet).where(Wallet.id == wallet.id).values(**values))


def balance(database: Database, ref: ledger.AccountRef) -> int:
    with database.session(write=False) as session:
        return ledger.balances(session, [ref])[ref.id]


def balanced(database: Database, event_id: str | uuid.UUID) -> bool:
    with database.session(write=False) as session:
        return ledger.trial_balance(session, event_id=uuid.UUID(str(event_id))).balanced


# --- point-of-sale calls -------------------------------------------------------------------


def key_headers(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key or f"key-{uuid.uuid4()}"}


def charge_body(stand_id: str, shown: str, *lines: tuple[str, int]) -> dict[str, Any]:
    return {
        "stand_id": stand_id,
        "pass": shown,
        "lines": [
            {"product_id": product_id, "quantity": quantity} for product_id, quantity in lines
        ],
    }


def charge(
    client: TestClient,
    headers: dict[str, str],
    stand_id: str,
    shown: str,
    *lines: tuple[str, int],
    key: str | None = None,
):
    return client.post(
        f"{API}/pos/charges",
        json=charge_body(stand_id, shown, *lines),
        headers=key_headers(headers, key),
    )


def error_code(response: Any) -> str:
    return response.json()["error"]["code"]
