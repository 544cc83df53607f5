"""Account security pages through the TestClient: forgotten password, verification,
e-mail and password changes (the browser flows are in e2e/test_account_flows.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.accounts.mail import link_of, mails_to
from tests.helpers import PASSWORD, register
from tests.web.helpers import HTML, get_page, post_form, web_login, web_register

NEW_PASSWORD = "a-brand-new-passphrase"


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def client(make_app, outbox: Path):
    with TestClient(make_app(outbox_dir=outbox), raise_server_exceptions=False) as test_client:
        yield test_client


def test_forgotten_password_through_the_pages(client, outbox):
    email = register(client)["email"]
    login_page = get_page(client, "/login")
    assert 'href="/password-reset"' in login_page.text
    for address in (email, "nobody@example.com"):
        sent = post_form(client, "/password-reset", {"email": address})
        assert sent.status_code == 200
        assert "If an account uses this address" in sent.text
    [message] = mails_to(outbox, email, "password_reset")
    link, token = link_of(message)
    page = get_page(client, link.split("8000", 1)[1])
    assert page.status_code == 200
    assert f'value="{token}"' in page.text
    weak = post_form(
        client,
        "/password-reset/confirm",
        {"token": token, "new_password": "aaaaaaaaaaaa"},
        from_url="/password-reset/confirm",
    )
    assert weak.status_code == 422
    assert "Do not use one repeated character or only spaces." in weak.text
    done = post_form(
        client,
        "/password-reset/confirm",
        {"token": token, "new_password": NEW_PASSWORD},
        from_url="/password-reset/confirm",
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/login?flash=password_reset"
    web_login(client, email, NEW_PASSWORD)


def test_a_bad_reset_link_says_so(client):
    response = post_form(
        client,
        "/password-reset/confirm",
        {"token": "not-a-real-token", "new_password": NEW_PASSWORD},
        from_url="/password-reset/confirm",
    )
    assert response.status_code == 422
    assert "This link is invalid, already used or expired" in response.text


def test_the_pages_speak_french(client):
    page = client.get("/password-reset", headers={**HTML, "accept-language": "fr"})
    assert "Mot de passe oublié ?" in page.text
    assert "M&#39;envoyer un lien" in page.text or "M'envoyer un lien" in page.text


def test_an_unverified_organizer_is_told_and_can_ask_for_the_link_again(client, outbox):
    email = web_register(client)
    page = get_page(client, "/organizer")
    assert "Send the link again" in page.text
    refused = post_form(client, "/organizer", {"name": "Nightfall", "slug": "nightfall"})
    assert refused.status_code == 403
    assert "Confirm your e-mail address first" in refused.text
    again = post_form(
        client, "/account/verify-email/resend", {"next": "/organizer"}, from_url="/organizer"
    )
    assert again.status_code == 303
    assert again.headers["location"] == "/organizer?flash=verification_sent"
    messages = mails_to(outbox, email, "email_verification")
    assert len(messages) == 2
    token = link_of(messages[0])[1]
    page = get_page(client, f"/verify-email?token={token}")
    assert "Confirm my address" in page.text
    confirmed = post_form(client, "/verify-email", {"token": token}, from_url="/verify-email")
    assert confirmed.status_code == 303
    created = post_form(client, "/organizer", {"name": "Nightfall", "slug": "nightfall"})
    assert created.status_code == 303
    assert "Send the link again" not in get_page(client, "/organizer").text


def test_change_the_address_on_the_profile_page(client, outbox):
    email = register(client)["email"]
    web_login(client, email)
    wrong = post_form(
        client,
        "/account/email",
        {"email": "moved@example.com", "current_password": "not-my-password"},
        from_url="/account",
    )
    assert wrong.status_code == 422
    assert "The current password is incorrect." in wrong.text
    moved = post_form(
        client,
        "/account/email",
        {"email": "moved@example.com", "current_password": PASSWORD},
        from_url="/account",
    )
    assert moved.status_code == 303
    profile = get_page(client, "/account")
    assert "moved@example.com" in profile.text
    assert "not confirmed yet" in profile.text
    assert len(mails_to(outbox, "moved@example.com", "email_verification")) == 1


def test_change_the_password_on_the_profile_page(client):
    email = register(client)["email"]
    web_login(client, email)
    weak = post_form(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": "Test User was here"},
        from_url="/account",
    )
    assert weak.status_code == 422
    assert "Do not put your e-mail address or your name in your password." in weak.text
    done = post_form(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        from_url="/account",
    )
    assert done.status_code == 303
    assert get_page(client, "/account").status_code == 200
    other = TestClient(client.app)
    web_login(other, email, NEW_PASSWORD)
