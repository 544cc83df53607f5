"""Passkey options and challenges over the API (the full ceremony with a real browser
authenticator is in tests/web/e2e/test_two_factor.py)."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from admitone.db import utcnow
from admitone.twofactor import passkeys
from admitone.twofactor.errors import PasskeyChallengeInvalid
from admitone.twofactor.models import WebAuthnChallenge
from tests.helpers import register


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def site(make_app):
    app = make_app(public_url="https://tickets.example.org", webauthn_rp_name="Example Tickets")
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def fake_assertion(challenge_id: str) -> dict:
    junk = b64url(b"not a real assertion")
    return {
        "challenge_id": challenge_id,
        "credential": {
            "id": b64url(b"unknown-credential"),
            "rawId": b64url(b"unknown-credential"),
            "type": "public-key",
            "response": {"clientDataJSON": junk, "authenticatorData": junk, "signature": junk},
        },
    }


def test_sign_in_options_name_the_site_and_require_user_verification(site):
    response = site.post("/api/v1/auth/passkey/options")
    assert response.status_code == 200
    options = response.json()["data"]["public_key"]
    assert options["rpId"] == "tickets.example.org"
    assert options["userVerification"] == "required"
    assert options["allowCredentials"] == []  # discoverable: the authenticator picks
    assert len(options["challenge"]) >= 43  # 32 random bytes or more


def test_registration_options_ask_for_a_discoverable_credential(site):
    account = register(site)
    response = site.post("/api/v1/me/passkeys/options", headers=account["headers"])
    assert response.status_code == 200
    options = response.json()["data"]["public_key"]
    assert options["rp"] == {"id": "tickets.example.org", "name": "Example Tickets"}
    assert options["user"]["id"] == b64url(uuid.UUID(account["user"]["id"]).bytes)
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert site.post("/api/v1/me/passkeys/options").status_code == 401


def test_a_challenge_answers_one_response_even_a_wrong_one(site, clean_database):
    challenge_id = site.post("/api/v1/auth/passkey/options").json()["data"]["challenge_id"]
    first = site.post("/api/v1/auth/passkey/login", json=fake_assertion(challenge_id))
    assert first.status_code == 400
    assert first.json()["error"]["code"] == "PASSKEY_INVALID"
    again = site.post("/api/v1/auth/passkey/login", json=fake_assertion(challenge_id))
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "PASSKEY_CHALLENGE_INVALID"
    with clean_database.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(WebAuthnChallenge)) == 0


def test_a_registration_challenge_is_not_a_sign_in_challenge(site):
    account = register(site)
    challenge_id = site.post("/api/v1/me/passkeys/options", headers=account["headers"]).json()[
        "data"
    ]["challenge_id"]
    response = site.post("/api/v1/auth/passkey/login", json=fake_assertion(challenge_id))
    assert response.json()["error"]["code"] == "PASSKEY_CHALLENGE_INVALID"


def test_an_expired_challenge_is_refused(session, settings):
    options = passkeys.authentication_options(session, settings=settings)
    session.execute(update(WebAuthnChallenge).values(expires_at=utcnow() - timedelta(seconds=1)))
    with pytest.raises(PasskeyChallengeInvalid):
        passkeys._use_challenge(
            session, challenge_id=options.challenge_id, purpose=passkeys.AUTHENTICATE, user_id=None
        )


def test_a_challenge_is_used_once(session, settings):
    options = passkeys.authentication_options(session, settings=settings)
    found = passkeys._use_challenge(
        session, challenge_id=options.challenge_id, purpose=passkeys.AUTHENTICATE, user_id=None
    )
    assert base64.urlsafe_b64encode(found).rstrip(b"=").decode() == options.public_key["challenge"]
    with pytest.raises(PasskeyChallengeInvalid):
        passkeys._use_challenge(
            session, challenge_id=options.challenge_id, purpose=passkeys.AUTHENTICATE, user_id=None
        )


def test_removing_a_passkey_needs_the_password_and_may_turn_two_factor_off(site, clean_database):
    from admitone.accounts.models import User
    from admitone.twofactor.models import Passkey
    from admitone.twofactor.service import refresh_enabled_flag
    from tests.helpers import PASSWORD

    account = register(site)
    user_id = uuid.UUID(account["user"]["id"])
    with clean_database.session() as session:
        # A stored passkey row (its creation by a browser is the e2e test's business).
        session.add(Passkey(user_id=user_id, credential_id=b"cred", public_key=b"key"))
        refresh_enabled_flag(session, user=session.get(User, user_id))
    passkey_id = site.get("/api/v1/me/two-factor", headers=account["headers"]).json()["data"][
        "passkeys"
    ][0]["id"]
    url = f"/api/v1/me/passkeys/{passkey_id}/remove"
    refused = site.post(url, json={}, headers=account["headers"])
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "VERIFICATION_REQUIRED"
    wrong = site.post(url, json={"password": "wrong-password-here"}, headers=account["headers"])
    assert wrong.status_code == 401
    stranger = register(site)
    hidden = site.post(url, json={"password": PASSWORD}, headers=stranger["headers"])
    assert hidden.status_code == 404
    removed = site.post(url, json={"password": PASSWORD}, headers=account["headers"])
    assert removed.status_code == 204
    status = site.get("/api/v1/me/two-factor", headers=account["headers"]).json()["data"]
    assert status["passkeys"] == [] and status["enabled"] is False
