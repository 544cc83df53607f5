"""Bad input to the events API: a clear 4xx with a stable code, and nothing changes."""

from __future__ import annotations

import uuid

import pytest

from tests.helpers import (
    create_event,
    create_org,
    create_ticket_type,
    db_snapshot,
    event_payload,
    events_url,
    register,
    ticket_type_payload,
)

HUGE = 10**20


@pytest.fixture
def world(client, clean_database):
    owner = register(client)
    org = create_org(client, owner["headers"])["slug"]
    event = create_event(client, owner["headers"], org, slug="taken-slug")
    ticket_type = create_ticket_type(client, owner["headers"], org, event["id"])
    return {
        "client": client,
        "headers": owner["headers"],
        "org": org,
        "event": event,
        "ticket_type": ticket_type,
        "database": clean_database,
    }


def _assert_refused(world, response, status, code, case=None):
    assert response.status_code == status, (case, response.text)
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code, case
    assert body["error"]["message"]


def _check(world, method, url, *, status, code, case=None, **kwargs):
    before = db_snapshot(world["database"])
    response = world["client"].request(method, url, headers=world["headers"], **kwargs)
    _assert_refused(world, response, status, code, case)
    assert db_snapshot(world["database"]) == before, case
    return response


def _without(payload, key):
    return {k: v for k, v in payload.items() if k != key}


NAIVE = "2031-06-21T20:00:00"

BAD_EVENTS = {
    "title int": {"title": 12},
    "title empty": {"title": ""},
    "title too long": {"title": "x" * 201},
    "title nul": {"title": "bad\x00title"},
    "description too long": {"description": "x" * 20_001},
    "category unknown": {"category": "rave"},
    "category int": {"category": 3},
    "slug uppercase": {"slug": "Not-Valid"},
    "slug spaces": {"slug": "not valid"},
    "slug too long": {"slug": "a" * 81},
    "slug is a uuid": {"slug": str(uuid.uuid4())},
    "venue not object": {"venue": "Paris"},
    "venue unknown field": {"venue": {"capacity": 100}},
    "venue name too long": {"venue": {"name": "x" * 201}},
    "venue city too long": {"venue": {"city": "x" * 101}},
    "venue country unknown": {"venue": {"country": "ZZ"}},
    "venue country alpha3": {"venue": {"country": "FRA"}},
    "naive start": {"starts_at": NAIVE, "ends_at": "2031-06-21T23:00:00+02:00"},
    "naive end": {"starts_at": "2031-06-21T20:00:00+02:00", "ends_at": NAIVE},
    "start as number": {"starts_at": 1_900_000_000},
    "start as bool": {"starts_at": True},
    "start garbage": {"starts_at": "next friday"},
    "start year 9999": {"starts_at": "9999-12-31T23:00:00-05:00"},
    "end before start": {
        "starts_at": "2031-06-21T20:00:00+02:00",
        "ends_at": "2031-06-21T19:00:00+02:00",
    },
    "end equals start": {
        "starts_at": "2031-06-21T20:00:00+02:00",
        "ends_at": "2031-06-21T18:00:00Z",
    },
    "timezone unknown": {"timezone": "Mars/Olympus_Mons"},
    "timezone path": {"timezone": "../../../etc/passwd"},
    "timezone empty": {"timezone": ""},
    "timezone too long": {"timezone": "Europe/" + "x" * 100},
    "currency unknown": {"currency": "ABC"},
    "currency not money": {"currency": "XXX"},
    "currency word": {"currency": "EURO"},
    "currency int": {"currency": 978},
    "unknown field": {"status": "published"},
    "unknown field org": {"organization_id": str(uuid.uuid4())},
}


def test_create_event_refused(world):
    for case, overrides in BAD_EVENTS.items():
        overrides = dict(overrides)
        venue = overrides.pop("venue", None)
        payload = event_payload(**overrides)
        if isinstance(venue, dict):
            payload["venue"] = {**payload["venue"], **venue}
        elif venue is not None:
            payload["venue"] = venue
        response = _check(
            world,
            "POST",
            events_url(world["org"]),
            status=422,
            code="VALIDATION_ERROR",
            json=payload,
            case=case,
        )
        assert response.json()["error"]["details"]["errors"], case


def test_create_event_missing_field(world):
    for field in ("title", "category", "venue", "starts_at", "timezone", "currency"):
        _check(
            world,
            "POST",
            events_url(world["org"]),
            status=422,
            code="VALIDATION_ERROR",
            json=_without(event_payload(), field),
            case=field,
        )


def test_malformed_bodies(world):
    cases = [
        (b'{"title": "x",', 400, "MALFORMED_JSON"),
        (b"{'title': 'x'}", 400, "MALFORMED_JSON"),
        (b"\xff\xfe", 400, "MALFORMED_JSON"),
        (b"[]", 422, "VALIDATION_ERROR"),
        (b'"just a string"', 422, "VALIDATION_ERROR"),
        (b"null", 422, "VALIDATION_ERROR"),
        (b"", 422, "VALIDATION_ERROR"),
    ]
    urls = [
        events_url(world["org"]),
        events_url(world["org"], world["event"]["id"]),
        events_url(world["org"], world["event"]["id"], "ticket-types"),
    ]
    for content, status, code in cases:
        for url in urls:
            method = "PATCH" if url.endswith(world["event"]["id"]) else "POST"
            before = db_snapshot(world["database"])
            response = world["client"].request(
                method,
                url,
                content=content,
                headers={**world["headers"], "content-type": "application/json"},
            )
            _assert_refused(world, response, status, code, (content, url))
            assert db_snapshot(world["database"]) == before


BAD_PATCHES = {
    "title null": {"title": None},
    "category null": {"category": None},
    "venue null": {"venue": None},
    "venue city null": {"venue": {"city": None}},
    "starts_at null": {"starts_at": None},
    "end before current start": {"ends_at": "2001-01-01T00:00:00Z"},
    "naive": {"starts_at": NAIVE},
    "slug taken by nobody but invalid": {"slug": "-bad-"},
    "unknown field": {"published_at": "2031-01-01T00:00:00Z"},
    "status": {"status": "published"},
    "timezone": {"timezone": "Paris"},
    "currency": {"currency": "eur1"},
}


def test_patch_event_refused(world):
    for case, body in BAD_PATCHES.items():
        _check(
            world,
            "PATCH",
            events_url(world["org"], world["event"]["id"]),
            status=422,
            code="VALIDATION_ERROR",
            json=body,
            case=case,
        )


BAD_TICKET_TYPES = {
    "price string": {"price_minor": "12"},
    "price bool": {"price_minor": True},
    "price float": {"price_minor": 12.5},
    "price negative": {"price_minor": -1},
    "price huge": {"price_minor": HUGE},
    "capacity string": {"capacity": "100"},
    "capacity bool": {"capacity": False},
    "capacity negative": {"capacity": -5},
    "capacity huge": {"capacity": HUGE},
    "min zero": {"min_per_order": 0},
    "max huge": {"max_per_order": 10_000},
    "min above max": {"min_per_order": 6, "max_per_order": 5},
    "is_active string": {"is_active": "yes"},
    "is_active int": {"is_active": 1},
    "position negative": {"position": -1},
    "name empty": {"name": ""},
    "name too long": {"name": "x" * 201},
    "description too long": {"description": "x" * 20_001},
    "sales naive": {"sales_start": NAIVE},
    "sales end before start": {
        "sales_start": "2031-06-01T00:00:00Z",
        "sales_end": "2031-05-01T00:00:00Z",
    },
    "unknown field": {"quantity_sold": 0},
    "name nul": {"name": "\x00"},
}


def test_create_ticket_type_refused(world):
    for case, overrides in BAD_TICKET_TYPES.items():
        _check(
            world,
            "POST",
            events_url(world["org"], world["event"]["id"], "ticket-types"),
            status=422,
            code="VALIDATION_ERROR",
            json=ticket_type_payload(**overrides),
            case=case,
        )


def test_patch_ticket_type_refused(world):
    url = events_url(world["org"], world["event"]["id"], "ticket-types", world["ticket_type"]["id"])
    for body in (
        {"capacity": -1},
        {"capacity": "5"},
        {"price_minor": None},
        {"is_active": None},
        {"name": None},
        {"max_per_order": 0},
        {"quantity_held": 0},
        {"sales_start": "2031-06-01T00:00:00"},
    ):
        _check(world, "PATCH", url, status=422, code="VALIDATION_ERROR", json=body, case=body)


def _all_event_routes(world, event_id, ticket_type_id):
    org = world["org"]
    return [
        ("GET", events_url(org, event_id), None),
        ("PATCH", events_url(org, event_id), {"title": "x"}),
        ("DELETE", events_url(org, event_id), None),
        ("POST", events_url(org, event_id, "publish"), None),
        ("POST", events_url(org, event_id, "cancel"), None),
        ("DELETE", events_url(org, event_id, "image"), None),
        ("GET", events_url(org, event_id, "ticket-types"), None),
        ("POST", events_url(org, event_id, "ticket-types"), ticket_type_payload()),
        ("GET", events_url(org, event_id, "ticket-types", ticket_type_id), None),
        ("PATCH", events_url(org, event_id, "ticket-types", ticket_type_id), {"name": "x"}),
        ("DELETE", events_url(org, event_id, "ticket-types", ticket_type_id), None),
    ]


def test_unknown_ids_are_404(world):
    missing = str(uuid.uuid4())
    real_event, real_type = world["event"]["id"], world["ticket_type"]["id"]
    for event_id, ticket_type_id in ((missing, real_type), (real_event, missing)):
        for method, url, body in _all_event_routes(world, event_id, ticket_type_id):
            if event_id == real_event and "ticket-types/" not in url:
                continue  # these routes do not take the missing ticket type
            before = db_snapshot(world["database"])
            response = world["client"].request(method, url, json=body, headers=world["headers"])
            _assert_refused(world, response, 404, "NOT_FOUND")
            assert db_snapshot(world["database"]) == before, (method, url)


def test_garbage_ids_are_422(world):
    real_type = world["ticket_type"]["id"]
    for garbage in ("abc", "1", "0x10", "' OR 1=1 --", "a" * 300):
        for method, url, body in _all_event_routes(world, garbage, real_type):
            _check(world, method, url, status=422, code="VALIDATION_ERROR", json=body, case=url)
        url = events_url(world["org"], world["event"]["id"], "ticket-types", garbage)
        _check(world, "GET", url, status=422, code="VALIDATION_ERROR", case=url)
    # A NUL in a URL is refused by the middleware before any route sees it.
    for method, url, body in _all_event_routes(world, "%00", real_type):
        _check(world, method, url, status=400, code="BAD_REQUEST", json=body, case=url)


def test_bad_list_parameters(world):
    for params in (
        {"per_page": 0},
        {"per_page": 101},
        {"per_page": "ten"},
        {"page": 0},
        {"page": -1},
        {"page": HUGE},
        {"status": "archived"},
    ):
        _check(
            world,
            "GET",
            events_url(world["org"]),
            status=422,
            code="VALIDATION_ERROR",
            params=params,
            case=params,
        )


def test_bad_catalogue_parameters(client):
    for params in (
        {"category": "rave"},
        {"price_min": -1},
        {"price_max": HUGE},
        {"price_min": "cheap"},
        {"sort": "popularity"},
        {"city": "x" * 101},
        {"date_to": "2026-02-30"},
        {"page": "1.5"},
        {"q": "x" * 201},
    ):
        response = client.get("/api/v1/events", params=params)
        assert response.status_code == 422, params
        assert response.json()["error"]["code"] == "VALIDATION_ERROR", params
    refused = client.get("/api/v1/events", params={"city": "Pa\x00ris"})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "BAD_REQUEST"
