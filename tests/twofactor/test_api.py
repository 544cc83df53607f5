"""Two-factor over the API: TOTP set-up and login, recovery codes, reuse, turning off,
rate limits, the platform-admin and organization requirements. Codes come from pyotp."""

from __future__ import annotations

from sqlalchemy import select

from admitone.accounts import service as accounts
from admitone.accounts.models import AuthSession, User
from admitone.twofactor.models import RecoveryCode, TotpCredential
from tests.helpers import PASSWORD, add_member, auth, create_org, db_snapshot, register
from tests.twofactor.helpers import Authenticator, enable_totp, password_login

SECOND = "/api/v1/auth/login/second-factor"


def login_sessions(database) -> int:
    with database.session(write=False) as session:
        return len(session.scalars(select(AuthSession.id)).all())


def second_factor_token(client, email: str) -> str:
    response = password_login(client, email, PASSWORD)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["second_factor_required"] is True
    assert "tokens" not in data
    return data["second_factor_token"]


class TestSetUp:
    def test_setup_shows_a_qr_and_is_off_until_confirmed(self, client, clean_database):
        account = register(client)
        started = client.post("/api/v1/me/two-factor/totp", headers=account["headers"])
        assert started.status_code == 200
        data = started.json()["data"]
        assert data["qr_data_uri"].startswith("data:image/svg+xml")
        assert data["otpauth_uri"].startswith("otpauth://totp/Admit%20One:")
        # Not on yet: the password alone still logs in.
        assert "tokens" in password_login(client, account["email"], PASSWORD).json()["data"]
        status = client.get("/api/v1/me/two-factor", headers=account["headers"]).json()["data"]
        assert status == {
            "enabled": False,
            "totp_enabled": False,
            "recovery_codes_left": 0,
            "passkeys": [],
        }
        # The secret is stored encrypted, not as shown.
        with clean_database.session(write=False) as session:
            stored = session.scalar(select(TotpCredential.secret_encrypted))
        assert data["secret"].encode() not in stored

    def test_wrong_first_code_leaves_it_off(self, client):
        account = register(client)
        secret = client.post("/api/v1/me/two-factor/totp", headers=account["headers"]).json()[
            "data"
        ]["secret"]
        wrong = Authenticator(secret).wrong_code()
        response = client.post(
            "/api/v1/me/two-factor/totp/confirm", json={"code": wrong}, headers=account["headers"]
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "SECOND_FACTOR_INVALID"
        me = client.get("/api/v1/me", headers=account["headers"]).json()["data"]
        assert me["two_factor_enabled"] is False

    def test_confirmed_gives_ten_hashed_recovery_codes(self, client, clean_database):
        account = register(client)
        app = enable_totp(client, account["headers"])
        assert len(app.recovery_codes) == 10 and len(set(app.recovery_codes)) == 10
        with clean_database.session(write=False) as session:
            hashes = session.scalars(select(RecoveryCode.code_hash)).all()
        assert len(hashes) == 10
        assert not set(app.recovery_codes) & set(hashes)
        status = client.get("/api/v1/me/two-factor", headers=account["headers"]).json()["data"]
        assert status["enabled"] and status["totp_enabled"]
        assert status["recovery_codes_left"] == 10
        again = client.post("/api/v1/me/two-factor/totp", headers=account["headers"])
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "TOTP_ALREADY_ENABLED"


class TestLogin:
    def test_password_alone_opens_no_login(self, client, clean_database):
        account = register(client)
        enable_totp(client, account["headers"])
        before = login_sessions(clean_database)
        token = second_factor_token(client, account["email"])
        assert token
        assert login_sessions(clean_database) == before
        # The token is not an access token.
        assert client.get("/api/v1/me", headers=auth(token)).status_code == 401

    def test_code_completes_the_login(self, client):
        account = register(client)
        app = enable_totp(client, account["headers"])
        token = second_factor_token(client, account["email"])
        response = client.post(SECOND, json={"second_factor_token": token, "code": app.code()})
        assert response.status_code == 200, response.text
        tokens = response.json()["data"]["tokens"]
        me = client.get("/api/v1/me", headers=auth(tokens["access_token"]))
        assert me.json()["data"]["email"] == account["email"]

    def test_a_code_is_refused_a_second_time(self, client, clean_database):
        account = register(client)
        app = enable_totp(client, account["headers"])
        code = app.code()
        first = client.post(
            SECOND,
            json={
                "second_factor_token": second_factor_token(client, account["email"]),
                "code": code,
            },
        )
        assert first.status_code == 200
        before = login_sessions(clean_database)
        replay = client.post(
            SECOND,
            json={
                "second_factor_token": second_factor_token(client, account["email"]),
                "code": code,
            },
        )
        assert replay.status_code == 401
        assert replay.json()["error"]["code"] == "SECOND_FACTOR_INVALID"
        assert login_sessions(clean_database) == before

    def test_an_earlier_step_is_refused_after_a_later_one(self, client):
        account = register(client)
        app = enable_totp(client, account["headers"])
        later = app.code()
        earlier_step = app.last_step - 1
        import pyotp

        earlier = pyotp.TOTP(app.secret).generate_otp(earlier_step)
        token = second_factor_token(client, account["email"])
        assert (
            client.post(SECOND, json={"second_factor_token": token, "code": later}).status_code
            == 200
        )
        token = second_factor_token(client, account["email"])
        refused = client.post(SECOND, json={"second_factor_token": token, "code": earlier})
        assert refused.status_code == 401

    def test_wrong_code_and_forged_token(self, client, clean_database):
        account = register(client)
        app = enable_totp(client, account["headers"])
        token = second_factor_token(client, account["email"])
        before = db_snapshot(clean_database)
        wrong = client.post(SECOND, json={"second_factor_token": token, "code": app.wrong_code()})
        assert wrong.status_code == 401
        forged = client.post(
            SECOND, json={"second_factor_token": token[:-4] + "AAAA", "code": app.code()}
        )
        assert forged.status_code == 401
        assert forged.json()["error"]["code"] == "SECOND_FACTOR_TOKEN_INVALID"
        access = client.post(
            SECOND, json={"second_factor_token": account["token"], "code": app.code()}
        )
        assert access.json()["error"]["code"] == "SECOND_FACTOR_TOKEN_INVALID"
        assert db_snapshot(clean_database) == before

    def test_a_password_change_voids_pending_tokens(self, client):
        account = register(client)
        app = enable_totp(client, account["headers"])
        token = second_factor_token(client, account["email"])
        changed = client.patch(
            "/api/v1/me",
            json={"current_password": PASSWORD, "new_password": "another-long-passphrase"},
            headers=account["headers"],
        )
        assert changed.status_code == 200
        response = client.post(SECOND, json={"second_factor_token": token, "code": app.code()})
        assert response.json()["error"]["code"] == "SECOND_FACTOR_TOKEN_INVALID"

    def test_exactly_one_factor_is_given(self, client):
        account = register(client)
        app = enable_totp(client, account["headers"])
        token = second_factor_token(client, account["email"])
        both = client.post(
            SECOND,
            json={
                "second_factor_token": token,
                "code": "123456",
                "recovery_code": app.recovery_codes[0],
            },
        )
        assert both.status_code == 422
        none = client.post(SECOND, json={"second_factor_token": token})
        assert none.status_code == 422

    def test_attempts_are_rate_limited_per_account(self, make_app):
        from fastapi.testclient import TestClient

        app = make_app(rate_limit_second_factor="3/minute")
        with TestClient(app, raise_server_exceptions=False) as client:
            account = register(client)
            authenticator = enable_totp(client, account["headers"])  # 1 attempt
            token = second_factor_token(client, account["email"])
            for _ in range(2):
                wrong = authenticator.wrong_code()
                assert (
                    client.post(
                        SECOND, json={"second_factor_token": token, "code": wrong}
                    ).status_code
                    == 401
                )
            # The right code now: the account's attempts are spent, so it is refused too.
            limited = client.post(
                SECOND, json={"second_factor_token": token, "code": authenticator.code()}
            )
            assert limited.status_code == 429
            assert limited.json()["error"]["code"] == "RATE_LIMITED"


class TestRecoveryCodes:
    def test_a_recovery_code_logs_in_once(self, client):
        account = register(client)
        app = enable_totp(client, account["headers"])
        code = app.recovery_codes[3]
        token = second_factor_token(client, account["email"])
        # Spaces and capitals are forgiven: people copy them from paper.
        used = client.post(
            SECOND, json={"second_factor_token": token, "recovery_code": f" {code.upper()} "}
        )
        assert used.status_code == 200, used.text
        token = second_factor_token(client, account["email"])
        again = client.post(SECOND, json={"second_factor_token": token, "recovery_code": code})
        assert again.status_code == 401
        assert again.json()["error"]["code"] == "SECOND_FACTOR_INVALID"
        status = client.get("/api/v1/me/two-factor", headers=account["headers"]).json()["data"]
        assert status["recovery_codes_left"] == 9

    def test_another_accounts_code_does_not_work(self, client):
        ada, bob = register(client), register(client)
        enable_totp(client, ada["headers"])
        bob_app = enable_totp(client, bob["headers"])
        token = second_factor_token(client, ada["email"])
        response = client.post(
            SECOND, json={"second_factor_token": token, "recovery_code": bob_app.recovery_codes[0]}
        )
        assert response.status_code == 401

    def test_new_codes_replace_the_old(self, client):
        account = register(client)
        app = enable_totp(client, account["headers"])
        response = client.post(
            "/api/v1/me/two-factor/recovery-codes",
            json={"password": PASSWORD},
            headers=account["headers"],
        )
        assert response.status_code == 200
        fresh = response.json()["data"]["recovery_codes"]
        token = second_factor_token(client, account["email"])
        old = client.post(
            SECOND, json={"second_factor_token": token, "recovery_code": app.recovery_codes[0]}
        )
        assert old.status_code == 401
        new = client.post(SECOND, json={"second_factor_token": token, "recovery_code": fresh[0]})
        assert new.status_code == 200


class TestTurningOff:
    URL = "/api/v1/me/two-factor/totp/disable"

    def test_needs_a_code_or_the_password(self, client, clean_database):
        account = register(client)
        enable_totp(client, account["headers"])
        before = db_snapshot(clean_database)
        nothing = client.post(self.URL, json={}, headers=account["headers"])
        assert nothing.status_code == 400
        assert nothing.json()["error"]["code"] == "VERIFICATION_REQUIRED"
        wrong = client.post(
            self.URL, json={"password": "not-the-password"}, headers=account["headers"]
        )
        assert wrong.status_code == 401
        assert db_snapshot(clean_database) == before

    def test_with_a_code(self, client, clean_database):
        account = register(client)
        app = enable_totp(client, account["headers"])
        response = client.post(self.URL, json={"code": app.code()}, headers=account["headers"])
        assert response.status_code == 204
        assert "tokens" in password_login(client, account["email"], PASSWORD).json()["data"]
        with clean_database.session(write=False) as session:
            assert session.scalars(select(RecoveryCode)).all() == []
            assert session.scalar(select(User.two_factor_enabled)) is False

    def test_with_the_password(self, client):
        account = register(client)
        enable_totp(client, account["headers"])
        response = client.post(self.URL, json={"password": PASSWORD}, headers=account["headers"])
        assert response.status_code == 204
        status = client.get("/api/v1/me/two-factor", headers=account["headers"]).json()["data"]
        assert status["enabled"] is False


def make_platform_admin(client, database) -> dict:
    with database.session() as session:
        accounts.register_user(
            session, email="root@example.com", password=PASSWORD, is_platform_admin=True
        )
    response = password_login(client, "root@example.com", PASSWORD)
    token = response.json()["data"]["tokens"]["access_token"]
    return {"email": "root@example.com", "headers": auth(token)}


class TestPlatformAdmin:
    def test_without_two_factor_only_setup_is_allowed(self, client, clean_database):
        owner = register(client)
        org = create_org(client, owner["headers"])["slug"]
        admin = make_platform_admin(client, clean_database)
        refused = client.get(f"/api/v1/organizations/{org}", headers=admin["headers"])
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "TWO_FACTOR_SETUP_REQUIRED"
        mine = client.get("/api/v1/organizations", headers=admin["headers"])
        assert mine.json()["error"]["code"] == "TWO_FACTOR_SETUP_REQUIRED"
        # What it takes to set it up still works: the profile, the set-up, logging out.
        assert client.get("/api/v1/me", headers=admin["headers"]).status_code == 200
        app = enable_totp(client, admin["headers"])
        allowed = client.get(f"/api/v1/organizations/{org}", headers=admin["headers"])
        assert allowed.status_code == 200
        assert allowed.json()["data"]["role"] == "owner"
        # And from now on the admin's login takes the second step.
        token = second_factor_token(client, admin["email"])
        assert (
            client.post(SECOND, json={"second_factor_token": token, "code": app.code()}).status_code
            == 200
        )


class TestOrganizationRequirement:
    def url(self, org: str) -> str:
        return f"/api/v1/organizations/{org}/two-factor-requirement"

    def test_enforced_for_members_without_two_factor(self, client, clean_database):
        owner = register(client)
        enable_totp(client, owner["headers"])
        org = create_org(client, owner["headers"])["slug"]
        staff, secured = register(client), register(client)
        add_member(client, owner["headers"], org, staff["email"], "admin")
        add_member(client, owner["headers"], org, secured["email"], "staff")
        enable_totp(client, secured["headers"])
        response = client.put(
            self.url(org), json={"require_two_factor": True}, headers=owner["headers"]
        )
        assert response.status_code == 200
        assert response.json()["data"] == {"slug": org, "require_two_factor": True}

        before = db_snapshot(clean_database)
        refused = client.patch(
            f"/api/v1/organizations/{org}", json={"name": "Renamed"}, headers=staff["headers"]
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "TWO_FACTOR_REQUIRED"
        assert db_snapshot(clean_database) == before
        # A member with two-factor works as before; the member's other business is untouched.
        assert (
            client.get(f"/api/v1/organizations/{org}", headers=secured["headers"]).status_code
            == 200
        )
        assert client.get("/api/v1/me", headers=staff["headers"]).status_code == 200
        # Not a member stays a 404: the requirement does not reveal the organization.
        stranger = register(client)
        assert (
            client.get(f"/api/v1/organizations/{org}", headers=stranger["headers"]).status_code
            == 404
        )
        # Set up, the member is let in.
        enable_totp(client, staff["headers"])
        assert (
            client.get(f"/api/v1/organizations/{org}", headers=staff["headers"]).status_code == 200
        )

    def test_owner_only_and_not_without_own_two_factor(self, client):
        owner = register(client)
        org = create_org(client, owner["headers"])["slug"]
        admin = register(client)
        add_member(client, owner["headers"], org, admin["email"], "admin")
        by_admin = client.put(
            self.url(org), json={"require_two_factor": True}, headers=admin["headers"]
        )
        assert by_admin.status_code == 403
        assert by_admin.json()["error"]["code"] == "PERMISSION_DENIED"
        lockout = client.put(
            self.url(org), json={"require_two_factor": True}, headers=owner["headers"]
        )
        assert lockout.status_code == 403
        assert lockout.json()["error"]["code"] == "TWO_FACTOR_REQUIRED"
        not_strict = client.put(
            self.url(org), json={"require_two_factor": "yes"}, headers=owner["headers"]
        )
        assert not_strict.status_code == 422
