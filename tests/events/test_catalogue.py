"""Public catalogue: search, filters, sort, pagination, facets and the event page."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import (
    create_event,
    create_org,
    create_published_event,
    create_ticket_type,
    events_url,
    future,
    register,
    set_ticket_counters,
)

CATALOGUE = "/api/v1/events"


@pytest.fixture
def owner(client):
    account = register(client)
    account["org"] = create_org(client, account["headers"], name="Scènes")["slug"]
    return account


def _publish(client, owner, *, prices=(3500,), **overrides):
    return create_published_event(
        client,
        owner["headers"],
        owner["org"],
        ticket_types=[{"name": f"T{p}", "price_minor": p} for p in prices],
        **overrides,
    )


def _titles(response):
    assert response.status_code == 200, response.text
    return [event["title"] for event in response.json()["data"]]


@pytest.fixture
def catalogue(client, owner):
    """Four published events, a draft and a cancelled one."""
    events = {
        "paris": _publish(
            client,
            owner,
            title="Nuits Électriques",
            category="concert",
            description="Electro pop all night long",
            venue={"name": "La Cigale", "city": "Paris"},
            starts_at=future(10, 20),
            ends_at=future(10, 23),
            prices=(3500, 4800),
        ),
        "lyon": _publish(
            client,
            owner,
            title="Le Malade imaginaire",
            category="theatre",
            description="Molière's comedy",
            venue={"name": "Théâtre des Célestins", "city": "Lyon"},
            starts_at=future(20, 19),
            ends_at=future(20, 22),
            prices=(4200, 1500),
        ),
        "lyon2": _publish(
            client,
            owner,
            title="Jazz à Fourvière",
            category="concert",
            description="Open-air jazz",
            venue={"name": "Théâtre antique", "city": "lyon"},
            starts_at=future(30, 20),
            ends_at=future(30, 23),
            prices=(6000,),
        ),
        "marseille": _publish(
            client,
            owner,
            title="Marseille Tech Days",
            category="conference",
            description="Talks about open-source software",
            venue={"name": "Palais du Pharo", "city": "Marseille"},
            starts_at=future(40, 9),
            ends_at=future(40, 18),
            prices=(9900,),
        ),
    }
    create_event(client, owner["headers"], owner["org"], title="Secret draft concert")
    cancelled = _publish(client, owner, title="Cancelled concert", venue={"city": "Paris"})
    client.post(events_url(owner["org"], cancelled["id"], "cancel"), headers=owner["headers"])
    events["cancelled"] = cancelled
    return events


class TestListing:
    def test_lists_published_upcoming_events_by_date(self, client, catalogue):
        response = client.get(CATALOGUE)
        assert _titles(response) == [
            "Nuits Électriques",
            "Le Malade imaginaire",
            "Jazz à Fourvière",
            "Marseille Tech Days",
        ]
        first = response.json()["data"][0]
        assert first["min_price_minor"] == 3500
        assert first["organizer"]["name"] == "Scènes"
        assert first["venue"]["city"] == "Paris"
        assert [t["price_minor"] for t in first["ticket_types"]] == [3500, 4800]
        assert all(t["on_sale"] for t in first["ticket_types"])
        assert response.json()["meta"]["total"] == 4

    def test_ended_events_are_not_listed(self, client, owner, clean_database):
        event = _publish(client, owner, title="Soon over")
        from sqlalchemy import update

        from admitone.events.models import Event

        with clean_database.session() as session:
            session.execute(
                update(Event)
                .where(Event.id == uuid.UUID(event["id"]))
                .values(
                    starts_at=datetime.now(UTC) - timedelta(hours=3),
                    ends_at=datetime.now(UTC) - timedelta(minutes=1),
                )
            )
        assert _titles(client.get(CATALOGUE)) == []
        # Still reachable by its address.
        assert client.get(f"{CATALOGUE}/{event['slug']}").status_code == 200

    @pytest.mark.parametrize(
        ("sort", "expected"),
        [
            ("-date", ["Marseille Tech Days", "Jazz à Fourvière", "Le Malade imaginaire"]),
            ("price", ["Le Malade imaginaire", "Nuits Électriques", "Jazz à Fourvière"]),
            ("-price", ["Marseille Tech Days", "Jazz à Fourvière", "Nuits Électriques"]),
        ],
    )
    def test_sorts(self, client, catalogue, sort, expected):
        assert _titles(client.get(CATALOGUE, params={"sort": sort}))[:3] == expected

    def test_pagination(self, client, catalogue):
        response = client.get(CATALOGUE, params={"per_page": 3, "page": 2})
        assert _titles(response) == ["Marseille Tech Days"]
        meta = response.json()["meta"]
        assert (meta["page"], meta["per_page"], meta["total"]) == (2, 3, 4)
        assert _titles(client.get(CATALOGUE, params={"page": 9})) == []

    def test_per_page_over_100_is_refused(self, client):
        response = client.get(CATALOGUE, params={"per_page": 101})
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert client.get(CATALOGUE, params={"per_page": 100}).status_code == 200


class TestFilters:
    def test_category(self, client, catalogue):
        titles = _titles(client.get(CATALOGUE, params={"category": "concert"}))
        assert titles == ["Nuits Électriques", "Jazz à Fourvière"]

    def test_city_is_case_insensitive(self, client, catalogue):
        titles = _titles(client.get(CATALOGUE, params={"city": "LYON"}))
        assert titles == ["Le Malade imaginaire", "Jazz à Fourvière"]

    def test_price_range_uses_the_cheapest_active_type(self, client, catalogue):
        titles = _titles(client.get(CATALOGUE, params={"price_min": 1500, "price_max": 3500}))
        assert titles == ["Nuits Électriques", "Le Malade imaginaire"]
        assert _titles(client.get(CATALOGUE, params={"price_min": 9000})) == ["Marseille Tech Days"]

    def test_deactivated_type_no_longer_sets_the_price(self, client, owner, catalogue):
        lyon = catalogue["lyon"]
        cheap = next(t for t in lyon["ticket_types"] if t["price_minor"] == 1500)
        client.patch(
            events_url(owner["org"], lyon["id"], "ticket-types", cheap["id"]),
            json={"is_active": False},
            headers=owner["headers"],
        )
        response = client.get(CATALOGUE, params={"price_max": 2000})
        assert _titles(response) == []
        entry = next(e for e in client.get(CATALOGUE).json()["data"] if e["id"] == lyon["id"])
        assert entry["min_price_minor"] == 4200

    def test_date_range_with_days_and_instants(self, client, catalogue):
        day = lambda days: (datetime.now(UTC) + timedelta(days=days)).date().isoformat()  # noqa: E731
        titles = _titles(client.get(CATALOGUE, params={"date_from": day(15), "date_to": day(35)}))
        assert titles == ["Le Malade imaginaire", "Jazz à Fourvière"]
        instant = (datetime.now(UTC) + timedelta(days=35)).isoformat()
        assert _titles(client.get(CATALOGUE, params={"date_from": instant})) == [
            "Marseille Tech Days"
        ]

    def test_running_festival_is_found_by_a_date_inside_it(self, client, owner):
        _publish(
            client,
            owner,
            title="Three-day festival",
            starts_at=future(5, 12),
            ends_at=future(7, 23),
        )
        inside = (datetime.now(UTC) + timedelta(days=6)).date().isoformat()
        assert _titles(client.get(CATALOGUE, params={"date_from": inside, "date_to": inside})) == [
            "Three-day festival"
        ]

    def test_bad_dates_are_422(self, client):
        for value in ("tomorrow", "2026-13-01", "2026-06-21T20:00:00", "99999-01-01"):
            response = client.get(CATALOGUE, params={"date_from": value})
            assert response.status_code == 422, value
            assert response.json()["error"]["code"] == "VALIDATION_ERROR"


class TestSearch:
    @pytest.mark.parametrize(
        ("q", "expected"),
        [
            ("electriques", ["Nuits Électriques"]),  # accents folded
            ("ÉLECTRIQUES", ["Nuits Électriques"]),
            ("theatre", ["Le Malade imaginaire", "Jazz à Fourvière"]),  # venue name
            ("marseille", ["Marseille Tech Days"]),  # city and title
            ("open", ["Jazz à Fourvière", "Marseille Tech Days"]),  # description
            ("moli", ["Le Malade imaginaire"]),  # prefix on the last word
            ("jazz fourv", ["Jazz à Fourvière"]),  # every word must match
            ("jazz marseille", []),
            ("cancelled", []),  # cancelled events are not listed
            ("secret", []),  # neither are drafts
        ],
    )
    def test_matches(self, client, catalogue, q, expected):
        assert _titles(client.get(CATALOGUE, params={"q": q})) == expected

    def test_search_follows_edits_and_deletes(self, client, owner, catalogue):
        paris = catalogue["paris"]
        client.patch(
            events_url(owner["org"], paris["id"]),
            json={"title": "Soirée Synthwave"},
            headers=owner["headers"],
        )
        assert _titles(client.get(CATALOGUE, params={"q": "synthwave"})) == ["Soirée Synthwave"]
        assert _titles(client.get(CATALOGUE, params={"q": "electriques"})) == []

    @pytest.mark.parametrize(
        "q",
        [
            '"',
            "'",
            "*",
            "AND",
            "OR NOT",
            "jazz AND",
            "NEAR(jazz fourvière)",
            "(((",
            "title:jazz",
            "jazz -fourviere",
            "^jazz",
            "a & b | !c",
            "jazz:*",
            "\\",
            "%_%",
            "😀 🎷",
            "東京 音楽",
            "مرحبا",
            "x" * 200,
            "jazz " * 40,
            "",
            "   ",
        ],
    )
    def test_hostile_queries_never_fail(self, client, catalogue, q):
        response = client.get(CATALOGUE, params={"q": q})
        assert response.status_code == 200, response.text
        assert response.json()["meta"]["total"] == len(response.json()["data"])

    def test_nul_in_a_query_is_refused(self, client, catalogue):
        response = client.get(CATALOGUE, params={"q": "\x00jazz"})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "BAD_REQUEST"

    def test_operators_are_plain_words(self, client, catalogue):
        # "AND" is searched as a word, not an operator: nothing contains it.
        assert _titles(client.get(CATALOGUE, params={"q": "jazz AND"})) == []
        assert _titles(client.get(CATALOGUE, params={"q": '"jazz" (fourvière)'})) == [
            "Jazz à Fourvière"
        ]

    def test_query_too_long_is_422(self, client):
        response = client.get(CATALOGUE, params={"q": "x" * 1000})
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"


class TestFacets:
    def test_facets_are_disjunctive(self, client, catalogue):
        meta = client.get(CATALOGUE, params={"category": "concert", "city": "Lyon"}).json()["meta"]
        assert meta["total"] == 1
        # Category counts ignore the category filter (but keep the city one).
        assert meta["facets"]["category"] == [
            {"value": "concert", "count": 1},
            {"value": "theatre", "count": 1},
        ]
        # City counts ignore the city filter (but keep the category one).
        assert meta["facets"]["city"] == [
            {"value": "Paris", "count": 1},
            {"value": "lyon", "count": 1},
        ]

    def test_city_facet_groups_case_insensitively(self, client, catalogue):
        facets = client.get(CATALOGUE).json()["meta"]["facets"]
        cities = {item["value"].lower(): item["count"] for item in facets["city"]}
        assert cities == {"lyon": 2, "paris": 1, "marseille": 1}
        assert {i["value"]: i["count"] for i in facets["category"]} == {
            "concert": 2,
            "theatre": 1,
            "conference": 1,
        }

    def test_facets_follow_the_search(self, client, catalogue):
        facets = client.get(CATALOGUE, params={"q": "open"}).json()["meta"]["facets"]
        assert {i["value"]: i["count"] for i in facets["category"]} == {
            "concert": 1,
            "conference": 1,
        }


class TestEventPage:
    def test_by_id_and_by_slug_with_live_availability(self, client, owner, clean_database):
        event = create_event(client, owner["headers"], owner["org"], title="Live page")
        standing = create_ticket_type(
            client, owner["headers"], owner["org"], event["id"], capacity=10
        )
        hidden = create_ticket_type(
            client, owner["headers"], owner["org"], event["id"], name="Hidden", is_active=False
        )
        later = create_ticket_type(
            client, owner["headers"], owner["org"], event["id"], name="Later", sales_start=future(5)
        )
        client.post(events_url(owner["org"], event["id"], "publish"), headers=owner["headers"])
        set_ticket_counters(clean_database, standing["id"], sold=7, held=3)

        by_slug = client.get(f"{CATALOGUE}/live-page")
        by_id = client.get(f"{CATALOGUE}/{event['id']}")
        assert by_slug.status_code == by_id.status_code == 200
        assert by_slug.json() == by_id.json()
        data = by_slug.json()["data"]
        assert data["is_cancelled"] is False
        types = {t["name"]: t for t in data["ticket_types"]}
        assert hidden["name"] not in types
        assert types["Standing"]["available"] == 0
        assert types["Standing"]["sold_out"] is True
        assert types["Standing"]["on_sale"] is False
        assert types[later["name"]]["on_sale"] is False
        assert "quantity_sold" not in types["Standing"]

    def test_cancelled_event_is_shown_flagged(self, client, catalogue):
        response = client.get(f"{CATALOGUE}/{catalogue['cancelled']['slug']}")
        assert response.status_code == 200
        data = response.json()["data"]
        assert data["is_cancelled"] is True
        assert data["status"] == "cancelled"
        assert all(t["on_sale"] is False for t in data["ticket_types"])

    @pytest.mark.parametrize(
        "key",
        ["secret-draft-concert", "5b0ad7a0-4c3b-4d5e-9f6a-1b2c3d4e5f60", "NOT A SLUG", "a" * 100],
    )
    def test_drafts_and_unknown_are_404(self, client, catalogue, key):
        response = client.get(f"{CATALOGUE}/{key}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"

    def test_draft_by_id_is_404(self, client, owner):
        draft = create_event(client, owner["headers"], owner["org"])
        assert client.get(f"{CATALOGUE}/{draft['id']}").status_code == 404
