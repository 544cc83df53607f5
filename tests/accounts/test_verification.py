"""E-mail verification: a new or changed address gets a link; unverified accounts can buy
but not create an organization."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from admitone.accounts.models import User
from admitone.demo import load_demo
from admitone.migrate import upgrade_database
from tests.accounts.mail import link_of, mails_to
from tests.factories import make_shop
from tests.helpers import PASSWORD, register
from tests.orders.helpers import order_body

VERIFY = "/api/v1/auth/verify-email"
RESEND = "/api/v1/me/verify-email/resend"


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def client(make_app, outbox: Path):
    with TestClient(make_app(outbox_dir=outbox), raise_server_exceptions=False) as test_client:
        yield test_client


def create_org(client: TestClient, headers: dict[str, str]):
    slug = f"org-{uuid.uuid4().hex[:8]}"
    return client.post("/api/v1/organizations", json={"name": "Org", "slug": slug}, headers=headers)


def test_a_new_account_is_mailed_a_link_and_needs_it_to_organize(client, outbox):
    account = register(client, verify=False)
    assert account["user"]["email_verified"] is False
    [message] = mails_to(outbox, account["email"], "email_verification")
    assert message["Subject"] == "Confirm your e-mail address for Admit One"
    link, token = link_of(message)
    assert "/verify-email?token=" in link

    refused = create_org(client, account["headers"])
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "EMAIL_NOT_VERIFIED"

    assert client.post(VERIFY, json={"token": token}).status_code == 204
    me = client.get("/api/v1/me", headers=account["headers"]).json()["data"]
    assert me["email_verified"] is True
    assert create_org(client, account["headers"]).status_code == 201
    again = client.post(VERIFY, json={"token": token})
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "VERIFICATION_TOKEN_INVALID"


def test_an_unverified_account_can_buy(client, clean_database):
    shop = make_shop(clean_database)
    buyer = register(client, verify=False)
    response = client.post("/api/v1/orders", json=order_body(shop), headers=buyer["headers"])
    assert response.status_code == 201, response.text


def test_send_the_link_again(client, outbox):
    account = register(client, verify=False)
    assert client.post(RESEND, headers=account["headers"]).status_code == 202
    messages = mails_to(outbox, account["email"], "email_verification")
    assert len(messages) == 2
    # Either link works (each once).
    assert client.post(VERIFY, json={"token": link_of(messages[1])[1]}).status_code == 204
    done = client.post(RESEND, headers=account["headers"])
    assert done.status_code == 409
    assert done.json()["error"]["code"] == "EMAIL_ALREADY_VERIFIED"


def test_resending_is_limited_per_address(make_app, outbox):
    with TestClient(make_app(outbox_dir=outbox, account_mails_per_hour=2)) as client:
        account = register(client, verify=False)  # the first mail
        assert client.post(RESEND, headers=account["headers"]).status_code == 202
        limited = client.post(RESEND, headers=account["headers"])
    assert limited.status_code == 429
    assert len(mails_to(outbox, account["email"], "email_verification")) == 2


def test_a_changed_address_is_verified_again(client, outbox):
    account = register(client)
    assert account["user"]["email_verified"] is True
    wrong = client.patch(
        "/api/v1/me",
        json={"email": "ada.new@example.com", "current_password": "not-the-password"},
        headers=account["headers"],
    )
    assert wrong.status_code == 401
    missing = client.patch(
        "/api/v1/me", json={"email": "ada.new@example.com"}, headers=account["headers"]
    )
    assert missing.status_code == 401
    changed = client.patch(
        "/api/v1/me",
        json={"email": "Ada.New@Example.com", "current_password": PASSWORD},
        headers=account["headers"],
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["email"] == "ada.new@example.com"
    assert changed.json()["data"]["email_verified"] is False
    assert create_org(client, account["headers"]).status_code == 403
    [message] = mails_to(outbox, "ada.new@example.com", "email_verification")
    assert client.post(VERIFY, json={"token": link_of(message)[1]}).status_code == 204
    assert create_org(client, account["headers"]).status_code == 201


def test_an_address_in_use_cannot_be_taken(client):
    register(client, "taken@example.com")
    account = register(client)
    response = client.patch(
        "/api/v1/me",
        json={"email": "taken@example.com", "current_password": PASSWORD},
        headers=account["headers"],
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "EMAIL_TAKEN"


def test_a_link_for_a_former_address_does_not_verify_the_new_one(client, outbox):
    account = register(client, verify=False)
    [old] = mails_to(outbox, account["email"], "email_verification")
    client.patch(
        "/api/v1/me",
        json={"email": "other@example.com", "current_password": PASSWORD},
        headers=account["headers"],
    )
    response = client.post(VERIFY, json={"token": link_of(old)[1]})
    assert response.status_code == 400
    me = client.get("/api/v1/me", headers=account["headers"]).json()["data"]
    assert me["email_verified"] is False


def test_demo_accounts_are_verified(clean_database):
    with clean_database.session() as session:
        assert load_demo(session) is not None
    with clean_database.session(write=False) as session:
        assert all(user.email_verified for user in session.scalars(select(User)))


def test_the_migration_marks_existing_accounts_verified(tmp_path):
    url = f"sqlite:///{tmp_path / 'before.db'}"
    upgrade_database(url, "0002")
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, email, password_hash, full_name, locale, is_active, "
                "is_platform_admin, created_at, updated_at) VALUES (:id, 'old@example.com', 'x', "
                "'', 'en', 1, 0, '2026-01-01 10:00:00', '2026-01-01 10:00:00')"
            ),
            {"id": uuid.uuid4().hex},
        )
    upgrade_database(url)
    with engine.connect() as connection:
        verified = connection.execute(text("SELECT email_verified_at FROM users")).scalar_one()
    engine.dispose()
    assert verified is not None
