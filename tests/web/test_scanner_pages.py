"""The gate scanner page: who may open it, and the API token it hands its script."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.helpers import PASSWORD, add_member, auth, create_org, register
from tests.web.helpers import HTML, create_event, get_page, post_form, web_login


def _event_with_member(client: TestClient, role: str) -> tuple[dict, dict]:
    owner = register(client)
    org = create_org(client, owner["headers"])["slug"]
    event = create_event(client, owner["headers"], org, title="Gate Night")
    member = register(client)
    add_member(client, owner["headers"], org, member["email"], role)
    web_login(client, member["email"])
    return event, member


def test_staff_see_their_events_and_the_scanner(client: TestClient) -> None:
    event, _member = _event_with_member(client, "staff")
    choose = get_page(client, "/scan")
    assert "Gate Night" in choose.text
    page = get_page(client, f"/scan/{event['id']}")
    assert page.status_code == 200
    assert 'data-scan-url="/api/v1/events/{}/checkins"'.format(event["id"]) in page.text
    assert "/static/vendor/jsqr/jsQR.js" in page.text
    assert 'id="manual-code"' in page.text


def test_the_page_token_works_on_the_checkin_api(client: TestClient) -> None:
    event, _member = _event_with_member(client, "staff")
    page = get_page(client, f"/scan/{event['id']}")
    token = re.search(r'data-token="([^"]+)"', page.text).group(1)
    stats = client.get(f"/api/v1/events/{event['id']}/checkins/stats", headers=auth(token))
    assert stats.status_code == 200
    assert stats.json()["data"]["admitted"] == 0


def test_token_refresh_needs_the_csrf_header(client: TestClient) -> None:
    event, _member = _event_with_member(client, "staff")
    page = get_page(client, f"/scan/{event['id']}")
    csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)
    assert client.post("/scan/token", headers=HTML).status_code == 403
    fresh = client.post("/scan/token", headers={"x-csrf-token": csrf, "accept": "application/json"})
    assert fresh.status_code == 200
    token = fresh.json()["access_token"]
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 200


def test_logout_ends_the_scanner_token_too(client: TestClient) -> None:
    event, _member = _event_with_member(client, "staff")
    page = get_page(client, f"/scan/{event['id']}")
    token = re.search(r'data-token="([^"]+)"', page.text).group(1)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post("/logout", data={"csrf_token": csrf}, headers=HTML)
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 401


def test_cashiers_may_not_scan(client: TestClient) -> None:
    event, _member = _event_with_member(client, "cashier")
    assert "Gate Night" not in get_page(client, "/scan").text
    assert get_page(client, f"/scan/{event['id']}").status_code == 403


def test_scanner_needs_a_login(client: TestClient) -> None:
    response = get_page(client, "/scan", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def _login_lands_on(client: TestClient, email: str, next_url: str | None = None) -> str:
    data = {"email": email, "password": PASSWORD}
    if next_url is not None:
        data["next"] = next_url
    response = post_form(client, "/login", data)
    assert response.status_code == 303, response.text
    return response.headers["location"].split("?")[0]


def test_gate_staff_land_on_the_scanner_others_keep_their_landing(client: TestClient) -> None:
    owner = register(client)
    org = create_org(client, owner["headers"])["slug"]
    staff, cashier = register(client), register(client)
    add_member(client, owner["headers"], org, staff["email"], "staff")
    add_member(client, owner["headers"], org, cashier["email"], "cashier")
    buyer = register(client)
    assert _login_lands_on(TestClient(client.app), staff["email"]) == "/scan"
    # A page to go back to still wins.
    assert _login_lands_on(TestClient(client.app), staff["email"], "/events") == "/events"
    assert _login_lands_on(TestClient(client.app), owner["email"]) == "/"
    assert _login_lands_on(TestClient(client.app), cashier["email"]) == "/"
    assert _login_lands_on(TestClient(client.app), buyer["email"]) == "/"
    # Gate staff here and admin elsewhere: more than gate staff, the usual landing.
    other_owner = register(client)
    other_org = create_org(client, other_owner["headers"])["slug"]
    add_member(client, other_owner["headers"], other_org, staff["email"], "admin")
    assert _login_lands_on(TestClient(client.app), staff["email"]) == "/"


def test_everyone_who_may_scan_sees_the_scan_link(client: TestClient) -> None:
    owner = register(client)
    org = create_org(client, owner["headers"])["slug"]
    people = {role: register(client) for role in ("staff", "admin", "cashier")}
    for role, person in people.items():
        add_member(client, owner["headers"], org, person["email"], role)
    buyer = register(client)
    link = '<a href="/scan"'
    for email, sees in (
        (owner["email"], True),
        (people["staff"]["email"], True),
        (people["admin"]["email"], True),
        (people["cashier"]["email"], False),
        (buyer["email"], False),
    ):
        browser = TestClient(client.app)
        web_login(browser, email)
        assert (link in get_page(browser, "/events").text) is sees, email
    assert link not in get_page(TestClient(client.app), "/events").text


def test_the_scanner_page_offers_search_and_undo_to_supervisors_only(client: TestClient) -> None:
    event, _member = _event_with_member(client, "staff")
    page = get_page(client, f"/scan/{event['id']}")
    assert 'id="search-form"' in page.text
    assert 'data-may-undo="false"' in page.text
    assert 'data-text-code-TICKET_NOT_ADMITTED="' in page.text
    admin_event, _admin = _event_with_member(client, "admin")
    assert 'data-may-undo="true"' in get_page(client, f"/scan/{admin_event['id']}").text


def test_the_scanner_page_in_french(client: TestClient) -> None:
    event, _member = _event_with_member(client, "staff")
    page = get_page(client, f"/scan/{event['id']}", headers={**HTML, "accept-language": "fr"})
    assert "Trouver un billet" in page.text
    assert "pour scanner le billet suivant ; le scanner revient" in page.text


def test_the_scanner_page_offers_the_lists_and_entry_or_exit(client: TestClient) -> None:
    owner = register(client)
    org = create_org(client, owner["headers"])["slug"]
    event = create_event(client, owner["headers"], org, title="Gate Night")
    made = client.post(
        f"/api/v1/organizations/{org}/events/{event['id']}/checkin-lists",
        json={"name": "Pass-out door", "allow_reentry": True},
        headers=owner["headers"],
    )
    assert made.status_code == 201, made.text
    web_login(client, owner["email"])
    page = get_page(client, f"/scan/{event['id']}")
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', page.text)
    # The default list first, preselected; then the others.
    assert [(label, bool(selected)) for _value, selected, label in options] == [
        ("Default (default)", True),
        ("Pass-out door", False),
    ]
    assert options[1][0] == made.json()["data"]["id"]
    assert re.search(r'name="scan-kind" value="entry" checked', page.text)
    assert 'name="scan-kind" value="exit"' in page.text
    assert 'data-text-not_inside="' in page.text
    french = get_page(client, f"/scan/{event['id']}", headers={**HTML, "accept-language": "fr"})
    assert "Sortie enregistrée" in french.text and "Liste de contrôle" in french.text
