"""Online top-ups: a payment of purpose "wallet_topup" through the test provider and
Stripe Checkout (signed webhooks, the local fake Stripe), credited once whatever the
deliveries, debt paid first, limits checked when asked and again when paid, and a
refund made in the Stripe dashboard booked out of the wallet."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from admitone.cashless import ledger
from admitone.cashless.models import (
    AccountKind,
    JournalEntry,
    LedgerAccount,
    TopupStatus,
    Wallet,
    WalletTopup,
)
from admitone.payments.models import Payment, PaymentStatus, Refund
from tests.cashless.wallet_helpers import (
    API,
    approve,
    attendee,
    balanced,
    festival,
    my_wallet,
    offline_debt,
    start_topup,
    topped_up,
    wallet_id_of,
)
from tests.payments import conftest as payments_fixtures
from tests.payments.stripe_helpers import charge, post_event

# The payments tests' fixtures: the local fake Stripe, and the app that talks to it.
fake_stripe = payments_fixtures.fake_stripe
stripe_client = payments_fixtures.stripe_client


def _topup(database, topup_id: str) -> WalletTopup:
    with database.session(write=False) as session:
        topup = session.get(WalletTopup, uuid.UUID(topup_id))
        assert topup is not None
        return topup


def _count(database, model, *where) -> int:
    with database.session(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_a_top_up_through_the_test_provider_is_credited_once(client, clean_database):
    shop = festival(client, clean_database)
    ada = attendee(client)
    payment = start_topup(client, ada["headers"], shop.event_id, 2_000)
    assert (payment["provider"], payment["status"], payment["amount_minor"]) == (
        "test",
        "pending",
        2_000,
    )
    assert payment["checkout_url"].endswith(f"/pay/test/{payment['id']}")
    assert payment["topup_status"] == "pending"

    # Only the wallet's holder may press the button: a stranger changes nothing.
    stranger = attendee(client, "Stranger")
    assert approve(client, stranger["headers"], payment, expect=404)["code"] == "NOT_FOUND"
    assert my_wallet(client, ada["headers"], shop.event_id)["balance_minor"] == 0

    first = approve(client, ada["headers"], payment)
    assert (first["outcome"], first["order_status"]) == ("paid", "credited")
    again = approve(client, ada["headers"], payment)
    assert again["outcome"] == "duplicate"
    assert my_wallet(client, ada["headers"], shop.event_id)["balance_minor"] == 2_000
    topup = _topup(clean_database, payment["topup_id"])
    assert (topup.status, topup.channel, topup.currency) == (TopupStatus.credited, "online", "EUR")
    assert topup.entry_id is not None and topup.credited_at is not None
    assert _count(clean_database, JournalEntry) == 1
    assert balanced(clean_database, shop.event_id)
    with clean_database.session(write=False) as session:
        online = session.scalar(
            select(LedgerAccount.balance_minor).where(
                LedgerAccount.event_id == shop.event_id,
                LedgerAccount.kind == AccountKind.online_payments,
            )
        )
    assert online == -2_000  # what the provider holds for the event

    # The organizer's payout counts the top-ups sold for the event.
    payout = client.get(
        f"{API}/organizations/{shop.org_slug}/events/{shop.event_id}/payout",
        headers=shop.headers,
    ).json()["data"]
    assert (payout["gross_minor"], payout["payments"]) == (2_000, 1)


def test_a_top_up_first_pays_the_wallets_debt(client, clean_database):
    shop = festival(client, clean_database)
    ada = attendee(client)
    my_wallet(client, ada["headers"], shop.event_id)
    wallet_id = wallet_id_of(clean_database, shop.event_id, ada["user"]["id"])
    offline_debt(clean_database, wallet_id, 800)
    assert my_wallet(client, ada["headers"], shop.event_id)["debt_minor"] == 800

    topped_up(client, ada["headers"], shop.event_id, 500)
    card = my_wallet(client, ada["headers"], shop.event_id)
    assert (card["balance_minor"], card["debt_minor"], card["offline_blocked"]) == (0, 300, True)
    topped_up(client, ada["headers"], shop.event_id, 1_000)
    card = my_wallet(client, ada["headers"], shop.event_id)
    assert (card["balance_minor"], card["debt_minor"], card["offline_blocked"]) == (700, 0, False)
    assert card["current_pass"]["offline_wallet_cap_minor"] == 700
    assert balanced(clean_database, shop.event_id)


def test_a_retried_top_up_with_its_key_is_the_same_one(client, clean_database):
    shop = festival(client, clean_database)
    ada = attendee(client)
    first = start_topup(client, ada["headers"], shop.event_id, 1_500, key="topup-1")
    again = start_topup(client, ada["headers"], shop.event_id, 1_500, key="topup-1", expect=200)
    assert (again["id"], again["topup_id"]) == (first["id"], first["topup_id"])
    reused = start_topup(client, ada["headers"], shop.event_id, 900, key="topup-1", expect=422)
    assert reused["code"] == "IDEMPOTENCY_KEY_REUSED"
    # Keys are the caller's own: another attendee's same key is another top-up.
    bob = attendee(client, "Bob")
    other = start_topup(client, bob["headers"], shop.event_id, 1_500, key="topup-1")
    assert other["id"] != first["id"]
    assert _count(clean_database, WalletTopup) == 2
    assert _count(clean_database, Payment) == 2


def test_the_limits_are_checked_when_asked(client, clean_database):
    shop = festival(client, clean_database)
    ada = attendee(client)
    below = start_topup(client, ada["headers"], shop.event_id, 499, expect=422)
    assert (below["code"], below["details"]) == ("TOPUP_BELOW_MINIMUM", {"minimum_minor": 500})
    above = start_topup(client, ada["headers"], shop.event_id, 20_001, expect=422)
    assert (above["code"], above["details"]) == ("TOPUP_ABOVE_MAXIMUM", {"maximum_minor": 20_000})
    topped_up(client, ada["headers"], shop.event_id, 20_000)
    full = start_topup(client, ada["headers"], shop.event_id, 10_001, expect=409)
    assert (full["code"], full["details"]) == (
        "BALANCE_LIMIT_REACHED",
        {"balance_maximum_minor": 30_000, "room_minor": 10_000},
    )
    start_topup(client, ada["headers"], shop.event_id, 10_000)
    assert start_topup(client, ada["headers"], shop.event_id, 0, expect=422)["code"] == (
        "VALIDATION_ERROR"
    )
    assert _count(clean_database, WalletTopup) == 2  # refusals leave nothing behind


def test_no_top_up_where_it_cannot_go(client, clean_database):
    ada = attendee(client)
    off = festival(client, clean_database, enabled=False)
    refused = start_topup(client, ada["headers"], off.event_id, 1_000, expect=409)
    assert refused["code"] == "CASHLESS_NOT_ENABLED"
    assert start_topup(client, ada["headers"], uuid.uuid4(), 1_000, expect=404)["code"] == (
        "NOT_FOUND"
    )
    shop = festival(client, clean_database)
    card = my_wallet(client, ada["headers"], shop.event_id)
    client.post(shop.url("wallets", card["id"], "block"), headers=shop.headers)
    blocked = start_topup(client, ada["headers"], shop.event_id, 1_000, expect=409)
    assert blocked["code"] == "WALLET_BLOCKED"
    anonymous = client.post(
        f"{API}/me/wallets/{shop.event_id}/topups", json={"amount_minor": 1_000}
    )
    assert anonymous.status_code == 401
    assert _count(clean_database, WalletTopup) == 0


def test_the_first_top_up_opens_the_wallet(client, clean_database):
    shop = festival(client, clean_database)
    ada = attendee(client)
    topped_up(client, ada["headers"], shop.event_id, 1_000)
    assert _count(clean_database, Wallet) == 1
    assert my_wallet(client, ada["headers"], shop.event_id)["balance_minor"] == 1_000


def test_a_declined_top_up_fails_and_may_still_be_paid(client, clean_database):
    shop = festival(client, clean_database)
    ada = attendee(client)
    payment = start_topup(client, ada["headers"], shop.event_id, 1_000)
    declined = client.post(
        f"{API}/payments/test/{payment['id']}/decline", headers=ada["headers"]
    ).json()["data"]
    assert (declined["outcome"], declined["order_status"]) == ("failed", "failed")
    assert _topup(clean_database, payment["topup_id"]).status == TopupStatus.failed
    assert approve(client, ada["headers"], payment)["outcome"] == "paid"
    assert _topup(clean_database, payment["topup_id"]).status == TopupStatus.credited
    assert my_wallet(client, ada["headers"], shop.event_id)["balance_minor"] == 1_000


def test_a_top_up_paid_past_the_maximum_balance_is_refunded(client, clean_database):
    """Two top-ups asked for while the wallet had room, both paid: the second would take
    it past the maximum, so its payment is refunded, never kept."""
    shop = festival(client, clean_database)
    ada = attendee(client)
    first = start_topup(client, ada["headers"], shop.event_id, 20_000)
    second = start_topup(client, ada["headers"], shop.event_id, 15_000)
    assert approve(client, ada["headers"], first)["outcome"] == "paid"
    result = approve(client, ada["headers"], second)
    assert (result["outcome"], result["payment"]["status"]) == ("refunded", "refunded")
    assert _topup(clean_database, second["topup_id"]).status == TopupStatus.failed
    assert my_wallet(client, ada["headers"], shop.event_id)["balance_minor"] == 20_000
    with clean_database.session(write=False) as session:
        refund = session.scalars(select(Refund)).one()
    assert (refund.purpose, refund.amount_minor, refund.reason) == (
        "wallet_topup",
        15_000,
        "wallet_topup_balance_limit_reached",
    )
    assert balanced(clean_database, shop.event_id)


# --- Stripe ----------------------------------------------------------------------------------


def test_a_top_up_paid_by_stripe_checkout_and_refunded_in_the_dashboard(
    stripe_client, fake_stripe, clean_database
):
    client = stripe_client
    shop = festival(client, clean_database)
    ada = attendee(client)
    payment = start_topup(client, ada["headers"], shop.event_id, 2_000)
    assert payment["provider"] == "stripe"
    session_id = payment["checkout_url"].rsplit("/", 1)[1]
    sent = fake_stripe.calls("POST", "/v1/checkout/sessions")[0].params
    assert sent["metadata[topup_id]"] == payment["topup_id"]
    assert sent["metadata[payment_id]"] == payment["id"]
    assert sent["success_url"].endswith(f"/wallets/{shop.event_id}?payment=done")
    assert sent["customer_email"] == ada["email"]

    # Signed webhooks: the same event twice, then the same payment confirmed again.
    completed = dict(fake_stripe.complete(session_id))
    event_id = f"evt_{uuid.uuid4().hex[:24]}"
    first = post_event(client, "checkout.session.completed", completed, event_id=event_id)
    assert first.json()["data"]["outcome"] == "processed"
    again = post_event(client, "checkout.session.completed", completed, event_id=event_id)
    assert again.json()["data"]["outcome"] == "duplicate"
    post_event(client, "checkout.session.async_payment_succeeded", completed)
    assert my_wallet(client, ada["headers"], shop.event_id)["balance_minor"] == 2_000
    assert _count(clean_database, JournalEntry) == 1

    # The attendee spends 15.00, then the organizer refunds 10.00 in the Stripe
    # dashboard: 5.00 leaves the wallet, the 5.00 already spent is the organizer's loss.
    wallet_id = wallet_id_of(clean_database, shop.event_id, ada["user"]["id"])
    _spend(clean_database, shop.event_id, wallet_id, 1_500)
    post_event(
        client, "charge.refunded", charge(completed, amount_refunded=1_000, refund_id="re_1")
    )
    card = my_wallet(client, ada["headers"], shop.event_id)
    assert (card["balance_minor"], card["debt_minor"]) == (0, 0)
    assert _balances(clean_database, shop.event_id) == {
        "online_payments": -1_000,
        "provider_refunds": -500,
    }
    payout = client.get(f"{API}/me/wallets/{shop.event_id}/transactions", headers=ada["headers"])
    newest = payout.json()["data"][0]
    assert (newest["kind"], newest["origin"], newest["amount_minor"]) == (
        "payout",
        "provider",
        -500,
    )
    with clean_database.session(write=False) as session:
        entry = session.scalars(select(JournalEntry).where(JournalEntry.flag.is_not(None))).one()
    assert (entry.flag, entry.amount_minor, entry.shortfall_minor) == (
        "provider_refund",
        1_000,
        500,
    )

    # The rest refunded later, the event delivered twice: booked once, all of it a loss.
    rest = charge(completed, amount_refunded=2_000, refund_id="re_2")
    event_id = f"evt_{uuid.uuid4().hex[:24]}"
    post_event(client, "charge.refunded", rest, event_id=event_id)
    post_event(client, "charge.refunded", rest, event_id=event_id)
    assert _balances(clean_database, shop.event_id) == {
        "online_payments": 0,
        "provider_refunds": -1_500,
    }
    assert balanced(clean_database, shop.event_id)
    with clean_database.session(write=False) as session:
        stored = session.scalar(select(Payment).where(Payment.id == uuid.UUID(payment["id"])))
    assert stored is not None and stored.status == PaymentStatus.refunded


def _spend(database, event_id: uuid.UUID, wallet_id: uuid.UUID, amount: int) -> None:
    with database.session() as session:
        account, _debt = ledger.wallet_accounts(session, event_id=event_id, wallet_id=wallet_id)
        sales = ledger.account(session, event_id=event_id, kind=AccountKind.sales, key="sales:x:0")
        entry = ledger.begin_entry(
            session,
            event_id=event_id,
            idempotency_key=f"sale-{uuid.uuid4()}",
            kind=ledger.EntryKind.sale,
            origin=ledger.EntryOrigin.online,
            amount_minor=amount,
            wallet_id=wallet_id,
        )
        assert isinstance(entry, uuid.UUID)
        ledger.post(session, entry_id=entry, moves=[ledger.Move(account, sales, amount)])


def _balances(database, event_id: uuid.UUID) -> dict[str, int]:
    """The event's shared accounts' balances by key (the wallets' and the stands' left out)."""
    with database.session(write=False) as session:
        rows = session.execute(
            select(LedgerAccount.key, LedgerAccount.balance_minor).where(
                LedgerAccount.event_id == event_id,
                LedgerAccount.kind.in_([AccountKind.online_payments, AccountKind.provider_refunds]),
            )
        )
        return {key: balance for key, balance in rows}
