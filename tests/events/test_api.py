"""Organizer API for events and ticket types, through HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from admitone.events.models import Event, TicketType
from admitone.orders.models import Order
from tests.helpers import (
    create_event,
    create_org,
    create_published_event,
    create_ticket_type,
    db_snapshot,
    events_url,
    future,
    publish_event,
    register,
    set_ticket_counters,
)


@pytest.fixture
def owner(client):
    account = register(client)
    account["org"] = create_org(client, account["headers"])["slug"]
    return account


def _url(owner, *parts):
    return events_url(owner["org"], *parts)


def _add_order(database, event_id: str) -> None:
    with database.session() as session:
        event = session.get(Event, uuid.UUID(event_id))
        session.add(
            Order(
                code=uuid.uuid4().hex[:10].upper(),
                organization_id=event.organization_id,
                event_id=event.id,
                buyer_name="Ada",
                buyer_email="ada@example.com",
                access_token_hash=uuid.uuid4().hex,
                currency="EUR",
                total_minor=0,
                expires_at=datetime.now(UTC) + timedelta(minutes=15),
            )
        )


class TestCreateEvent:
    def test_creates_a_draft_with_nested_venue(self, client, owner, clean_database):
        event = create_event(client, owner["headers"], owner["org"], title="Nightfall live")
        assert event["status"] == "draft"
        assert event["slug"] == "nightfall-live"
        assert event["organization_slug"] == owner["org"]
        assert event["venue"] == {
            "name": "La Cigale",
            "address": "120 bd de Rochechouart",
            "city": "Paris",
            "country": "FR",
        }
        assert event["ticket_types"] == []
        assert event["image_url"] is None
        with clean_database.session(write=False) as session:
            row = session.get(Event, uuid.UUID(event["id"]))
            assert (row.venue_name, row.city, row.country) == ("La Cigale", "Paris", "FR")

    def test_times_are_stored_as_instants_and_shown_at_the_event_offset(self, client, owner):
        event = create_event(
            client,
            owner["headers"],
            owner["org"],
            starts_at="2031-07-14T18:00:00Z",
            ends_at="2031-07-14T22:30:00+02:00",
        )
        # Paris is UTC+2 in July: 18:00Z is 20:00 local.
        assert event["starts_at"] == "2031-07-14T20:00:00+02:00"
        assert event["ends_at"] == "2031-07-14T22:30:00+02:00"

    def test_generated_slugs_are_unique_across_organizations(self, client, owner):
        other = register(client)
        other_org = create_org(client, other["headers"])["slug"]
        first = create_event(client, owner["headers"], owner["org"], title="Fête de la Musique!")
        second = create_event(client, owner["headers"], owner["org"], title="Fête de la musique")
        third = create_event(client, other["headers"], other_org, title="FÊTE de la musique")
        assert [first["slug"], second["slug"], third["slug"]] == [
            "fete-de-la-musique",
            "fete-de-la-musique-2",
            "fete-de-la-musique-3",
        ]

    def test_title_without_letters_still_gets_a_slug(self, client, owner):
        event = create_event(client, owner["headers"], owner["org"], title="!!! ???")
        assert event["slug"] == "event"

    def test_explicit_slug_taken_is_a_conflict(self, client, owner, clean_database):
        create_event(client, owner["headers"], owner["org"], slug="summer-gala")
        before = db_snapshot(clean_database)
        response = client.post(
            _url(owner),
            json={**_payload(), "slug": "summer-gala"},
            headers=owner["headers"],
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "SLUG_TAKEN"
        assert db_snapshot(clean_database) == before

    def test_lower_case_codes_are_normalised(self, client, owner):
        event = create_event(
            client, owner["headers"], owner["org"], currency="eur", venue={"country": "be"}
        )
        assert (event["currency"], event["venue"]["country"]) == ("EUR", "BE")


def _payload(**overrides):
    from tests.helpers import event_payload

    return event_payload(**overrides)


class TestReadEvents:
    def test_get_and_list_with_pagination_and_status(self, client, owner):
        drafts = [
            create_event(client, owner["headers"], owner["org"], title=f"Draft {i}")
            for i in range(3)
        ]
        published = create_published_event(client, owner["headers"], owner["org"], title="Live")
        one = client.get(_url(owner, drafts[0]["id"]), headers=owner["headers"])
        assert one.status_code == 200
        assert one.json()["data"]["title"] == "Draft 0"

        page = client.get(_url(owner), params={"per_page": 2, "page": 2}, headers=owner["headers"])
        assert page.status_code == 200
        assert page.json()["meta"] == {"page": 2, "per_page": 2, "total": 4}
        assert len(page.json()["data"]) == 2

        only_published = client.get(
            _url(owner), params={"status": "published"}, headers=owner["headers"]
        )
        assert [e["id"] for e in only_published.json()["data"]] == [published["id"]]
        assert only_published.json()["data"][0]["ticket_types"][0]["name"] == "Standing"

    def test_unknown_event_is_404(self, client, owner):
        response = client.get(_url(owner, uuid.uuid4()), headers=owner["headers"])
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"


class TestUpdateEvent:
    def test_partial_update_keeps_other_fields(self, client, owner):
        event = create_event(client, owner["headers"], owner["org"])
        response = client.patch(
            _url(owner, event["id"]),
            json={"title": "New title", "venue": {"city": "Lyon"}},
            headers=owner["headers"],
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["title"] == "New title"
        assert data["venue"] == {**event["venue"], "city": "Lyon"}
        assert data["slug"] == event["slug"]  # a slug does not follow the title
        assert data["description"] == event["description"]

    def test_end_before_start_after_merge_is_refused(self, client, owner, clean_database):
        event = create_event(client, owner["headers"], owner["org"])
        before = db_snapshot(clean_database)
        response = client.patch(
            _url(owner, event["id"]),
            json={"starts_at": future(40)},  # after the current end
            headers=owner["headers"],
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert response.json()["error"]["details"]["errors"][0]["field"] == "ends_at"
        assert db_snapshot(clean_database) == before

    def test_slug_change_and_conflict(self, client, owner):
        first = create_event(client, owner["headers"], owner["org"], slug="first-one")
        second = create_event(client, owner["headers"], owner["org"], slug="second-one")
        ok = client.patch(
            _url(owner, first["id"]), json={"slug": "renamed"}, headers=owner["headers"]
        )
        assert ok.json()["data"]["slug"] == "renamed"
        same = client.patch(
            _url(owner, first["id"]), json={"slug": "renamed"}, headers=owner["headers"]
        )
        assert same.status_code == 200
        taken = client.patch(
            _url(owner, second["id"]), json={"slug": "renamed"}, headers=owner["headers"]
        )
        assert taken.status_code == 409
        assert taken.json()["error"]["code"] == "SLUG_TAKEN"

    def test_currency_is_locked_once_seats_are_held(self, client, owner, clean_database):
        event = create_event(client, owner["headers"], owner["org"])
        ticket_type = create_ticket_type(client, owner["headers"], owner["org"], event["id"])
        set_ticket_counters(clean_database, ticket_type["id"], held=2)
        response = client.patch(
            _url(owner, event["id"]), json={"currency": "USD"}, headers=owner["headers"]
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "EVENT_HAS_SALES"
        # Other fields may still change.
        ok = client.patch(_url(owner, event["id"]), json={"title": "X"}, headers=owner["headers"])
        assert ok.status_code == 200
        assert ok.json()["data"]["currency"] == "EUR"

    def test_cancelled_event_is_frozen(self, client, owner):
        event = create_event(client, owner["headers"], owner["org"])
        client.post(_url(owner, event["id"], "cancel"), headers=owner["headers"])
        response = client.patch(
            _url(owner, event["id"]), json={"title": "Back"}, headers=owner["headers"]
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "EVENT_CANCELLED"
        add = client.post(
            _url(owner, event["id"], "ticket-types"),
            json={"name": "Late", "price_minor": 100, "capacity": 1},
            headers=owner["headers"],
        )
        assert add.status_code == 409


class TestDeleteEvent:
    def test_delete_without_sales_removes_event_and_ticket_types(
        self, client, owner, clean_database
    ):
        event = create_event(client, owner["headers"], owner["org"])
        create_ticket_type(client, owner["headers"], owner["org"], event["id"])
        response = client.delete(_url(owner, event["id"]), headers=owner["headers"])
        assert response.status_code == 204
        assert client.get(_url(owner, event["id"]), headers=owner["headers"]).status_code == 404
        with clean_database.session(write=False) as session:
            assert session.scalars(select(TicketType)).all() == []

    @pytest.mark.parametrize(("sold", "held"), [(1, 0), (0, 3)])
    def test_refused_with_sold_or_held_seats(self, client, owner, clean_database, sold, held):
        event = create_event(client, owner["headers"], owner["org"])
        ticket_type = create_ticket_type(client, owner["headers"], owner["org"], event["id"])
        set_ticket_counters(clean_database, ticket_type["id"], sold=sold, held=held)
        before = db_snapshot(clean_database)
        response = client.delete(_url(owner, event["id"]), headers=owner["headers"])
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "EVENT_HAS_SALES"
        assert db_snapshot(clean_database) == before

    def test_refused_when_an_order_exists(self, client, owner, clean_database):
        event = create_event(client, owner["headers"], owner["org"])
        _add_order(clean_database, event["id"])
        response = client.delete(_url(owner, event["id"]), headers=owner["headers"])
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "EVENT_HAS_SALES"
        assert client.get(_url(owner, event["id"]), headers=owner["headers"]).status_code == 200


class TestPublishAndCancel:
    def test_publish_needs_an_active_ticket_type(self, client, owner, clean_database):
        event = create_event(client, owner["headers"], owner["org"])
        create_ticket_type(client, owner["headers"], owner["org"], event["id"], is_active=False)
        before = db_snapshot(clean_database)
        response = client.post(_url(owner, event["id"], "publish"), headers=owner["headers"])
        assert response.status_code == 409
        body = response.json()["error"]
        assert body["code"] == "EVENT_NOT_PUBLISHABLE"
        assert body["details"]["reasons"] == ["no_active_ticket_type"]
        assert db_snapshot(clean_database) == before

    def test_publish_needs_a_future_start(self, client, owner):
        now = datetime.now(UTC)
        event = create_event(
            client,
            owner["headers"],
            owner["org"],
            starts_at=(now - timedelta(hours=1)).isoformat(),
            ends_at=(now + timedelta(hours=2)).isoformat(),
        )
        create_ticket_type(client, owner["headers"], owner["org"], event["id"])
        response = client.post(_url(owner, event["id"], "publish"), headers=owner["headers"])
        assert response.status_code == 409
        assert response.json()["error"]["details"]["reasons"] == ["starts_in_the_past"]

    def test_publish_once_from_draft(self, client, owner):
        event = create_event(client, owner["headers"], owner["org"])
        create_ticket_type(client, owner["headers"], owner["org"], event["id"])
        published = publish_event(client, owner["headers"], owner["org"], event["id"])
        assert published["status"] == "published"
        assert published["published_at"] is not None
        again = client.post(_url(owner, event["id"], "publish"), headers=owner["headers"])
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "EVENT_NOT_DRAFT"

    def test_cancel_from_published_then_not_again(self, client, owner):
        event = create_published_event(client, owner["headers"], owner["org"])
        cancelled = client.post(_url(owner, event["id"], "cancel"), headers=owner["headers"])
        assert cancelled.status_code == 200
        assert cancelled.json()["data"]["status"] == "cancelled"
        assert cancelled.json()["data"]["cancelled_at"] is not None
        again = client.post(_url(owner, event["id"], "cancel"), headers=owner["headers"])
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "EVENT_ALREADY_CANCELLED"
        republish = client.post(_url(owner, event["id"], "publish"), headers=owner["headers"])
        assert republish.status_code == 409

    def test_cancel_a_draft(self, client, owner):
        event = create_event(client, owner["headers"], owner["org"])
        response = client.post(_url(owner, event["id"], "cancel"), headers=owner["headers"])
        assert response.json()["data"]["status"] == "cancelled"


class TestTicketTypes:
    def test_create_get_list_in_position_order(self, client, owner):
        event = create_event(client, owner["headers"], owner["org"])
        vip = create_ticket_type(
            client,
            owner["headers"],
            owner["org"],
            event["id"],
            name="VIP",
            price_minor=9900,
            capacity=20,
            position=2,
            sales_start=future(1),
            sales_end=future(29),
            min_per_order=2,
            max_per_order=4,
        )
        standing = create_ticket_type(
            client, owner["headers"], owner["org"], event["id"], position=1
        )
        assert vip["available"] == 20
        assert (vip["min_per_order"], vip["max_per_order"]) == (2, 4)
        assert vip["sales_start"].endswith(("+01:00", "+02:00"))
        listed = client.get(_url(owner, event["id"], "ticket-types"), headers=owner["headers"])
        assert [t["id"] for t in listed.json()["data"]] == [standing["id"], vip["id"]]
        one = client.get(
            _url(owner, event["id"], "ticket-types", vip["id"]), headers=owner["headers"]
        )
        assert one.json()["data"]["name"] == "VIP"
        shown = client.get(_url(owner, event["id"]), headers=owner["headers"]).json()["data"]
        assert [t["name"] for t in shown["ticket_types"]] == ["Standing", "VIP"]

    def test_update_and_available(self, client, owner, clean_database):
        event = create_event(client, owner["headers"], owner["org"])
        ticket_type = create_ticket_type(client, owner["headers"], owner["org"], event["id"])
        set_ticket_counters(clean_database, ticket_type["id"], sold=30, held=5)
        response = client.patch(
            _url(owner, event["id"], "ticket-types", ticket_type["id"]),
            json={"capacity": 50, "price_minor": 4000, "is_active": False, "sales_end": future(3)},
            headers=owner["headers"],
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert (data["capacity"], data["available"], data["price_minor"]) == (50, 15, 4000)
        assert data["is_active"] is False
        cleared = client.patch(
            _url(owner, event["id"], "ticket-types", ticket_type["id"]),
            json={"sales_end": None},
            headers=owner["headers"],
        )
        assert cleared.json()["data"]["sales_end"] is None

    def test_capacity_never_below_sold_plus_held(self, client, owner, clean_database):
        event = create_event(client, owner["headers"], owner["org"])
        ticket_type = create_ticket_type(client, owner["headers"], owner["org"], event["id"])
        set_ticket_counters(clean_database, ticket_type["id"], sold=30, held=5)
        before = db_snapshot(clean_database)
        url = _url(owner, event["id"], "ticket-types", ticket_type["id"])
        response = client.patch(
            url, json={"capacity": 34, "name": "Renamed"}, headers=owner["headers"]
        )
        assert response.status_code == 409
        body = response.json()["error"]
        assert body["code"] == "CAPACITY_BELOW_SOLD"
        assert body["details"] == {"capacity": 34, "sold": 30, "held": 5}
        # The whole change is refused, the rename included.
        assert db_snapshot(clean_database) == before
        exact = client.patch(url, json={"capacity": 35}, headers=owner["headers"])
        assert exact.status_code == 200
        assert exact.json()["data"]["available"] == 0

    def test_merged_order_limits_are_checked(self, client, owner):
        event = create_event(client, owner["headers"], owner["org"])
        ticket_type = create_ticket_type(
            client, owner["headers"], owner["org"], event["id"], max_per_order=4
        )
        response = client.patch(
            _url(owner, event["id"], "ticket-types", ticket_type["id"]),
            json={"min_per_order": 5},
            headers=owner["headers"],
        )
        assert response.status_code == 422
        assert response.json()["error"]["details"]["errors"][0]["field"] == "max_per_order"

    def test_delete_without_sales(self, client, owner):
        event = create_event(client, owner["headers"], owner["org"])
        ticket_type = create_ticket_type(client, owner["headers"], owner["org"], event["id"])
        url = _url(owner, event["id"], "ticket-types", ticket_type["id"])
        assert client.delete(url, headers=owner["headers"]).status_code == 204
        assert client.get(url, headers=owner["headers"]).status_code == 404

    def test_delete_with_sales_is_refused(self, client, owner, clean_database):
        event = create_event(client, owner["headers"], owner["org"])
        ticket_type = create_ticket_type(client, owner["headers"], owner["org"], event["id"])
        set_ticket_counters(clean_database, ticket_type["id"], sold=1)
        before = db_snapshot(clean_database)
        url = _url(owner, event["id"], "ticket-types", ticket_type["id"])
        response = client.delete(url, headers=owner["headers"])
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "TICKET_TYPE_HAS_SALES"
        assert db_snapshot(clean_database) == before

    def test_ticket_type_of_another_event_is_404(self, client, owner):
        first = create_event(client, owner["headers"], owner["org"])
        second = create_event(client, owner["headers"], owner["org"])
        ticket_type = create_ticket_type(client, owner["headers"], owner["org"], first["id"])
        url = _url(owner, second["id"], "ticket-types", ticket_type["id"])
        for method in ("GET", "PATCH", "DELETE"):
            kwargs = {"json": {"name": "x"}} if method == "PATCH" else {}
            response = client.request(method, url, headers=owner["headers"], **kwargs)
            assert response.status_code == 404, method


class TestDuplicateEvent:
    def test_copies_a_published_event_as_a_draft(self, client, owner, clean_database):
        event = create_published_event(client, owner["headers"], owner["org"])
        response = client.post(_url(owner, event["id"], "duplicate"), headers=owner["headers"])
        assert response.status_code == 201, response.text
        copy = response.json()["data"]
        assert copy["status"] == "draft" and copy["id"] != event["id"]
        assert copy["slug"] == f"{event['slug']}-2"
        assert copy["title"] == event["title"]
        types = client.get(
            _url(owner, copy["id"], "ticket-types"), headers=owner["headers"]
        ).json()["data"]
        assert [(t["name"], t["quantity_sold"]) for t in types] == [
            (t["name"], 0) for t in event["ticket_types"]
        ]
        # Drafts are not in the catalogue.
        assert client.get(f"/api/v1/events/{copy['slug']}").status_code == 404

    def test_another_organizations_event_is_404(self, client, owner, clean_database):
        event = create_event(client, owner["headers"], owner["org"])
        stranger = register(client)
        stranger_org = create_org(client, stranger["headers"])["slug"]
        before = db_snapshot(clean_database)
        response = client.post(
            events_url(stranger_org, event["id"], "duplicate"), headers=stranger["headers"]
        )
        assert response.status_code == 404
        assert db_snapshot(clean_database) == before


class TestAttendeeNamesSetting:
    """Issue 15: the organizer asks for each attendee's name (off unless asked)."""

    def test_off_by_default_settable_at_creation_and_shown(self, client, owner):
        plain = create_event(client, owner["headers"], owner["org"])
        assert plain["ask_attendee_names"] is False
        asked = create_event(client, owner["headers"], owner["org"], ask_attendee_names=True)
        assert asked["ask_attendee_names"] is True
        read = client.get(_url(owner, asked["id"]), headers=owner["headers"]).json()["data"]
        assert read["ask_attendee_names"] is True

    def test_patch_turns_it_on_and_off_and_leaves_it_alone_otherwise(self, client, owner):
        event = create_event(client, owner["headers"], owner["org"])
        url = _url(owner, event["id"])
        on = client.patch(url, json={"ask_attendee_names": True}, headers=owner["headers"])
        assert on.status_code == 200, on.text
        assert on.json()["data"]["ask_attendee_names"] is True
        retitled = client.patch(url, json={"title": "Still asking"}, headers=owner["headers"])
        assert retitled.json()["data"]["ask_attendee_names"] is True
        off = client.patch(url, json={"ask_attendee_names": False}, headers=owner["headers"])
        assert off.json()["data"]["ask_attendee_names"] is False

    @pytest.mark.parametrize("value", ["yes", 1, None])
    def test_only_a_boolean_is_accepted(self, client, owner, clean_database, value):
        event = create_event(client, owner["headers"], owner["org"])
        before = db_snapshot(clean_database)
        response = client.patch(
            _url(owner, event["id"]), json={"ask_attendee_names": value}, headers=owner["headers"]
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert db_snapshot(clean_database) == before

    def test_a_copy_asks_as_its_original_does(self, client, owner):
        for asked in (True, False):
            event = create_event(client, owner["headers"], owner["org"], ask_attendee_names=asked)
            copy = client.post(_url(owner, event["id"], "duplicate"), headers=owner["headers"])
            assert copy.status_code == 201, copy.text
            assert copy.json()["data"]["ask_attendee_names"] is asked
