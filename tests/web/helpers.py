"""Helpers of the page tests: a browser-like client, CSRF tokens, logging in."""

from __future__ import annotations

import re
import uuid

from fastapi.testclient import TestClient

from tests.helpers import PASSWORD

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
