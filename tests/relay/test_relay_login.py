"""The login a browser pairs with at a site relay (docs/gates.md, "Site relay"): the relay
forwards upstream's ``/auth/login``, ``/auth/login/second-factor`` and ``/auth/logout``
(checked with upstream's schemas first, bounded), passes upstream's refusals on as they
are, keeps no refresh token in the answer, says when upstream is out of reach, and never
writes a password anywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from admitone.logging_config import configure_logging
from tests.checkin.gate_devices import qr_of
from tests.helpers import PASSWORD
from tests.relay.conftest import down_upstream
from tests.tickets.factories import World
from tests.twofactor.helpers import enable_totp

pytestmark = pytest.mark.usefixtures("clean_database")


def _recording_upstream(world: World) -> tuple[TestClient, list[str]]:
    """A client of upstream (the test's app) for the relay, and the paths it is asked for
    (from when the list is cleared: the relay's first pull goes through it too)."""
    seen: list[str] = []

    def record(request: httpx.Request) -> None:
        seen.append(request.url.path)

    upstream = TestClient(world.client.app, raise_server_exceptions=False)
    upstream.event_hooks = {"request": [record], "response": []}
    return upstream, seen


def _login(http: httpx.Client, relay_url: str, email: str, password: str) -> httpx.Response:
    return http.post(f"{relay_url}/api/v1/auth/login", json={"email": email, "password": password})


def _pair(
    http: httpx.Client,
    relay_url: str,
    world: World,
    bearer: dict[str, str],
    *,
    name: str,
    gate: str,
) -> httpx.Response:
    return http.post(
        f"{relay_url}/api/v1/events/{world.event.id}/devices",
        json={"name": name, "gate": gate},
        headers=bearer,
    )


def _open_logins(world: World, headers: dict[str, str]) -> int:
    response = world.client.get("/api/v1/me/sessions", headers=headers)
    assert response.status_code == 200, response.text
    return len(response.json()["data"])


def test_a_browser_pairs_with_a_login_forwarded_upstream_that_then_ends(
    make_relay, world: World
) -> None:
    staff = world.member("staff")
    qr = qr_of(world, world.order.ticket_ids[0])
    before = _open_logins(world, staff["headers"])
    link, upstream = _recording_upstream(world)
    with make_relay(upstream=link) as relay, httpx.Client() as http:
        upstream.clear()
        logged_in = _login(http, relay.url, staff["email"], PASSWORD)
        assert logged_in.status_code == 200, logged_in.text
        data = logged_in.json()["data"]
        assert data["user"]["email"] == staff["email"]
        access = data["tokens"]["access_token"]
        # The browser gets the access token for the pairing, not a token that renews it.
        assert "refresh_token" not in data["tokens"]
        assert _open_logins(world, staff["headers"]) == before + 1
        bearer = {"Authorization": f"Bearer {access}"}
        paired = _pair(http, relay.url, world, bearer, name="Phone at the relay", gate="Gate 2")
        assert paired.status_code == 201, paired.text
        ended = http.post(f"{relay.url}/api/v1/auth/logout", headers=bearer)
        assert ended.status_code == 204 and ended.content == b""
        assert upstream == [
            "/api/v1/auth/login",
            f"/api/v1/events/{world.event.id}/devices",
            "/api/v1/auth/logout",
        ]
        # The login is over upstream: its token opens nothing, there or through the relay.
        assert _open_logins(world, staff["headers"]) == before
        assert world.client.get("/api/v1/me", headers=bearer).status_code == 401
        assert _pair(http, relay.url, world, bearer, name="Another", gate="2").status_code == 401
        # What stays is the device, which scans at the relay.
        device = {"Authorization": f"Bearer {paired.json()['data']['token']}"}
        answer = relay.scan(http, world.event.id, qr, headers=device)
        assert (answer["result"], answer["gate"]) == ("admitted", "Gate 2")


def test_upstreams_refusals_pass_through_and_bad_input_stops_at_the_relay(
    make_relay, world: World
) -> None:
    staff = world.member("staff")
    link, upstream = _recording_upstream(world)
    with make_relay(upstream=link) as relay, httpx.Client() as http:
        upstream.clear()
        for email, password in ((staff["email"], "not-the-password"), ("nobody@example.com", "x")):
            wrong = _login(http, relay.url, email, password)
            assert wrong.status_code == 401, wrong.text
            assert wrong.json()["error"]["code"] == "INVALID_CREDENTIALS"
        assert upstream == ["/api/v1/auth/login"] * 2
        # Upstream's schema, checked at the relay: nothing reaches upstream.
        for body in ({}, {"email": "a@example.com"}, {"email": "x", "password": "y"}):
            refused = http.post(f"{relay.url}/api/v1/auth/login", json=body)
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["code"] == "VALIDATION_ERROR"
        long_password = http.post(
            f"{relay.url}/api/v1/auth/login",
            json={"email": staff["email"], "password": "p" * 257},
        )
        assert long_password.status_code == 422
        # The validation error names the field, never echoes the value.
        assert "ppppp" not in long_password.text
        garbage = http.post(
            f"{relay.url}/api/v1/auth/login",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert garbage.status_code == 400
        assert garbage.json()["error"]["code"] == "MALFORMED_JSON"
        # A body no login needs is refused before it is read (16 KiB on these routes).
        large = http.post(
            f"{relay.url}/api/v1/auth/login",
            content=b'{"email": "' + b"a" * 20_000 + b'"}',
            headers={"content-type": "application/json"},
        )
        assert large.status_code == 413
        assert large.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        for path in ("/api/v1/auth/login/second-factor", "/api/v1/auth/logout"):
            no_body = http.post(f"{relay.url}{path}", json={"second_factor_token": ""})
            assert no_body.status_code in (401, 422), (path, no_body.text)
        # The logout without a token is upstream's 401, passed on.
        assert upstream[2:] == ["/api/v1/auth/logout"]
        assert http.post(f"{relay.url}/api/v1/auth/logout").json()["error"]["code"] in (
            "NOT_AUTHENTICATED",
            "INVALID_TOKEN",
        )


def test_a_second_factor_is_forwarded_too(make_relay, world: World) -> None:
    staff = world.member("staff")
    authenticator = enable_totp(world.client, staff["headers"])
    with make_relay() as relay, httpx.Client() as http:
        first = _login(http, relay.url, staff["email"], PASSWORD)
        assert first.status_code == 200, first.text
        asked = first.json()["data"]
        assert asked["second_factor_required"] is True
        assert "totp" in asked["methods"] and "tokens" not in asked
        step = f"{relay.url}/api/v1/auth/login/second-factor"
        wrong = http.post(
            step,
            json={
                "second_factor_token": asked["second_factor_token"],
                "code": authenticator.wrong_code(),
            },
        )
        assert wrong.status_code == 401
        assert wrong.json()["error"]["code"] == "SECOND_FACTOR_INVALID"
        done = http.post(
            step,
            json={
                "second_factor_token": asked["second_factor_token"],
                "code": authenticator.code(),
            },
        )
        assert done.status_code == 200, done.text
        tokens = done.json()["data"]["tokens"]
        assert "refresh_token" not in tokens
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        paired = _pair(http, relay.url, world, bearer, name="Phone 2FA", gate="North")
        assert paired.status_code == 201, paired.text
        assert http.post(f"{relay.url}/api/v1/auth/logout", headers=bearer).status_code == 204
        assert world.client.get("/api/v1/me", headers=bearer).status_code == 401


def _relay_files(relay: Any) -> list[Path]:
    database = Path(relay.store.database.engine.url.database)
    return [path for path in database.parent.glob(database.name + "*") if path.is_file()]


def test_upstream_down_is_said_and_no_password_is_written_anywhere(
    make_relay, world: World, capfd: pytest.CaptureFixture[str]
) -> None:
    # The relay's log at its most talkative, captured: the access lines of the logins
    # below must be there (so the check can fail), their passwords must not.
    configure_logging(level="DEBUG", json=True)
    staff = world.member("staff")
    secret_wrong = "wrong-horse-9f3a1c"
    with make_relay() as relay, httpx.Client() as http:
        assert _login(http, relay.url, staff["email"], PASSWORD).status_code == 200
        assert _login(http, relay.url, staff["email"], secret_wrong).status_code == 401
        path = relay.store.database.engine.url.database
    with (
        make_relay(device=relay.device, upstream=down_upstream(), path=path, pull=False) as offline,
        httpx.Client() as http,
    ):
        for url, body in (
            ("/api/v1/auth/login", {"email": staff["email"], "password": PASSWORD}),
            ("/api/v1/auth/login/second-factor", {"second_factor_token": "t", "code": "123456"}),
            ("/api/v1/auth/logout", None),
        ):
            answer = http.post(f"{offline.url}{url}", json=body)
            assert answer.status_code == 503, (url, answer.text)
            assert answer.json()["error"]["code"] == "UPSTREAM_UNAVAILABLE"
            assert answer.headers["retry-after"] == "5"
        status = http.get(f"{offline.url}/relay/status").text
        assert offline.store.status()["ready"] is True  # scanning goes on meanwhile
    logged = capfd.readouterr()
    output = logged.out + logged.err
    assert '"path": "/api/v1/auth/login"' in output  # the access log has the logins
    assert "relay_forward_failed" in output
    for password in (PASSWORD, secret_wrong):
        assert password not in output
        assert password not in status
        for file in _relay_files(offline):
            assert password.encode() not in file.read_bytes(), file
