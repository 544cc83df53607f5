"""Helpers of the page tests: a browser-like client, CSRF tokens, logging in."""

from __future__ import annotations

import json
import re
import uuid

from fastapi.testclient import TestClient

from tests.helpers import PASSWORD

# A versioned static file's address in a page (static_url): what an offline app's worker
# must precache.
STATIC_URL = re.compile(r"/static/[^\"'?\s]+\?v=[0-9a-f]+")


def worker_shell(script: str) -> dict:
    """The description an offline app's service worker is served with (its first line)."""
    first_line = script.split("\n", 1)[0]
    assert first_line.startswith("var SHELL = ") and first_line.endswith(";")
    return json.loads(first_line[len("var SHELL = ") : -1])


HTML = {"accept": "text/html,application/xhtml+xml"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def get_page(client: TestClient, url: str, **kwargs: object):
    return client.get(url, headers={**HTML, **kwargs.pop("headers", {})}, **kwargs)  # type: ignore[arg-type]


def post_form(client: TestClient, url: str, data: dict[str, str], *, from_url: str | None = None):
    """POST a form the way a browser does: with the token of the page it came from."""
    page = get_page(client, from_url or url)
    token = csrf_from(page.text)
    return client.post(
        url, data={"csrf_token": token, **data}, headers=HTML, follow_redirects=False
    )


def web_register(client: TestClient, email: str | None = None, full_name: str = "Web User") -> str:
    email = email or f"web-{uuid.uuid4().hex[:10]}@example.com"
    response = post_form(
        client,
        "/register",
        {"email": email, "password": PASSWORD, "full_name": full_name},
    )
    assert response.status_code == 303, response.text
    return email


def web_login(client: TestClient, email: str, password: str = PASSWORD) -> None:
    response = post_form(client, "/login", {"email": email, "password": password})
    assert response.status_code == 303, response.text


def create_event(
    client: TestClient,
    headers: dict[str, str],
    org: str,
    *,
    title: str = "Nightfall Live",
    city: str = "Paris",
    category: str = "concert",
    days_ahead: int = 30,
    timezone: str = "Europe/Paris",
    ticket_types: list[dict] | None = None,
    publish: bool = True,
) -> dict:
    """An event with ticket types through the organizer API (published by default)."""
    from datetime import UTC, datetime, timedelta

    start = (datetime.now(UTC) + timedelta(days=days_ahead)).replace(
        hour=19, minute=0, second=0, microsecond=0
    )
    response = client.post(
        f"/api/v1/organizations/{org}/events",
        json={
            "title": title,
            "description": "A night of music under the stars.",
            "category": category,
            "venue": {
                "name": "La Cigale",
                "address": "120 bd de Rochechouart",
                "city": city,
                "country": "FR",
            },
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=4)).isoformat(),
            "timezone": timezone,
            "currency": "EUR",
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    event = response.json()["data"]
    for ticket_type in ticket_types or [{"name": "Standing", "price_minor": 2500, "capacity": 100}]:
        created = client.post(
            f"/api/v1/organizations/{org}/events/{event['id']}/ticket-types",
            json=ticket_type,
            headers=headers,
        )
        assert created.status_code == 201, created.text
    if publish:
        published = client.post(
            f"/api/v1/organizations/{org}/events/{event['id']}/publish", headers=headers
        )
        assert published.status_code == 200, published.text
    got = client.get(f"/api/v1/organizations/{org}/events/{event['id']}", headers=headers)
    return got.json()["data"]
