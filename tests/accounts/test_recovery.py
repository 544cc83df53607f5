"""Password reset by e-mail, and a password change or a reset ending the other logins."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from admitone.accounts.models import AccountToken, AuthSession
from admitone.db import utcnow
from tests.accounts.mail import link_of, mails_to
from tests.helpers import PASSWORD, auth, register
from tests.web.helpers import HTML, get_page, web_login

NEW_PASSWORD = "a-brand-new-passphrase"
RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def client(make_app, outbox: Path):
    with TestClient(make_app(outbox_dir=outbox), raise_server_exceptions=False) as test_client:
        yield test_client


def login(client: TestClient, email: str, password: str = PASSWORD, agent: str = "tests"):
    return client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": password},
        headers={"user-agent": agent},
    )


def reset_token(client: TestClient, outbox: Path, email: str) -> str:
    before = {str(m["Message-ID"]) for m in mails_to(outbox, email, "password_reset")}
    response = client.post(RESET, json={"email": email})
    assert response.status_code == 202, response.text
    new = [
        m for m in mails_to(outbox, email, "password_reset") if str(m["Message-ID"]) not in before
    ]
    assert len(new) == 1
    return link_of(new[0])[1]


def test_reset_by_mail_then_log_in_with_the_new_password(client, outbox):
    account = register(client)
    email = account["email"]
    response = client.post(RESET, json={"email": email})
    assert response.status_code == 202
    assert response.content == b""
    [message] = mails_to(outbox, email, "password_reset")
    assert message["Subject"] == "Reset your Admit One password"
    assert message.get_body(preferencelist=("html",)) is not None
    link, token = link_of(message)
    assert link.startswith("http://127.0.0.1:8000/password-reset/confirm?token=")

    done = client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert done.status_code == 204, done.text
    assert login(client, email).status_code == 401
    assert login(client, email, NEW_PASSWORD).status_code == 200
    # Single use.
    again = client.post(CONFIRM, json={"token": token, "new_password": "yet-another-passphrase"})
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "RESET_TOKEN_INVALID"
    assert login(client, email, NEW_PASSWORD).status_code == 200


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client, outbox):
    register(client, "known@example.com")
    known = client.post(RESET, json={"email": "known@example.com"})
    unknown = client.post(RESET, json={"email": "nobody@example.com"})
    assert (
        (known.status_code, known.content)
        == (unknown.status_code, unknown.content)
        == (
            202,
            b"",
        )
    )
    assert mails_to(outbox, "nobody@example.com") == []


def test_the_token_is_stored_hashed(client, outbox, clean_database):
    email = register(client)["email"]
    token = reset_token(client, outbox, email)
    with clean_database.session(write=False) as session:
        stored = session.scalars(select(AccountToken.token_hash)).all()
    assert token not in stored
    assert all(len(value) == 64 for value in stored)


def test_an_expired_link_is_refused(client, outbox, clean_database):
    email = register(client)["email"]
    token = reset_token(client, outbox, email)
    with clean_database.session() as session:
        session.execute(update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "RESET_TOKEN_INVALID"
    assert login(client, email).status_code == 200


def test_a_weak_new_password_is_refused_and_the_link_still_works(client, outbox):
    account = register(client, full_name="Grace Hopper")
    token = reset_token(client, outbox, account["email"])
    for weak in ("short", " " * 12, "zzzzzzzzzzzz", "grace-hopper-rocks", account["email"]):
        response = client.post(CONFIRM, json={"token": token, "new_password": weak})
        assert response.status_code == 422, weak
        assert response.json()["error"]["code"] == "WEAK_PASSWORD"
    assert client.post(
        CONFIRM, json={"token": token, "new_password": NEW_PASSWORD}
    ).status_code == (204)


def test_a_new_link_is_mailed_at_most_n_times_per_address_and_hour(make_app, outbox):
    app = make_app(outbox_dir=outbox, account_mails_per_hour=2)
    with TestClient(app, raise_server_exceptions=False) as client:
        email = register(client)["email"]
        answers = [client.post(RESET, json={"email": email}).status_code for _ in range(4)]
    assert answers == [202] * 4  # the same answer: nothing tells the limit was reached
    assert len(mails_to(outbox, email, "password_reset")) == 2


def test_reset_requests_are_rate_limited_per_ip(make_app, outbox):
    app = make_app(outbox_dir=outbox, rate_limit_account_mail="2/minute")
    with TestClient(app, raise_server_exceptions=False) as client:
        answers = [
            client.post(RESET, json={"email": f"n{i}@example.com"}).status_code for i in range(3)
        ]
    assert answers == [202, 202, 429]


def test_the_mail_is_in_the_account_language(client, outbox):
    account = register(client)
    client.patch("/api/v1/me", json={"locale": "fr"}, headers=account["headers"])
    token = reset_token(client, outbox, account["email"])
    [message] = mails_to(outbox, account["email"], "password_reset")
    assert message["Subject"] == "Réinitialisez votre mot de passe Admit One"
    assert message["Content-Language"] == "fr"
    assert token


def test_a_link_sent_to_a_former_address_no_longer_works(client, outbox):
    account = register(client)
    token = reset_token(client, outbox, account["email"])
    changed = client.patch(
        "/api/v1/me",
        json={"email": "new-address@example.com", "current_password": PASSWORD},
        headers=account["headers"],
    )
    assert changed.status_code == 200, changed.text
    response = client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert response.status_code == 400


# --- ending the other logins -----------------------------------------------------------


def _three_logins(client: TestClient, email: str) -> tuple[dict, dict, TestClient]:
    """Two API logins (tokens) and a web login (a cookie in another client)."""
    first = login(client, email).json()["data"]["tokens"]
    second = login(client, email).json()["data"]["tokens"]
    browser = TestClient(client.app, raise_server_exceptions=False)
    web_login(browser, email)
    assert get_page(browser, "/account").status_code == 200
    return first, second, browser


def _still_works(client: TestClient, tokens: dict) -> tuple[bool, bool]:
    """(access token accepted, refresh token accepted)."""
    me = client.get("/api/v1/me", headers=auth(tokens["access_token"]))
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    return me.status_code == 200, refreshed.status_code == 200


def _web_works(browser: TestClient) -> bool:
    page = browser.get("/account", headers=HTML, follow_redirects=False)
    return page.status_code == 200


def test_a_password_change_ends_every_other_login_but_not_this_one(client):
    """Fails on the code before issue 13: the other logins stayed open for 30 days."""
    email = register(client)["email"]
    first, second, browser = _three_logins(client, email)
    changed = client.patch(
        "/api/v1/me",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=auth(first["access_token"]),
    )
    assert changed.status_code == 200, changed.text
    assert _still_works(client, second) == (False, False)
    assert not _web_works(browser)
    assert _still_works(client, first) == (True, True)


def test_a_reset_ends_every_login(client, outbox):
    email = register(client)["email"]
    first, second, browser = _three_logins(client, email)
    token = reset_token(client, outbox, email)
    assert client.post(
        CONFIRM, json={"token": token, "new_password": NEW_PASSWORD}
    ).status_code == (204)
    assert _still_works(client, first) == (False, False)
    assert _still_works(client, second) == (False, False)
    assert not _web_works(browser)


def test_a_password_change_on_the_page_ends_the_api_logins(client):
    """Fails on the code before issue 13 (no password form; the logins stayed open)."""
    from tests.web.helpers import post_form

    email = register(client)["email"]
    first, _second, browser = _three_logins(client, email)
    response = post_form(
        browser,
        "/account/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        from_url="/account",
    )
    assert response.status_code == 303, response.text
    assert _still_works(client, first) == (False, False)
    assert _web_works(browser)  # the login that made the change stays
    with client.app.state.db.session(write=False) as session:
        reasons = session.scalars(select(AuthSession.revoked_reason)).all()
    assert "password_changed" in reasons


def test_two_uses_of_one_link_at_the_same_instant_succeed_once(client, outbox, clean_database):
    """Real commits, two threads: the conditional UPDATE lets exactly one through."""
    import threading

    from admitone.accounts import recovery
    from admitone.accounts.errors import ResetTokenInvalid
    from admitone.errors import Busy

    email = register(client)["email"]
    token = reset_token(client, outbox, email)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def use(password: str) -> None:
        try:
            with clean_database.session() as session:
                barrier.wait(timeout=10)
                recovery.reset_password(session, token=token, new_password=password)
            outcomes.append("reset")
        except (ResetTokenInvalid, Busy) as exc:
            outcomes.append(type(exc).__name__)

    threads = [
        threading.Thread(target=use, args=(password,))
        for password in ("first-new-passphrase", "second-new-passphrase")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["ResetTokenInvalid", "reset"]
    worked = [
        password
        for password in ("first-new-passphrase", "second-new-passphrase")
        if login(client, email, password).status_code == 200
    ]
    assert len(worked) == 1
