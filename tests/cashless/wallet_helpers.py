"""Helpers of the wallet, settings and top-up tests: a festival through the API, an
attendee's wallet, top-ups through the test provider, an offline debt booked directly."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from admitone.cashless import ledger
from admitone.cashless.models import AccountKind, EntryKind, EntryOrigin, Wallet
from admitone.db import Database
from tests.factories import make_shop
from tests.helpers import register

API = "/api/v1"
# The festival's settings in the tests: top-ups from 5.00 to 200.00, at most 300.00 held.
SETTINGS = {
    "enabled": True,
    "unit_name": "Jetons",
    "topup_minimum_minor": 500,
    "topup_maximum_minor": 20_000,
    "balance_maximum_minor": 30_000,
    "offline_wallet_cap_minor": 3_000,
    "offline_sale_cap_minor": 1_500,
    "pass_validity_minutes": 120,
    "wallet_with_ticket": False,
    "refund_window_days": 14,
    "refund_minimum_minor": 100,
    "refund_fee_minor": 50,
    "unclaimed_policy": "keep",
    "donation_recipient": None,
}


@dataclass
class Festival:
    owner: dict[str, Any]
    org_slug: str
    event_id: uuid.UUID
    ticket_type_id: uuid.UUID

    @property
    def headers(self) -> dict[str, str]:
        return self.owner["headers"]

    def url(self, *parts: str) -> str:
        return "/".join([f"{API}/organizations/{self.org_slug}/events/{self.event_id}", *parts])


def festival(client: TestClient, database: Database, **settings: Any) -> Festival:
    """A published event (a verified organization's) with cashless set up as ``SETTINGS``
    (changed by ``settings``; ``None`` leaves it without settings)."""
    owner = register(client, full_name="Olive Owner")
    shop = make_shop(database, owner_id=owner["user"]["id"], capacity=50)
    found = Festival(owner, shop.org_slug, shop.event_id, shop.ticket_type_id)
    if settings.get("unset"):
        return found
    response = client.put(
        found.url("cashless"), json={**SETTINGS, **settings}, headers=found.headers
    )
    assert response.status_code == 200, response.text
    return found


def my_wallet(
    client: TestClient, headers: dict[str, str], event_id: uuid.UUID, *, expect: int = 200
) -> dict[str, Any]:
    response = client.get(f"{API}/me/wallets/{event_id}", headers=headers)
    assert response.status_code == expect, response.text
    return response.json()["data"] if expect == 200 else response.json()["error"]


def start_topup(
    client: TestClient,
    headers: dict[str, str],
    event_id: uuid.UUID,
    amount_minor: int,
    *,
    key: str | None = None,
    expect: int = 201,
) -> dict[str, Any]:
    response = client.post(
        f"{API}/me/wallets/{event_id}/topups",
        json={"amount_minor": amount_minor},
        headers={**headers, **({"Idempotency-Key": key} if key else {})},
    )
    assert response.status_code == expect, response.text
    return response.json()["data"] if expect < 400 else response.json()["error"]


def approve(
    client: TestClient, headers: dict[str, str], payment: dict[str, Any], *, expect: int = 200
) -> dict[str, Any]:
    response = client.post(f"{API}/payments/test/{payment['id']}/approve", headers=headers)
    assert response.status_code == expect, response.text
    return response.json()["data"] if expect == 200 else response.json()["error"]


def topped_up(
    client: TestClient, headers: dict[str, str], event_id: uuid.UUID, amount_minor: int
) -> dict[str, Any]:
    """A top-up paid through the test provider; the approval's answer."""
    payment = start_topup(client, headers, event_id, amount_minor)
    result = approve(client, headers, payment)
    assert result["outcome"] == "paid", result
    return result


def attendee(client: TestClient, full_name: str = "Ada Attendee") -> dict[str, Any]:
    return register(client, full_name=full_name)


def wallet_id_of(database: Database, event_id: uuid.UUID, user_id: str) -> uuid.UUID:
    with database.session(write=False) as session:
        found = session.scalar(
            select(Wallet.id).where(
                Wallet.event_id == event_id, Wallet.user_id == uuid.UUID(user_id)
            )
        )
        assert found is not None
        return found


def offline_debt(database: Database, wallet_id: uuid.UUID, amount_minor: int) -> None:
    """An offline sale the empty wallet could not cover, booked as the POS will: all of
    it debt, the wallet blocked for offline use."""
    with database.session() as session:
        wallet = session.get(Wallet, wallet_id)
        assert wallet is not None
        wallet.offline_blocked = True
        _account, debt = ledger.wallet_accounts(
            session, event_id=wallet.event_id, wallet_id=wallet.id
        )
        sales = ledger.account(
            session, event_id=wallet.event_id, kind=AccountKind.sales, key="sales:test:0"
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


def balanced(database: Database, event_id: uuid.UUID) -> bool:
    with database.session(write=False) as session:
        return ledger.trial_balance(session, event_id=event_id).balanced
