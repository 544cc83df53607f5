"""The gate scanner page: who may open it, and the API token it hands its script."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.helpers import add_member, auth, create_org, register
from tests.web.helpers import HTML, create_event, get_page, web_login


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
