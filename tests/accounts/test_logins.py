"""'Your logins': list the open logins, end one, end them all; last use recorded sparingly."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from admitone.accounts.logins import describe_device
from admitone.accounts.models import AuthSession
from admitone.db import utcnow
from tests.helpers import PASSWORD, auth, register
from tests.web.helpers import HTML, get_page, post_form, web_login

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def login(client: TestClient, email: str, agent: str) -> dict:
    response = client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"user-agent": agent},
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["tokens"]


def test_the_list_shows_each_device_and_marks_this_one(client):
    email = register(client)["email"]
    firefox = login(client, email, FIREFOX)
    iphone = login(client, email, IPHONE)
    response = client.get("/api/v1/me/sessions", headers=auth(firefox["access_token"]))
    assert response.status_code == 200
    rows = response.json()["data"]
    assert len(rows) == 3  # registering logged in too
    devices = {row["device"]: row for row in rows}
    assert devices["Firefox on Windows"]["current"] is True
    assert devices["Mobile Safari on iOS"]["current"] is False
    assert [row["current"] for row in rows].count(True) == 1
    assert {"id", "created_at", "last_used_at"} <= set(rows[0])
    assert iphone


def test_log_out_one_login(client):
    email = register(client)["email"]
    firefox = login(client, email, FIREFOX)
    iphone = login(client, email, IPHONE)
    rows = client.get("/api/v1/me/sessions", headers=auth(firefox["access_token"])).json()["data"]
    [iphone_row] = [row for row in rows if row["device"] == "Mobile Safari on iOS"]
    ended = client.delete(
        f"/api/v1/me/sessions/{iphone_row['id']}", headers=auth(firefox["access_token"])
    )
    assert ended.status_code == 204
    assert client.get("/api/v1/me", headers=auth(iphone["access_token"])).status_code == 401
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": iphone["refresh_token"]})
    assert refreshed.status_code == 401
    assert client.get("/api/v1/me", headers=auth(firefox["access_token"])).status_code == 200
    rows = client.get("/api/v1/me/sessions", headers=auth(firefox["access_token"])).json()["data"]
    assert iphone_row["id"] not in {row["id"] for row in rows}
    again = client.delete(
        f"/api/v1/me/sessions/{iphone_row['id']}", headers=auth(firefox["access_token"])
    )
    assert again.status_code == 404


def test_another_users_login_is_not_found(client):
    mallory = register(client)
    victim = register(client)
    rows = client.get("/api/v1/me/sessions", headers=victim["headers"]).json()["data"]
    response = client.delete(f"/api/v1/me/sessions/{rows[0]['id']}", headers=mallory["headers"])
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "LOGIN_NOT_FOUND"
    assert client.get("/api/v1/me", headers=victim["headers"]).status_code == 200
    unknown = client.delete(f"/api/v1/me/sessions/{uuid.uuid4()}", headers=mallory["headers"])
    assert unknown.status_code == 404


def test_log_out_everywhere_ends_every_login_and_the_web_session(client):
    account = register(client)
    other = login(client, account["email"], IPHONE)
    browser = TestClient(client.app, raise_server_exceptions=False)
    web_login(browser, account["email"])
    response = client.post("/api/v1/me/sessions/logout-all", headers=account["headers"])
    assert response.status_code == 204
    assert client.get("/api/v1/me", headers=account["headers"]).status_code == 401
    assert client.get("/api/v1/me", headers=auth(other["access_token"])).status_code == 401
    page = browser.get("/account", headers=HTML, follow_redirects=False)
    assert page.status_code != 200


def test_last_use_is_written_at_refresh_at_most_every_few_minutes(client, clean_database):
    email = register(client)["email"]
    tokens = login(client, email, FIREFOX)
    long_ago = utcnow() - timedelta(hours=2)
    with clean_database.session() as session:
        session.execute(update(AuthSession).values(last_used_at=long_ago))

    def last_uses() -> set:
        with clean_database.session(write=False) as session:
            return set(session.scalars(select(AuthSession.last_used_at)))

    # An API request with the access token does not write it (the hot path).
    assert client.get("/api/v1/me", headers=auth(tokens["access_token"])).status_code == 200
    assert last_uses() == {long_ago}
    first = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert first.status_code == 200
    recorded = last_uses() - {long_ago}
    assert len(recorded) == 1
    # A second refresh within the interval leaves it as it is.
    second = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first.json()["data"]["refresh_token"]}
    )
    assert second.status_code == 200
    assert last_uses() - {long_ago} == recorded


def test_a_page_load_records_the_last_use_when_it_is_stale(client, clean_database):
    email = register(client)["email"]
    web_login(client, email)
    long_ago = utcnow() - timedelta(hours=2)
    with clean_database.session() as session:
        session.execute(update(AuthSession).values(last_used_at=long_ago))
    assert get_page(client, "/account/logins").status_code == 200
    with clean_database.session(write=False) as session:
        uses = sorted(session.scalars(select(AuthSession.last_used_at)))
    assert uses[0] == long_ago  # the API login of the registration
    assert uses[-1] > utcnow() - timedelta(minutes=1)


def test_the_logins_page_ends_one_login(client):
    account = register(client)
    other = login(client, account["email"], IPHONE)
    web_login(client, account["email"])
    page = get_page(client, "/account/logins")
    assert page.status_code == 200
    assert "Mobile Safari on iOS" in page.text
    assert "(this one)" in page.text
    rows = client.get("/api/v1/me/sessions", headers=auth(other["access_token"])).json()["data"]
    [iphone_row] = [row for row in rows if row["device"] == "Mobile Safari on iOS"]
    response = post_form(
        client, f"/account/logins/{iphone_row['id']}/logout", {}, from_url="/account/logins"
    )
    assert response.status_code == 303
    assert client.get("/api/v1/me", headers=auth(other["access_token"])).status_code == 401
    assert get_page(client, "/account/logins").status_code == 200  # this one stays


def test_describe_device():
    assert describe_device(FIREFOX) == "Firefox on Windows"
    assert describe_device(None) == "Unknown device"
    assert describe_device("curl/8.5.0") == "curl"
