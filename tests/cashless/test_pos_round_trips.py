"""Round trips to PostgreSQL of a charge at a stand, the point of sale's hot path
(docs/hot-path.md): counted as tests/test_round_trips.py counts a paid order's, so that
a query added to the path shows."""

from __future__ import annotations

from fastapi.testclient import TestClient

from admitone.db import Database
from tests.cashless.pos_helpers import charge, make_festival, make_wallet, signed_pass
from tests.conftest import BACKEND
from tests.test_round_trips import round_trips


def test_a_charge_in_few_round_trips(client: TestClient, clean_database: Database):
    festival = make_festival(client, clean_database)
    wallet = make_wallet(clean_database, festival.event_id, funded=5000)
    shown = signed_pass(client, wallet)
    beer = (festival.product_id("Beer"), 1)
    assert charge(client, festival.cashier, festival.bar["id"], shown, beer).status_code == 201
    with round_trips() as trips:
        answer = charge(client, festival.cashier, festival.bar["id"], shown, beer)
    assert answer.status_code == 201, answer.text
    assert answer.json()["data"]["balance_minor"] == 5000 - 2 * 450
    if BACKEND != "postgresql":
        return  # SQLite has no round trips
    # The caller; BEGIN; the stand with its event, organization, the caller's role and
    # assignment and the cashless settings; the entry under its key; the pass and its
    # wallet; the products; the wallet's balance locked; its status; the sale's line; the
    # entry's answer; the wallet's balance; the shard's; the transfer; COMMIT. No account
    # is looked up by key: their ids derive from it.
    assert len(trips) == 14, "\n".join(trips)
    assert sum(text.startswith("SELECT ledger_accounts.id") for text in trips) == 0
    # The stand's shard is the last row locked: after it only the transfer and COMMIT.
    assert trips[-4].startswith("UPDATE ledger_accounts"), trips[-4]
