"""The attendee's wallet through the API: opened on the first look, its pass signed now
(verified with the event's public key, the caps inside), its history; the organizer's
and the cashier's acts: a new pass for a lost one, blocking, finding a wallet."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from admitone.cashless import passes
from admitone.cashless.errors import PassRevoked
from admitone.cashless.models import SaleLine, Stand, StandKind, Wallet, WalletPass
from admitone.db import utcnow
from admitone.events.models import Event, EventStatus
from admitone.tickets.signing import KeyRing
from tests.cashless.wallet_helpers import (
    API,
    attendee,
    festival,
    my_wallet,
    offline_debt,
    topped_up,
    wallet_id_of,
)
from tests.helpers import add_member, register


def _keys(client) -> KeyRing:
    state = client.app.state
    return KeyRing(settings=state.settings, database=state.db)


def _claims(client, database, qr: str) -> passes.PassClaims:
    claims = passes.parse_pass(qr)
    assert claims is not None
    with database.session(write=False) as session:
        key = _keys(client).find(session, claims.event_id)
    assert key is not None and passes.verify(key.public_key, claims)
    return claims


def test_the_first_look_opens_the_wallet_and_shows_a_pass_signed_now(client, clean_database):
    shop = festival(client, clean_database)
    ada = attendee(client)
    before = utcnow()
    first = my_wallet(client, ada["headers"], shop.event_id)
    assert (first["balance_minor"], first["debt_minor"], first["status"]) == (0, 0, "active")
    assert (first["currency"], first["unit_name"], first["event_id"]) == (
        "EUR",
        "Jetons",
        str(shop.event_id),
    )
    shown = first["current_pass"]
    assert len(shown["code"]) == 12 and shown["code"][4] == "-"
    claims = _claims(client, clean_database, shown["qr"])
    assert (claims.event_id, str(claims.pass_id)) == (shop.event_id, shown["id"])
    # Valid for the event's pass validity from now; nothing to spend, so no offline cap.
    not_after = claims.not_after
    assert before + timedelta(minutes=119) < not_after <= utcnow() + timedelta(minutes=120)
    assert not_after.isoformat().replace("+00:00", "Z")[:19] == shown["not_after"][:19]
    assert (claims.wallet_cap_minor, claims.sale_cap_minor) == (0, 0)

    again = my_wallet(client, ada["headers"], shop.event_id)
    assert (again["id"], again["current_pass"]["code"]) == (first["id"], shown["code"])
    with clean_database.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Wallet)) == 1
        assert session.scalar(select(func.count()).select_from(WalletPass)) == 1

    listed = client.get(f"{API}/me/wallets", headers=ada["headers"]).json()["data"]
    assert [wallet["id"] for wallet in listed] == [first["id"]]


@pytest.mark.parametrize(
    ("balance", "caps"), [(5_000, (3_000, 1_500)), (1_000, (1_000, 1_000)), (0, (0, 0))]
)
def test_the_pass_carries_the_caps_never_more_than_the_balance(
    client, clean_database, balance, caps
):
    shop = festival(client, clean_database)
    ada = attendee(client)
    if balance:
        topped_up(client, ada["headers"], shop.event_id, balance)
    shown = my_wallet(client, ada["headers"], shop.event_id)["current_pass"]
    claims = _claims(client, clean_database, shown["qr"])
    assert (claims.wallet_cap_minor, claims.sale_cap_minor) == caps
    assert (shown["offline_wallet_cap_minor"], shown["offline_sale_cap_minor"]) == caps


def test_a_wallet_with_debt_or_blocked_gets_no_offline_cap(client, clean_database):
    shop = festival(client, clean_database)
    ada = attendee(client)
    topped_up(client, ada["headers"], shop.event_id, 2_000)
    wallet_id = wallet_id_of(clean_database, shop.event_id, ada["user"]["id"])
    blocked = client.post(shop.url("wallets", str(wallet_id), "block"), headers=shop.headers)
    assert blocked.status_code == 200, blocked.text
    assert blocked.json()["data"]["status"] == "blocked"
    shown = my_wallet(client, ada["headers"], shop.event_id)["current_pass"]
    assert (shown["offline_wallet_cap_minor"], shown["offline_sale_cap_minor"]) == (0, 0)
    # Blocking twice changes nothing; unblocking gives the caps back.
    assert client.post(shop.url("wallets", str(wallet_id), "block"), headers=shop.headers).json()[
        "data"
    ]["status"] == ("blocked")
    unblocked = client.post(shop.url("wallets", str(wallet_id), "unblock"), headers=shop.headers)
    assert unblocked.json()["data"]["status"] == "active"
    shown = my_wallet(client, ada["headers"], shop.event_id)["current_pass"]
    assert shown["offline_wallet_cap_minor"] == 2_000

    bob = attendee(client, "Bob")
    my_wallet(client, bob["headers"], shop.event_id)
    offline_debt(
        clean_database, wallet_id_of(clean_database, shop.event_id, bob["user"]["id"]), 300
    )
    card = my_wallet(client, bob["headers"], shop.event_id)
    assert (card["balance_minor"], card["debt_minor"], card["offline_blocked"]) == (0, 300, True)
    assert card["current_pass"]["offline_wallet_cap_minor"] == 0


def test_no_wallet_where_cashless_is_off_or_the_event_not_on_sale(client, clean_database):
    ada = attendee(client)
    unset = festival(client, clean_database, unset=True)
    assert my_wallet(client, ada["headers"], unset.event_id, expect=409)["code"] == (
        "CASHLESS_NOT_ENABLED"
    )
    off = festival(client, clean_database, enabled=False)
    assert my_wallet(client, ada["headers"], off.event_id, expect=409)["code"] == (
        "CASHLESS_NOT_ENABLED"
    )
    with clean_database.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Wallet)) == 0  # none opened
    draft = festival(client, clean_database)
    with clean_database.session() as session:
        event = session.get(Event, draft.event_id)
        assert event is not None
        event.status = EventStatus.draft
    assert my_wallet(client, ada["headers"], draft.event_id, expect=404)["code"] == "NOT_FOUND"
    assert my_wallet(client, ada["headers"], uuid.uuid4(), expect=404)["code"] == "NOT_FOUND"
    assert client.get(f"{API}/me/wallets/{draft.event_id}").status_code == 401


def test_a_ticket_buyer_has_a_wallet_when_the_organizer_wants_it(client, clean_database):
    shop = festival(client, clean_database, wallet_with_ticket=True)
    other = festival(client, clean_database)  # no wallet with its tickets
    ada = attendee(client)
    for event in (shop, other):
        order = client.post(
            f"{API}/orders",
            json={
                "event_id": str(event.event_id),
                "items": [{"ticket_type_id": str(event.ticket_type_id), "quantity": 1}],
                "buyer": {"name": "Ada", "email": ada["email"]},
            },
            headers=ada["headers"],
        ).json()["data"]
        payment = client.post(f"{API}/orders/{order['id']}/pay", headers=ada["headers"]).json()
        approved = client.post(
            f"{API}/payments/test/{payment['data']['id']}/approve", headers=ada["headers"]
        )
        assert approved.json()["data"]["outcome"] == "paid"
    listed = client.get(f"{API}/me/wallets", headers=ada["headers"]).json()["data"]
    assert [wallet["event_id"] for wallet in listed] == [str(shop.event_id)]
    again = client.get(f"{API}/me/wallets", headers=ada["headers"]).json()["data"]
    assert again == listed
    # Someone without a ticket has none there.
    assert client.get(f"{API}/me/wallets", headers=attendee(client)["headers"]).json()["data"] == (
        []
    )


def test_the_history_names_stand_and_items_the_newest_first(client, clean_database):
    shop = festival(client, clean_database)
    ada = attendee(client)
    topped_up(client, ada["headers"], shop.event_id, 2_000)
    wallet_id = wallet_id_of(clean_database, shop.event_id, ada["user"]["id"])
    offline_debt(clean_database, wallet_id, 1)  # a tiny debt, paid by the next top-up
    _sell(clean_database, shop.event_id, wallet_id)
    topped_up(client, ada["headers"], shop.event_id, 500)

    response = client.get(
        f"{API}/me/wallets/{shop.event_id}/transactions?per_page=2", headers=ada["headers"]
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["meta"] == {"page": 1, "per_page": 2, "total": 4}
    newest, sale = body["data"]
    # The top-up paid the debt first.
    assert (newest["kind"], newest["amount_minor"], newest["debt_change_minor"]) == (
        "topup",
        500,
        -1,
    )
    assert (sale["kind"], sale["amount_minor"], sale["stand_name"]) == ("sale", -750, "Main bar")
    assert sale["items"] == [
        {"name": "Beer", "quantity": 2, "unit_price_minor": 300, "total_minor": 600},
        {"name": "Cup", "quantity": 1, "unit_price_minor": 150, "total_minor": 150},
    ]
    older = client.get(
        f"{API}/me/wallets/{shop.event_id}/transactions?per_page=2&page=2", headers=ada["headers"]
    ).json()["data"]
    assert [
        (entry["kind"], entry["amount_minor"], entry["debt_change_minor"]) for entry in older
    ] == [
        ("sale", -1, 1),
        ("topup", 2_000, 0),
    ]
    # Someone without a wallet there has no history (and reading opens nothing).
    bob = attendee(client, "Bob")
    empty = client.get(f"{API}/me/wallets/{shop.event_id}/transactions", headers=bob["headers"])
    assert empty.json() == {"data": [], "meta": {"page": 1, "per_page": 20, "total": 0}}
    assert client.get(f"{API}/me/wallets", headers=bob["headers"]).json()["data"] == []


def _sell(database, event_id: uuid.UUID, wallet_id: uuid.UUID) -> None:
    """A sale of 7.50 at the main bar, booked as the point of sale will book it."""
    from admitone.cashless import ledger
    from admitone.cashless.models import EntryKind, EntryOrigin, Product

    with database.session() as session:
        stand = Stand(event_id=event_id, name="Main bar", kind=StandKind.bar)
        session.add(stand)
        session.flush()
        ledger.open_sales_shards(session, event_id=event_id, stand_id=stand.id)
        beer = Product(
            event_id=event_id, stand_id=stand.id, name="Beer", price_minor=300, vat_rate_bp=2000
        )
        cup = Product(
            event_id=event_id,
            stand_id=stand.id,
            name="Cup",
            price_minor=150,
            vat_rate_bp=0,
            deposit=True,
        )
        session.add_all([beer, cup])
        session.flush()
        entry = ledger.begin_entry(
            session,
            event_id=event_id,
            idempotency_key=f"sale-{uuid.uuid4()}",
            kind=EntryKind.sale,
            origin=EntryOrigin.online,
            amount_minor=750,
            wallet_id=wallet_id,
            stand_id=stand.id,
        )
        assert isinstance(entry, uuid.UUID)
        account, _debt = ledger.wallet_accounts(session, event_id=event_id, wallet_id=wallet_id)
        sales = ledger.sales_account(event_id=event_id, stand_id=stand.id, spread=entry)
        ledger.post(session, entry_id=entry, moves=[ledger.Move(account, sales, 750)])
        for number, (product, quantity) in enumerate(((beer, 2), (cup, 1)), start=1):
            session.add(
                SaleLine(
                    entry_id=entry,
                    line_no=number,
                    product_id=product.id,
                    name=product.name,
                    quantity=quantity,
                    unit_price_minor=product.price_minor,
                    vat_rate_bp=product.vat_rate_bp,
                    total_minor=product.price_minor * quantity,
                    vat_minor=0,
                )
            )


def test_a_lost_pass_is_replaced_the_money_stays(client, clean_database):
    shop = festival(client, clean_database)
    ada = attendee(client)
    topped_up(client, ada["headers"], shop.event_id, 2_500)
    old = my_wallet(client, ada["headers"], shop.event_id)
    wallet_id = old["id"]
    # A cashier at the desk may replace it, as the organizer may.
    cashier = register(client)
    add_member(client, shop.headers, shop.org_slug, cashier["email"], "cashier")
    response = client.post(
        shop.url("wallets", wallet_id, "passes", "replace"),
        json={"reason": "Lost phone"},
        headers=cashier["headers"],
    )
    assert response.status_code == 201, response.text
    replaced = response.json()["data"]
    assert (replaced["wallet_id"], replaced["revoked"]) == (wallet_id, 1)
    assert replaced["code"] != old["current_pass"]["code"]

    keys = _keys(client)
    with clean_database.session(write=False) as session:
        for shown in (old["current_pass"]["qr"], old["current_pass"]["code"]):
            with pytest.raises(PassRevoked):
                passes.find_pass(session, keys, event_id=shop.event_id, shown=shown)
        found, wallet = passes.find_pass(
            session, keys, event_id=shop.event_id, shown=replaced["code"].lower()
        )
        assert (str(found.id), str(wallet.id)) == (replaced["pass_id"], wallet_id)
        revoked = session.scalar(select(WalletPass).where(WalletPass.revoke_reason.is_not(None)))
        assert revoked is not None and revoked.revoke_reason == "Lost phone"

    now = my_wallet(client, ada["headers"], shop.event_id)
    assert (now["id"], now["balance_minor"]) == (wallet_id, 2_500)
    assert now["current_pass"]["code"] == replaced["code"]
    # Gate staff may not; another organization's owner finds no such wallet.
    staff = register(client)
    add_member(client, shop.headers, shop.org_slug, staff["email"], "staff")
    assert (
        client.post(
            shop.url("wallets", wallet_id, "passes", "replace"),
            json={"reason": "x"},
            headers=staff["headers"],
        ).status_code
        == 403
    )
    other = festival(client, clean_database)
    refused = client.post(
        other.url("wallets", wallet_id, "passes", "replace"),
        json={"reason": "x"},
        headers=other.headers,
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "WALLET_NOT_FOUND")


def test_a_wallet_is_found_by_its_holder_or_a_printed_code(client, clean_database):
    shop = festival(client, clean_database)
    ada = attendee(client, "Ada Lovelace")
    bob = attendee(client, "Bob Marley")
    topped_up(client, ada["headers"], shop.event_id, 1_000)
    ada_card = my_wallet(client, ada["headers"], shop.event_id)
    my_wallet(client, bob["headers"], shop.event_id)
    lost_code = ada_card["current_pass"]["code"]
    client.post(
        shop.url("wallets", ada_card["id"], "passes", "replace"),
        json={"reason": "Lost wristband"},
        headers=shop.headers,
    )

    def search(text: str | None) -> list[dict]:
        response = client.get(
            shop.url("wallets"), params={"search": text} if text else None, headers=shop.headers
        )
        assert response.status_code == 200, response.text
        return response.json()["data"]

    assert {wallet["holder_name"] for wallet in search(None)} == {"Ada Lovelace", "Bob Marley"}
    found = search("LOVELACE")
    assert [(w["id"], w["balance_minor"], w["holder_email"]) for w in found] == [
        (ada_card["id"], 1_000, ada["email"])
    ]
    assert found[0]["code"] != lost_code  # its current code
    assert [w["id"] for w in search(bob["email"][:12])] == [search("bob")[0]["id"]]
    # The lost code still finds the wallet, typed any way.
    assert [w["id"] for w in search(lost_code.lower().replace("-", " "))] == [ada_card["id"]]
    assert search("100%_") == []
    # The other organization's event: not found.
    other = festival(client, clean_database)
    elsewhere = client.get(
        f"{API}/organizations/{other.org_slug}/events/{shop.event_id}/wallets",
        headers=other.headers,
    )
    assert elsewhere.status_code == 404


def test_an_event_without_wallets_has_none_to_find(client, clean_database):
    shop = festival(client, clean_database)
    response = client.get(shop.url("wallets"), headers=shop.headers)
    assert response.json() == {"data": [], "meta": {"page": 1, "per_page": 20, "total": 0}}
