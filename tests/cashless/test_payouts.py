"""Leftover refunds after the event (issue 17, point 7): the amounts (debt settled
first, the fee kept), the card part split over the top-up payments and refunded through
the provider, the bank part with a validated IBAN, the window, a wallet being paid back
that spends no more, one payout per wallet (retries and a real race, with a negative
control), the organizer's list and SEPA export, and the close. The trial balance stays
zero throughout."""

from __future__ import annotations

import threading
import uuid
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from admitone.cashless import ledger, payouts
from admitone.cashless.models import (
    EntryKind,
    JournalEntry,
    LedgerAccount,
    Wallet,
    WalletPayout,
    WalletStatus,
)
from admitone.errors import DomainError
from admitone.payments.models import Payment, PaymentStatus, Refund
from tests.cashless.payout_helpers import (
    BAD_IBAN,
    GOOD_IBAN,
    ORGANIZER_IBAN,
    OTHER_IBAN,
    debt_beside_balance,
    desk_topup,
    end_event,
    refund,
    spend,
)
from tests.cashless.pos_helpers import make_wallet
from tests.cashless.wallet_helpers import (
    API,
    attendee,
    balanced,
    festival,
    my_wallet,
    start_topup,
    topped_up,
    wallet_id_of,
)
from tests.conftest import BACKEND
from tests.payments import conftest as payments_fixtures
from tests.payments.stripe_helpers import charge, post_event

DAY = timedelta(days=1)


def _ask(client, headers, event_id, *, expect: int = 201, **body: Any) -> dict[str, Any]:
    response = client.post(
        f"{API}/me/wallets/{event_id}/refund-request", json=body, headers=headers
    )
    assert response.status_code == expect, response.text
    return response.json()["data"] if expect < 400 else response.json()["error"]


def _quote(client, headers, event_id) -> dict[str, Any]:
    response = client.get(f"{API}/me/wallets/{event_id}/refund", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _balances(database, event_id) -> dict[str, int]:
    with database.session(write=False) as session:
        rows = session.execute(
            select(LedgerAccount.kind, func.sum(LedgerAccount.balance_minor))
            .where(LedgerAccount.event_id == event_id)
            .group_by(LedgerAccount.kind)
        ).all()
    return {str(kind): int(total) for kind, total in rows if total}


def _count(database, model, *where) -> int:
    with database.session(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _wallet_status(database, wallet_id) -> WalletStatus:
    with database.session(write=False) as session:
        found = session.scalar(select(Wallet.status).where(Wallet.id == wallet_id))
    assert found is not None
    return WalletStatus(found)


def test_debt_first_the_fee_kept_the_rest_to_the_cards_newest_first(client, clean_database):
    shop = festival(client, clean_database)  # fee 0.50, minimum 1.00
    ada = attendee(client)
    older = topped_up(client, ada["headers"], shop.event_id, 2_500)
    newer = topped_up(client, ada["headers"], shop.event_id, 1_000)
    assert older and newer
    wallet_id = wallet_id_of(clean_database, shop.event_id, ada["user"]["id"])
    spend(clean_database, shop.event_id, wallet_id, 1_000)
    debt_beside_balance(clean_database, wallet_id, 300)
    end_event(clean_database, shop.event_id, ended_ago=DAY)

    # 25.00 held, 3.00 owed: 22.00 left, 0.50 kept, 21.50 back to the cards: all of the
    # newer payment (10.00) and 11.50 of the older; no bank account needed.
    quote = _quote(client, ada["headers"], shop.event_id)
    assert quote["window"] == "open" and quote["refusal"] is None
    assert (quote["amount_minor"], quote["card_minor"], quote["bank_minor"]) == (2_150, 2_150, 0)
    assert (quote["fee_minor"], quote["debt_minor"], quote["needs_bank_account"]) == (
        50,
        300,
        False,
    )

    payout = _ask(client, ada["headers"], shop.event_id)
    assert (payout["status"], payout["amount_minor"], payout["card_minor"]) == (
        "completed",
        2_150,
        2_150,
    )
    assert (payout["bank_minor"], payout["fee_minor"], payout["debt_settled_minor"]) == (0, 50, 300)
    assert payout["iban"] is None
    with clean_database.session(write=False) as session:
        paid = {
            p.amount_minor: p
            for p in session.scalars(select(Payment).where(Payment.purpose == "wallet_topup")).all()
        }
        refunds = session.scalars(select(Refund).order_by(Refund.amount_minor)).all()
    assert (paid[1_000].refunded_minor, paid[1_000].status) == (1_000, PaymentStatus.refunded)
    assert (paid[2_500].refunded_minor, paid[2_500].status) == (1_150, PaymentStatus.succeeded)
    assert [(r.amount_minor, r.reason) for r in refunds] == [
        (1_000, "wallet_leftover"),
        (1_150, "wallet_leftover"),
    ]
    assert {part["amount_minor"] for part in payout["card_refunds"]} == {1_000, 1_150}

    card = my_wallet(client, ada["headers"], shop.event_id)
    assert (card["balance_minor"], card["debt_minor"], card["status"]) == (0, 0, "payout_pending")
    assert _balances(clean_database, shop.event_id) == {
        "online_payments": -3_500 + 2_150,
        "fees": 50,
        "sales": 1_300,
    }
    assert balanced(clean_database, shop.event_id)
    history = client.get(
        f"{API}/me/wallets/{shop.event_id}/transactions", headers=ada["headers"]
    ).json()["data"]
    assert (history[0]["kind"], history[0]["amount_minor"], history[0]["debt_change_minor"]) == (
        "payout",
        -2_200,
        -300,
    )


def test_cash_and_desk_money_goes_to_a_valid_iban(client, clean_database):
    shop = festival(client, clean_database)
    ada = attendee(client)
    topped_up(client, ada["headers"], shop.event_id, 1_000)
    wallet_id = wallet_id_of(clean_database, shop.event_id, ada["user"]["id"])
    desk_topup(clean_database, wallet_id, 1_500)
    end_event(clean_database, shop.event_id, ended_ago=DAY)
    quote = _quote(client, ada["headers"], shop.event_id)
    assert (quote["card_minor"], quote["bank_minor"], quote["needs_bank_account"]) == (
        1_000,
        1_450,
        True,
    )

    # Refused, nothing changed: no account, a bad IBAN, an IBAN without its holder.
    missing = _ask(client, ada["headers"], shop.event_id, expect=422)
    assert missing["code"] == "BANK_ACCOUNT_REQUIRED"
    assert missing["details"] == {"field": "iban", "bank_minor": 1_450}
    bad = _ask(
        client, ada["headers"], shop.event_id, expect=422, iban=BAD_IBAN, account_holder="Ada"
    )
    assert (bad["code"], bad["details"]["field"]) == ("IBAN_INVALID", "iban")
    nameless = _ask(client, ada["headers"], shop.event_id, expect=422, iban=GOOD_IBAN)
    assert nameless["details"]["field"] == "account_holder"
    bad_bic = _ask(
        client,
        ada["headers"],
        shop.event_id,
        expect=422,
        iban=GOOD_IBAN,
        account_holder="Ada",
        bic="NOTABIC",
    )
    assert (bad_bic["code"], bad_bic["details"]["field"]) == ("BIC_INVALID", "bic")
    assert _wallet_status(clean_database, wallet_id) == WalletStatus.active
    assert _count(clean_database, Refund) == 0
    assert my_wallet(client, ada["headers"], shop.event_id)["balance_minor"] == 2_500

    payout = _ask(
        client, ada["headers"], shop.event_id, iban=GOOD_IBAN, account_holder="  Ada   Lovelace "
    )
    assert (payout["status"], payout["card_minor"], payout["bank_minor"]) == (
        "pending",
        1_000,
        1_450,
    )
    assert payout["account_holder"] == "Ada Lovelace"
    assert payout["iban"] == "DE****************3000"  # masked to its holder
    with clean_database.session(write=False) as session:
        stored = session.scalars(select(WalletPayout)).one()
    assert stored.iban == "DE89370400440532013000"
    assert _balances(clean_database, shop.event_id) == {
        "card_terminal": -1_500,
        "bank_payouts": 1_450,
        "fees": 50,
    }
    assert balanced(clean_database, shop.event_id)


def test_the_window_and_the_minimum(client, clean_database):
    shop = festival(client, clean_database)
    ada = attendee(client)
    topped_up(client, ada["headers"], shop.event_id, 1_000)
    wallet_id = wallet_id_of(clean_database, shop.event_id, ada["user"]["id"])

    # The event has not ended (the factory's event is in the future).
    early = _ask(client, ada["headers"], shop.event_id, expect=409)
    assert early["code"] == "REFUND_WINDOW_NOT_OPEN" and "opens_at" in early["details"]
    assert _quote(client, ada["headers"], shop.event_id)["window"] == "before"
    # Past the 14 days.
    end_event(clean_database, shop.event_id, ended_ago=15 * DAY)
    late = _ask(client, ada["headers"], shop.event_id, expect=409)
    assert late["code"] == "REFUND_WINDOW_CLOSED"
    quote = _quote(client, ada["headers"], shop.event_id)
    assert (quote["window"], quote["refusal"]["code"]) == ("closed", "REFUND_WINDOW_CLOSED")
    # The last day of the window is still in it.
    end_event(clean_database, shop.event_id, ended_ago=14 * DAY - timedelta(minutes=5))
    spend(clean_database, shop.event_id, wallet_id, 880)  # 1.20 left: 0.70 after the fee
    small = _ask(client, ada["headers"], shop.event_id, expect=409)
    assert (small["code"], small["details"]) == (
        "REFUND_BELOW_MINIMUM",
        {"refundable_minor": 70, "minimum_minor": 100, "fee_minor": 50},
    )
    spend(clean_database, shop.event_id, wallet_id, 120)
    assert _ask(client, ada["headers"], shop.event_id, expect=409)["code"] == "NOTHING_TO_REFUND"
    assert _wallet_status(clean_database, wallet_id) == WalletStatus.active
    # No wallet at all.
    bob = attendee(client, "Bob")
    assert _ask(client, bob["headers"], shop.event_id, expect=404)["code"] == "WALLET_NOT_FOUND"
    assert balanced(clean_database, shop.event_id)


def test_a_wallet_being_paid_back_spends_nothing(client, clean_database):
    from tests.cashless.pos_helpers import (
        charge,
        create_product,
        create_stand,
        error_code,
        signed_pass,
    )

    shop = festival(client, clean_database)
    ada = attendee(client)
    topped_up(client, ada["headers"], shop.event_id, 2_000)
    stand = create_stand(
        client, shop.headers, shop.org_slug, str(shop.event_id), name="Bar", kind="bar"
    )
    product = create_product(
        client,
        shop.headers,
        shop.url("stands", stand["id"], "products"),
        name="Beer",
        price_minor=500,
        vat_rate_bp=2000,
    )
    end_event(clean_database, shop.event_id, ended_ago=DAY)
    _ask(client, ada["headers"], shop.event_id)

    card = my_wallet(client, ada["headers"], shop.event_id)
    assert card["current_pass"]["offline_wallet_cap_minor"] == 0
    assert card["current_pass"]["offline_sale_cap_minor"] == 0
    from tests.cashless.pos_helpers import TestWallet

    wallet_id = wallet_id_of(clean_database, shop.event_id, ada["user"]["id"])
    with clean_database.session(write=False) as session:
        account, debt = ledger.wallet_accounts(session, event_id=shop.event_id, wallet_id=wallet_id)
        from admitone.cashless.models import WalletPass

        wallet_pass = session.scalars(
            select(WalletPass).where(WalletPass.wallet_id == wallet_id)
        ).one()
    shown = signed_pass(
        client, TestWallet(wallet_id, shop.event_id, wallet_pass.id, "", account, debt)
    )
    refused = charge(client, shop.headers, stand["id"], shown, (product["id"], 1))
    assert refused.status_code == 409 and error_code(refused) == "WALLET_BLOCKED"
    topup = start_topup(client, ada["headers"], shop.event_id, 1_000, expect=409)
    assert topup["code"] == "WALLET_CLOSED"
    assert balanced(clean_database, shop.event_id)


def test_asking_again_answers_the_same_payout(client, clean_database):
    shop = festival(client, clean_database)
    ada = attendee(client)
    topped_up(client, ada["headers"], shop.event_id, 2_000)
    end_event(clean_database, shop.event_id, ended_ago=DAY)
    first = _ask(client, ada["headers"], shop.event_id)
    again = _ask(
        client, ada["headers"], shop.event_id, expect=200, iban=GOOD_IBAN, account_holder="X"
    )
    assert again["id"] == first["id"] and again["amount_minor"] == 1_950
    assert _quote(client, ada["headers"], shop.event_id)["payout"]["id"] == first["id"]
    assert _count(clean_database, WalletPayout) == 1
    assert _count(clean_database, Refund) == 1
    assert _count(clean_database, JournalEntry, JournalEntry.kind == EntryKind.payout) == 1
    assert balanced(clean_database, shop.event_id)


# --- a real race ---------------------------------------------------------------------------


def _race(database, settings, event_id, user_id, racers: int = 2) -> list[Any]:
    barrier = threading.Barrier(racers)

    def one(_n: int) -> Any:
        barrier.wait(timeout=20)
        try:
            return refund(database, settings, event_id=event_id, user_id=user_id)
        except DomainError as exc:
            return exc

    with ThreadPoolExecutor(racers) as pool:
        return list(pool.map(one, range(racers)))


def _funded_wallet(database, event_id, amount):
    made = make_wallet(database, event_id, funded=amount)
    with database.session(write=False) as session:
        user_id = session.scalar(select(Wallet.user_id).where(Wallet.id == made.id))
    return made, user_id


def test_two_requests_at_once_pay_back_once(client, clean_database, settings):
    shop = festival(client, clean_database)
    end_event(clean_database, shop.event_id, ended_ago=DAY)
    for _round in range(3):
        made, user_id = _funded_wallet(clean_database, shop.event_id, 2_000)
        results = _race(clean_database, settings, shop.event_id, user_id, racers=3)
        assert all(isinstance(r, payouts.RequestedPayout) for r in results), results
        assert len({r.payout.id for r in results}) == 1
        assert sorted(r.replayed for r in results) == [False, True, True]
        with clean_database.session(write=False) as session:
            count = session.scalar(
                select(func.count())
                .select_from(WalletPayout)
                .where(WalletPayout.wallet_id == made.id)
            )
            held = ledger.balances(session, [made.account])[made.account.id]
        assert (count, held) == (1, 0)
    assert _balances(clean_database, shop.event_id)["bank_payouts"] == 3 * 1_950
    assert balanced(clean_database, shop.event_id)


@pytest.mark.skipif(BACKEND != "postgresql", reason="SQLite runs one writer at a time")
def test_negative_control_without_the_claim_both_requests_pay(
    client, clean_database, settings, monkeypatch
):
    """With the wallet's locks and its claim replaced by plain reads (and the entry's key
    made unique), two requests at once both read the full balance: the second is
    stopped only by the ledger's own net (LEDGER_REFUSED), not answered its payout."""
    shop = festival(client, clean_database)
    end_event(clean_database, shop.event_id, ended_ago=DAY)
    barrier = threading.Barrier(2)

    def unguarded(session, wallet_id, now):
        account, debt = ledger.wallet_accounts(session, event_id=shop.event_id, wallet_id=wallet_id)
        held = ledger.balances(session, [account, debt])
        barrier.wait(timeout=20)  # both have read the balance before either books
        return payouts.Claimed(account, held[account.id], debt, -held[debt.id])

    real_begin = ledger.begin_entry

    def fresh_key(session, **kwargs):
        kwargs["idempotency_key"] = f"{kwargs['idempotency_key']}:{uuid.uuid4()}"
        return real_begin(session, **kwargs)

    monkeypatch.setattr(payouts, "_claim_wallet", unguarded)
    monkeypatch.setattr(payouts, "_payout_of", lambda session, wallet_id: None)
    monkeypatch.setattr(ledger, "begin_entry", fresh_key)
    _made, user_id = _funded_wallet(clean_database, shop.event_id, 2_000)
    results = _race(clean_database, settings, shop.event_id, user_id)
    codes = sorted(getattr(r, "code", "paid") for r in results)
    assert codes == ["LEDGER_REFUSED", "paid"], results


# --- the organizer's: the list, the SEPA export ----------------------------------------------

PAIN = "{urn:iso:std:iso:20022:tech:xsd:pain.001.001.03}"


def test_the_organizer_lists_and_exports_the_bank_payouts_once(client, clean_database):
    shop = festival(client, clean_database)
    ada, bob, cy = attendee(client), attendee(client, "Bob"), attendee(client, "Cy")
    for person, amount in ((ada, 1_000), (bob, 2_000), (cy, 3_000)):
        my_wallet(client, person["headers"], shop.event_id)
        wallet_id = wallet_id_of(clean_database, shop.event_id, person["user"]["id"])
        desk_topup(clean_database, wallet_id, amount)
    topped_up(client, cy["headers"], shop.event_id, 500)  # Cy's card gets 5.00 back
    end_event(clean_database, shop.event_id, ended_ago=DAY)
    _ask(client, ada["headers"], shop.event_id, iban=GOOD_IBAN, account_holder="Ada Attendee")
    _ask(client, bob["headers"], shop.event_id, iban=OTHER_IBAN, account_holder="Bob Müller")

    listed = client.get(shop.url("cashless", "payouts"), headers=shop.headers)
    assert listed.status_code == 200, listed.text
    rows = listed.json()["data"]
    assert sorted(row["bank_minor"] for row in rows) == [950, 1_950]
    assert {row["holder_email"] for row in rows} == {ada["email"], bob["email"]}
    assert {row["iban"] for row in rows} == {
        "DE89370400440532013000",
        "FR1420041010050500013M02606",
    }
    one = client.get(shop.url("cashless", "payouts"), params={"per_page": 1}, headers=shop.headers)
    assert len(one.json()["data"]) == 1 and one.json()["meta"]["total"] == 2
    # The CSV is every payout, whatever page is asked.
    csv_text = client.get(
        shop.url("cashless", "payouts"),
        params={"format": "csv", "per_page": 1},
        headers=shop.headers,
    ).text
    assert csv_text.splitlines()[0].startswith("payout_id,requested_at,holder_email,status")
    assert len(csv_text.strip().splitlines()) == 3
    assert "19.50" in csv_text and "9.50" in csv_text

    bad = client.post(
        shop.url("cashless", "payout-exports"),
        json={"debtor_name": "Festival SAS", "debtor_iban": BAD_IBAN},
        headers=shop.headers,
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["field"] == "debtor_iban"
    body = {
        "debtor_name": "Festival SAS",
        "debtor_iban": ORGANIZER_IBAN,
        "execution_date": "2031-01-02",
    }
    made = client.post(shop.url("cashless", "payout-exports"), json=body, headers=shop.headers)
    assert made.status_code == 201, made.text
    export = made.json()["data"]
    assert (export["payouts"], export["total_minor"]) == (2, 2_900)

    # Cy asks after the first export: only Cy's payout is in the next one.
    _ask(client, cy["headers"], shop.event_id, iban=GOOD_IBAN, account_holder="Cy")
    second = client.post(shop.url("cashless", "payout-exports"), json=body, headers=shop.headers)
    assert second.status_code == 201, second.text
    assert (second.json()["data"]["payouts"], second.json()["data"]["total_minor"]) == (1, 2_950)
    nothing = client.post(shop.url("cashless", "payout-exports"), json=body, headers=shop.headers)
    assert (nothing.status_code, nothing.json()["error"]["code"]) == (409, "NOTHING_TO_EXPORT")

    downloaded = client.get(
        shop.url("cashless", "payout-exports", export["id"]), headers=shop.headers
    )
    assert downloaded.status_code == 200
    assert downloaded.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(downloaded.content)
    assert root.find(f".//{PAIN}GrpHdr/{PAIN}NbOfTxs").text == "2"
    assert root.find(f".//{PAIN}GrpHdr/{PAIN}CtrlSum").text == "29.00"
    assert root.find(f".//{PAIN}DbtrAcct//{PAIN}IBAN").text == "DE02120300000000202051"
    credited = {
        tx.find(f"{PAIN}CdtrAcct//{PAIN}IBAN").text: tx.find(f"{PAIN}Amt/{PAIN}InstdAmt").text
        for tx in root.iter(f"{PAIN}CdtTrfTxInf")
    }
    assert credited == {"DE89370400440532013000": "9.50", "FR1420041010050500013M02606": "19.50"}
    assert root.find(f".//{PAIN}ReqdExctnDt").text == "2031-01-02"
    statuses = {
        row["holder_email"]: (row["status"], row["export_id"])
        for row in client.get(shop.url("cashless", "payouts"), headers=shop.headers).json()["data"]
    }
    assert statuses[ada["email"]] == ("exported", export["id"])
    assert statuses[cy["email"]][0] == "exported"
    missing = client.get(
        shop.url("cashless", "payout-exports", str(uuid.uuid4())), headers=shop.headers
    )
    assert (missing.status_code, missing.json()["error"]["code"]) == (
        404,
        "PAYOUT_EXPORT_NOT_FOUND",
    )


# --- the close -------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["keep", "donate"])
def test_the_close_books_the_leftovers_writes_off_the_debts_once(client, clean_database, policy):
    extra = {
        "unclaimed_policy": policy,
        "donation_recipient": "Red Cross" if policy == "donate" else None,
    }
    shop = festival(client, clean_database, **extra)
    ada, bob, cy = attendee(client), attendee(client, "Bob"), attendee(client, "Cy")
    topped_up(client, ada["headers"], shop.event_id, 1_200)  # never asks: unclaimed
    my_wallet(client, bob["headers"], shop.event_id)
    bob_wallet = wallet_id_of(clean_database, shop.event_id, bob["user"]["id"])
    debt_beside_balance(clean_database, bob_wallet, 400)  # owes 4.00: written off
    topped_up(client, cy["headers"], shop.event_id, 2_000)  # paid back
    end_event(clean_database, shop.event_id, ended_ago=DAY)
    _ask(client, cy["headers"], shop.event_id)

    early = client.post(shop.url("cashless", "close"), headers=shop.headers)
    assert (early.status_code, early.json()["error"]["code"]) == (409, "CASHLESS_CLOSE_TOO_EARLY")
    end_event(clean_database, shop.event_id, ended_ago=15 * DAY)
    closed = client.post(shop.url("cashless", "close"), headers=shop.headers)
    assert closed.status_code == 200, closed.text
    assert closed.json()["data"] == {
        "wallets_closed": 3,
        "unclaimed_minor": 1_200,
        "written_off_minor": 400,
        "unclaimed_total_minor": 1_200,
        "written_off_total_minor": 400,
    }
    with clean_database.session(write=False) as session:
        statuses = set(
            session.scalars(select(Wallet.status).where(Wallet.event_id == shop.event_id))
        )
        flags = set(
            session.scalars(
                select(JournalEntry.flag).where(JournalEntry.kind == EntryKind.unclaimed)
            )
        )
    assert statuses == {WalletStatus.closed}
    assert flags == {policy}
    balances = _balances(clean_database, shop.event_id)
    assert (balances["unclaimed"], balances["offline_loss"], balances.get("wallet", 0)) == (
        1_200,
        -400,
        0,
    )
    assert balances.get("wallet_debt", 0) == 0

    entries = _count(clean_database, JournalEntry)
    again = client.post(shop.url("cashless", "close"), headers=shop.headers)
    assert again.json()["data"] == {
        "wallets_closed": 0,
        "unclaimed_minor": 0,
        "written_off_minor": 0,
        "unclaimed_total_minor": 1_200,
        "written_off_total_minor": 400,
    }
    assert _count(clean_database, JournalEntry) == entries
    # A closed wallet is not paid back any more.
    assert _ask(client, ada["headers"], shop.event_id, expect=409)["code"] == "REFUND_WINDOW_CLOSED"
    assert balanced(clean_database, shop.event_id)


# --- Stripe ----------------------------------------------------------------------------------

fake_stripe = payments_fixtures.fake_stripe
stripe_client = payments_fixtures.stripe_client


def test_a_stripe_top_up_is_paid_back_to_its_card(stripe_client, fake_stripe, clean_database):
    client = stripe_client
    shop = festival(client, clean_database)
    ada = attendee(client)
    payment = start_topup(client, ada["headers"], shop.event_id, 2_000)
    session_id = payment["checkout_url"].rsplit("/", 1)[1]
    completed = dict(fake_stripe.complete(session_id))
    post_event(client, "checkout.session.completed", completed)  # signed, as Stripe does
    assert my_wallet(client, ada["headers"], shop.event_id)["balance_minor"] == 2_000
    end_event(clean_database, shop.event_id, ended_ago=DAY)

    payout = _ask(client, ada["headers"], shop.event_id)
    assert (payout["status"], payout["card_minor"], payout["bank_minor"]) == ("completed", 1_950, 0)
    sent = fake_stripe.calls("POST", "/v1/refunds")
    assert len(sent) == 1
    assert (sent[0].params["amount"], sent[0].params["payment_intent"]) == (
        "1950",
        completed["payment_intent"],
    )
    assert sent[0].params["metadata[reason]"] == "wallet_leftover"
    assert sent[0].headers["idempotency-key"].startswith("admitone-refund-")
    with clean_database.session(write=False) as session:
        stored = session.get(Payment, uuid.UUID(payment["id"]))
        refund_row = session.scalars(select(Refund)).one()
    assert stored is not None and stored.refunded_minor == 1_950
    assert refund_row.provider_ref in fake_stripe.refunds

    # Stripe then tells us of that refund: it is ours, nothing more is booked.
    entries = _count(clean_database, JournalEntry)
    post_event(
        client,
        "charge.refunded",
        charge(completed, amount_refunded=1_950, refund_id=refund_row.provider_ref or ""),
    )
    assert _count(clean_database, JournalEntry) == entries
    assert _balances(clean_database, shop.event_id) == {"online_payments": -50, "fees": 50}
    assert balanced(clean_database, shop.event_id)


# --- "My wallet": the form and the payout, in both languages ---------------------------------


def test_my_wallet_page_asks_for_the_leftover_and_shows_the_payout(client, clean_database):
    from html import unescape

    from tests.web.helpers import HTML, csrf_from, get_page, web_login

    shop = festival(client, clean_database)
    ada = attendee(client)
    topped_up(client, ada["headers"], shop.event_id, 1_000)
    wallet_id = wallet_id_of(clean_database, shop.event_id, ada["user"]["id"])
    desk_topup(clean_database, wallet_id, 500)
    web_login(client, ada["email"])
    url = f"/wallets/{shop.event_id}"
    assert "Get your leftover back" not in get_page(client, url).text  # not ended yet
    end_event(clean_database, shop.event_id, ended_ago=DAY)

    page = get_page(client, url)
    text = unescape(page.text).replace("\u202f", " ").replace("\xa0", " ")
    assert "Get your leftover back" in text and 'data-refund-amount="1450"' in text
    assert "To the card you topped up with: €10.00" in text
    assert 'name="iban"' in text  # a bank part: the IBAN is asked
    french = get_page(client, url, headers={"accept-language": "fr"}).text
    assert "Récupérer votre solde" in unescape(french)

    bad = client.post(
        f"{url}/refund",
        data={"csrf_token": csrf_from(page.text), "iban": BAD_IBAN, "account_holder": "Ada"},
        headers=HTML,
        follow_redirects=False,
    )
    assert bad.status_code == 303 and "refund_error=IBAN_INVALID" in bad.headers["location"]
    said = get_page(
        client, bad.headers["location"].split("#")[0], headers={"accept-language": "fr"}
    )
    assert "IBAN n\u2019est pas valide" in unescape(said.text)
    done = client.post(
        f"{url}/refund",
        data={"csrf_token": csrf_from(page.text), "iban": GOOD_IBAN, "account_holder": "Ada"},
        headers=HTML,
        follow_redirects=False,
    )
    assert done.status_code == 303
    after = unescape(get_page(client, url).text)
    assert 'data-payout-status="pending"' in after and "3000" in after
    assert 'name="iban"' not in after
    assert balanced(clean_database, shop.event_id)
