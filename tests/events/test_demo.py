"""Demo data: loaded through the services, then read back through the public catalogue."""

from __future__ import annotations

import uuid

from admitone.cashless import ledger
from admitone.cashless.models import AccountKind, EntryKind, EntryOrigin
from admitone.demo import load_demo


def test_demo_data_is_browsable(client, clean_database):
    with clean_database.session() as session:
        credentials = load_demo(session)
    assert set(credentials) == {"organizer", "staff", "buyer", "cashier"}

    catalogue = client.get("/api/v1/events", params={"per_page": 100})
    assert catalogue.status_code == 200
    events = catalogue.json()["data"]
    assert len(events) >= 4
    assert len({e["venue"]["city"] for e in events}) >= 4
    assert len({e["category"] for e in events}) >= 4
    assert all(e["currency"] == "EUR" and e["min_price_minor"] > 0 for e in events)
    facets = catalogue.json()["meta"]["facets"]
    assert sum(item["count"] for item in facets["city"]) == len(events)

    for summary in events:
        page = client.get(f"/api/v1/events/{summary['slug']}")
        assert page.status_code == 200
        ticket_types = page.json()["data"]["ticket_types"]
        assert 2 <= len(ticket_types) <= 3
        assert all(t["on_sale"] and t["available"] > 0 for t in ticket_types)

    searched = client.get("/api/v1/events", params={"q": "malade"}).json()["data"]
    assert [e["title"] for e in searched] == ["Le Malade imaginaire"]

    # The accounts work, with the promised roles.
    tokens = {}
    for role, (email, password) in credentials.items():
        login = client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, role
        tokens[role] = {"Authorization": f"Bearer {login.json()['data']['tokens']['access_token']}"}
    organizations = client.get("/api/v1/organizations", headers=tokens["organizer"]).json()["data"]
    assert [o["role"] for o in organizations] == ["owner"]
    slug = organizations[0]["slug"]
    staff_view = client.get("/api/v1/organizations", headers=tokens["staff"]).json()["data"]
    assert [(o["slug"], o["role"]) for o in staff_view] == [(slug, "staff")]
    assert client.get("/api/v1/organizations", headers=tokens["buyer"]).json()["data"] == []
    cashier_view = client.get("/api/v1/organizations", headers=tokens["cashier"]).json()["data"]
    assert [(o["slug"], o["role"]) for o in cashier_view] == [(slug, "cashier")]

    # One draft, visible to the organizer only.
    drafts = client.get(
        f"/api/v1/organizations/{slug}/events",
        params={"status": "draft"},
        headers=tokens["organizer"],
    ).json()["data"]
    assert len(drafts) == 1
    assert client.get(f"/api/v1/events/{drafts[0]['slug']}").status_code == 404


def test_demo_is_not_loaded_twice(clean_database):
    with clean_database.session() as session:
        assert load_demo(session) is not None
    with clean_database.session() as session:
        assert load_demo(session) is None


def test_demo_events_come_with_their_posters(client, clean_database, media_dir):
    with clean_database.session() as session:
        assert load_demo(session, media_dir=media_dir) is not None

    events = client.get("/api/v1/events", params={"per_page": 100}).json()["data"]
    assert events
    posters = set()
    for summary in events:
        image_url = client.get(f"/api/v1/events/{summary['slug']}").json()["data"]["image_url"]
        assert image_url, summary["slug"]
        image = client.get(image_url)
        assert image.status_code == 200
        assert image.content.startswith(b"\xff\xd8")  # a JPEG
        posters.add(image.content)
    assert len(posters) == len(events)  # each its own
    assert len(list((media_dir / "events").iterdir())) == len(events) + 1  # and the draft's


def test_the_demo_festival_sells_cashless(client, clean_database):
    """The festival has cashless on, its stands and products, and the demo cashier sells
    there: the buyer's wallet (funded here, as a top-up would) pays for a beer."""
    with clean_database.session() as session:
        credentials = load_demo(session)
    assert credentials is not None
    tokens = {}
    for role in ("organizer", "buyer", "cashier"):
        email, password = credentials[role]
        login = client.post("/api/v1/auth/login", json={"email": email, "password": password})
        tokens[role] = {"Authorization": f"Bearer {login.json()['data']['tokens']['access_token']}"}
    slug = client.get("/api/v1/organizations", headers=tokens["organizer"]).json()["data"][0][
        "slug"
    ]
    festival = client.get("/api/v1/events", params={"q": "Lumières"}).json()["data"][0]
    base = f"/api/v1/organizations/{slug}/events/{festival['id']}"
    cashless = client.get(f"{base}/cashless", headers=tokens["organizer"]).json()["data"]
    assert cashless["enabled"] and cashless["unit_name"] == "Jetons"
    stands = client.get(f"{base}/stands", headers=tokens["organizer"]).json()["data"]
    assert {stand["kind"] for stand in stands} == {"bar", "food", "topup_desk"}
    bar = next(stand for stand in stands if stand["kind"] == "bar")
    products = client.get(f"{base}/stands/{bar['id']}/products", headers=tokens["organizer"])
    beer = next(p for p in products.json()["data"] if p["name"] == "Bière pression")

    wallet = client.get(f"/api/v1/me/wallets/{festival['id']}", headers=tokens["buyer"])
    assert wallet.status_code == 200, wallet.text
    card = wallet.json()["data"]
    with clean_database.session() as session:
        account, _debt = ledger.wallet_accounts(
            session, event_id=uuid.UUID(festival["id"]), wallet_id=uuid.UUID(card["id"])
        )
        entry = ledger.begin_entry(
            session,
            event_id=uuid.UUID(festival["id"]),
            idempotency_key="demo-test-topup",
            kind=EntryKind.topup,
            origin=EntryOrigin.online,
            amount_minor=2000,
        )
        assert isinstance(entry, uuid.UUID)
        source = ledger.account(
            session, event_id=uuid.UUID(festival["id"]), kind=AccountKind.online_payments
        )
        ledger.post(session, entry_id=entry, moves=[ledger.Move(source, account, 2000)])
    sold = client.post(
        "/api/v1/pos/charges",
        json={
            "stand_id": bar["id"],
            "pass": card["current_pass"]["qr"],
            "lines": [{"product_id": beer["id"], "quantity": 2}],
        },
        headers={**tokens["cashier"], "Idempotency-Key": "demo-test-beers"},
    )
    assert sold.status_code == 201, sold.text
    assert sold.json()["data"]["balance_minor"] == 2000 - 2 * 600
