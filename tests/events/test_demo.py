"""Demo data: loaded through the services, then read back through the public catalogue."""

from __future__ import annotations

from admitone.demo import load_demo


def test_demo_data_is_browsable(client, clean_database):
    with clean_database.session() as session:
        credentials = load_demo(session)
    assert set(credentials) == {"organizer", "staff", "buyer"}

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
