"""Organizer pages: organizations, events, ticket types, publish, cancel, team, roles."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.helpers import add_member, create_org, register
from tests.web.helpers import create_event, get_page, post_form, web_login


def _owner(client: TestClient) -> tuple[dict, str]:
    account = register(client)
    org = create_org(client, account["headers"], name="Nightfall Productions")
    web_login(client, account["email"])
    return account, org["slug"]


def _errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'class="field-error" id="f-([a-z_]+)-error">([^<]+)<', html))


EVENT_FORM = {
    "title": "Aurora Sessions",
    "category": "concert",
    "description": "Synths at dawn.",
    "venue_name": "Le Trianon",
    "venue_address": "80 bd de Rochechouart",
    "city": "Paris",
    "country": "fr",
    "starts_at": "2031-06-21T20:00",
    "ends_at": "2031-06-21T23:30",
    "timezone": "Europe/Paris",
    "currency": "eur",
}


def test_create_an_organization_from_the_page(client: TestClient) -> None:
    register_page = register(client)
    web_login(client, register_page["email"])
    response = post_form(client, "/organizer", {"name": "Moon Club", "slug": "moon-club"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/organizer/moon-club")
    taken = post_form(client, "/organizer", {"name": "Other", "slug": "moon-club"})
    assert taken.status_code == 422
    assert _errors(taken.text)["slug"] == "This address is already taken."


def test_create_event_shows_errors_next_to_fields_then_succeeds(client: TestClient) -> None:
    account, org = _owner(client)
    bad = post_form(
        client,
        f"/organizer/{org}/events/new",
        {**EVENT_FORM, "title": "", "country": "ZZ", "starts_at": "tomorrow"},
    )
    assert bad.status_code == 422
    errors = _errors(bad.text)
    assert errors["title"] == "This field is required."
    assert errors["country"] == "Use a 2-letter country code, such as FR."
    assert errors["starts_at"] == "Enter a date and time."
    assert 'value="Le Trianon"' in bad.text  # what was typed is kept
    backwards = post_form(
        client, f"/organizer/{org}/events/new", {**EVENT_FORM, "ends_at": "2031-06-21T19:00"}
    )
    assert _errors(backwards.text)["ends_at"] == "The end must be after the start."
    created = post_form(client, f"/organizer/{org}/events/new", EVENT_FORM)
    assert created.status_code == 303
    event_id = created.headers["location"].split("/events/")[1].split("?")[0]
    api = client.get(f"/api/v1/organizations/{org}/events/{event_id}", headers=account["headers"])
    data = api.json()["data"]
    assert data["title"] == "Aurora Sessions"
    assert data["status"] == "draft"
    # 20:00 in Paris in June is 18:00 UTC.
    assert data["starts_at"].startswith("2031-06-21T20:00:00+02:00") or data[
        "starts_at"
    ].startswith("2031-06-21T18:00:00")


def test_ticket_type_form_validates_and_publish_puts_the_event_in_the_catalogue(
    client: TestClient,
) -> None:
    account, org = _owner(client)
    created = post_form(client, f"/organizer/{org}/events/new", EVENT_FORM)
    event_url = created.headers["location"].split("?")[0]
    event_id = event_url.rsplit("/", 1)[1]
    refused = post_form(client, f"{event_url}/publish", {}, from_url=f"{event_url}/edit")
    assert refused.status_code == 409
    assert "Add at least one ticket type before publishing." in refused.text
    bad = post_form(
        client,
        f"{event_url}/ticket-types/new",
        {
            "name": "Standing",
            "price": "12.345",
            "capacity": "-1",
            "min_per_order": "3",
            "max_per_order": "2",
        },
    )
    assert bad.status_code == 422
    errors = _errors(bad.text)
    assert errors["price"] == "Too many decimals for this currency."
    good = post_form(
        client,
        f"{event_url}/ticket-types/new",
        {"name": "Standing", "price": "24,50", "capacity": "300", "is_active": "on"},
    )
    assert good.status_code == 303
    types = client.get(
        f"/api/v1/organizations/{org}/events/{event_id}/ticket-types", headers=account["headers"]
    ).json()["data"]
    assert [(t["name"], t["price_minor"], t["capacity"]) for t in types] == [
        ("Standing", 2450, 300)
    ]
    published = post_form(client, f"{event_url}/publish", {}, from_url=f"{event_url}/edit")
    assert published.status_code == 303
    catalogue = get_page(client, "/events?q=aurora")
    assert "Aurora Sessions" in catalogue.text


def test_edit_event_and_ticket_type(client: TestClient) -> None:
    account, org = _owner(client)
    event = create_event(client, account["headers"], org, publish=False)
    base = f"/organizer/{org}/events/{event['id']}"
    form = get_page(client, f"{base}/edit")
    assert 'value="Nightfall Live"' in form.text
    saved = post_form(client, f"{base}/edit", {**EVENT_FORM, "title": "Nightfall Reloaded"})
    assert saved.status_code == 303
    assert "Nightfall Reloaded" in get_page(client, f"/organizer/{org}").text
    ticket_type = event["ticket_types"][0]
    edit_url = f"{base}/ticket-types/{ticket_type['id']}/edit"
    assert 'value="25.00"' in get_page(client, edit_url).text
    changed = post_form(
        client,
        edit_url,
        {
            "name": "Standing",
            "price": "30",
            "capacity": "50",
            "min_per_order": "1",
            "max_per_order": "4",
            "is_active": "on",
        },
    )
    assert changed.status_code == 303
    again = client.get(
        f"/api/v1/organizations/{org}/events/{event['id']}/ticket-types/{ticket_type['id']}",
        headers=account["headers"],
    ).json()["data"]
    assert (again["price_minor"], again["capacity"], again["max_per_order"]) == (3000, 50, 4)


def test_cancel_asks_for_confirmation_first(client: TestClient) -> None:
    account, org = _owner(client)
    event = create_event(client, account["headers"], org)
    base = f"/organizer/{org}/events/{event['id']}"
    confirm = get_page(client, f"{base}/cancel")
    assert confirm.status_code == 200
    assert "Yes, cancel the event" in confirm.text
    assert "Every paid order is refunded in full" in confirm.text
    assert get_page(client, f"/events/{event['slug']}").status_code == 200
    done = post_form(client, f"{base}/cancel", {})
    assert done.status_code == 303
    page = get_page(client, f"/events/{event['slug']}")
    assert "This event was cancelled" in page.text
    assert "Continue" not in page.text


def test_team_members_and_roles(client: TestClient) -> None:
    account, org = _owner(client)
    staff = register(client, full_name="Gate Keeper")
    missing = post_form(
        client, f"/organizer/{org}/team", {"email": "nobody@example.com", "role": "staff"}
    )
    assert missing.status_code == 422
    assert "ask the person to register first" in missing.text
    added = post_form(client, f"/organizer/{org}/team", {"email": staff["email"], "role": "staff"})
    assert added.status_code == 303
    page = get_page(client, f"/organizer/{org}/team")
    assert staff["email"] in page.text
    member_id = re.search(
        r'action="/organizer/{}/team/([0-9a-f-]+)"[^>]*>\s*<input[^>]*>\s*<label[^>]*>[^<]*{}'.format(
            org, re.escape(staff["email"])
        ),
        page.text,
    )
    assert member_id
    promoted = post_form(
        client,
        f"/organizer/{org}/team/{member_id.group(1)}",
        {"role": "admin", "action": "role"},
        from_url=f"/organizer/{org}/team",
    )
    assert promoted.status_code == 303
    members = client.get(f"/api/v1/organizations/{org}/members", headers=account["headers"]).json()[
        "data"
    ]
    assert {m["user"]["email"]: m["role"] for m in members}[staff["email"]] == "admin"


def test_staff_cannot_manage_and_strangers_get_404(client: TestClient) -> None:
    owner = register(client)
    org = create_org(client, owner["headers"])["slug"]
    event = create_event(client, owner["headers"], org)
    staff = register(client)
    add_member(client, owner["headers"], org, staff["email"], "staff")
    web_login(client, staff["email"])
    assert get_page(client, f"/organizer/{org}").status_code == 200
    forbidden = get_page(client, f"/organizer/{org}/events/{event['id']}/edit")
    assert forbidden.status_code == 403
    assert "Access denied" in forbidden.text
    assert get_page(client, f"/organizer/{org}/team").status_code == 403
    refused = post_form(
        client, f"/organizer/{org}/events/{event['id']}/cancel", {}, from_url=f"/organizer/{org}"
    )
    assert refused.status_code == 403
    client.cookies.clear()
    stranger = register(client)
    web_login(client, stranger["email"])
    assert get_page(client, f"/organizer/{org}").status_code == 404
    assert get_page(client, f"/organizer/{org}/events/{event['id']}/edit").status_code == 404
