from __future__ import annotations

from sqlalchemy import func, select

from admitone.accounts.models import AuthSession, User
from tests.helpers import PASSWORD, auth, register


def count_users(database) -> int:
    with database.session(write=False) as session:
        return session.scalar(select(func.count()).select_from(User))


class TestRegister:
    def test_creates_account_and_logs_in(self, client):
        result = register(client, "Ada@Example.COM ")
        assert result["user"]["email"] == "ada@example.com"
        assert result["tokens"]["expires_in"] == 15 * 60
        me = client.get("/api/v1/me", headers=result["headers"])
        assert me.status_code == 200
        assert me.json()["data"]["email"] == "ada@example.com"

    def test_email_unique_case_insensitive(self, client, clean_database):
        register(client, "ada@example.com")
        response = client.post(
            "/api/v1/auth/register", json={"email": "ADA@example.com", "password": PASSWORD}
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "EMAIL_TAKEN"
        assert count_users(clean_database) == 1

    def test_password_stored_hashed_with_argon2(self, client, clean_database):
        register(client, "ada@example.com")
        with clean_database.session(write=False) as session:
            user = session.scalar(select(User))
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash

    def test_short_password_refused(self, client, clean_database):
        response = client.post(
            "/api/v1/auth/register", json={"email": "a@example.com", "password": "short"}
        )
        assert response.status_code == 422
        body = response.json()["error"]
        assert body["code"] == "WEAK_PASSWORD"
        assert any("10 characters" in problem for problem in body["details"]["problems"])
        assert count_users(clean_database) == 0

    def test_common_password_refused(self, client, clean_database):
        response = client.post(
            "/api/v1/auth/register", json={"email": "a@example.com", "password": "password123"}
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "WEAK_PASSWORD"
        assert "commonly used" in str(response.json()["error"]["details"])
        assert count_users(clean_database) == 0


class TestLogin:
    def test_login_ok(self, client):
        register(client, "ada@example.com")
        response = client.post(
            "/api/v1/auth/login", json={"email": "ADA@example.com", "password": PASSWORD}
        )
        assert response.status_code == 200
        assert response.json()["data"]["tokens"]["access_token"]

    def test_failure_does_not_reveal_if_email_exists(self, client):
        register(client, "ada@example.com")
        wrong_password = client.post(
            "/api/v1/auth/login", json={"email": "ada@example.com", "password": "not-the-password"}
        )
        unknown_email = client.post(
            "/api/v1/auth/login",
            json={"email": "nobody@example.com", "password": "not-the-password"},
        )
        assert wrong_password.status_code == unknown_email.status_code == 401
        assert wrong_password.json() == unknown_email.json()


class TestRefresh:
    def test_refresh_token_works_once_and_replay_revokes_family(self, client, clean_database):
        first = register(client, "ada@example.com")
        old_refresh = first["tokens"]["refresh_token"]
        rotated = client.post("/api/v1/auth/refresh", json={"refresh_token": old_refresh})
        assert rotated.status_code == 200
        new_tokens = rotated.json()["data"]
        assert new_tokens["refresh_token"] != old_refresh
        assert client.get("/api/v1/me", headers=auth(new_tokens["access_token"])).status_code == 200

        replay = client.post("/api/v1/auth/refresh", json={"refresh_token": old_refresh})
        assert replay.status_code == 401
        assert replay.json()["error"]["code"] == "REFRESH_TOKEN_REUSED"
        # The whole family is gone: the newest refresh token and the access tokens too.
        again = client.post(
            "/api/v1/auth/refresh", json={"refresh_token": new_tokens["refresh_token"]}
        )
        assert again.status_code == 401
        assert client.get("/api/v1/me", headers=auth(new_tokens["access_token"])).status_code == 401
        with clean_database.session(write=False) as session:
            revoked = session.scalar(select(AuthSession))
        assert revoked.revoked_reason == "refresh_token_reused"

    def test_unknown_refresh_token(self, client):
        response = client.post("/api/v1/auth/refresh", json={"refresh_token": "nope"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "INVALID_TOKEN"


class TestLogout:
    def test_logout_ends_access_and_refresh_tokens(self, client):
        account = register(client, "ada@example.com")
        assert client.post("/api/v1/auth/logout", headers=account["headers"]).status_code == 204
        assert client.get("/api/v1/me", headers=account["headers"]).status_code == 401
        response = client.post(
            "/api/v1/auth/refresh", json={"refresh_token": account["tokens"]["refresh_token"]}
        )
        assert response.status_code == 401


class TestProfile:
    def test_update_name_and_locale(self, client):
        account = register(client)
        response = client.patch(
            "/api/v1/me",
            json={"full_name": "Grace Hopper", "locale": "fr"},
            headers=account["headers"],
        )
        assert response.status_code == 200
        assert response.json()["data"]["full_name"] == "Grace Hopper"
        assert response.json()["data"]["locale"] == "fr"

    def test_password_change_needs_current_password(self, client):
        account = register(client, "ada@example.com")
        response = client.patch(
            "/api/v1/me",
            json={"current_password": "wrong-password-x", "new_password": "a-brand-new-secret"},
            headers=account["headers"],
        )
        assert response.status_code == 401
        ok = client.patch(
            "/api/v1/me",
            json={"current_password": PASSWORD, "new_password": "a-brand-new-secret"},
            headers=account["headers"],
        )
        assert ok.status_code == 200
        login = client.post(
            "/api/v1/auth/login",
            json={"email": "ada@example.com", "password": "a-brand-new-secret"},
        )
        assert login.status_code == 200

    def test_unknown_field_refused(self, client):
        account = register(client)
        response = client.patch(
            "/api/v1/me", json={"is_platform_admin": True}, headers=account["headers"]
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert (
            client.get("/api/v1/me", headers=account["headers"]).json()["data"]["is_platform_admin"]
            is False
        )

    def test_me_requires_auth(self, client):
        response = client.get("/api/v1/me")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "NOT_AUTHENTICATED"

    def test_garbage_token(self, client):
        response = client.get("/api/v1/me", headers=auth("not.a.jwt"))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "INVALID_TOKEN"


class TestRateLimits:
    def test_login_rate_limited(self, make_app):
        from fastapi.testclient import TestClient

        app = make_app(rate_limit_login="3/minute")
        with TestClient(app) as client:
            codes = [
                client.post(
                    "/api/v1/auth/login",
                    json={"email": "x@example.com", "password": "whatever-long"},
                ).status_code
                for _ in range(4)
            ]
            assert codes == [401, 401, 401, 429]
            limited = client.post(
                "/api/v1/auth/login", json={"email": "x@example.com", "password": "whatever-long"}
            )
            assert limited.json()["error"]["code"] == "RATE_LIMITED"
            assert int(limited.headers["Retry-After"]) >= 1

    def test_limits_can_be_disabled(self, make_app):
        from fastapi.testclient import TestClient

        app = make_app(rate_limit_login="1/minute", rate_limits_enabled=False)
        with TestClient(app) as client:
            codes = {
                client.post(
                    "/api/v1/auth/login",
                    json={"email": "x@example.com", "password": "whatever-long"},
                ).status_code
                for _ in range(3)
            }
            assert codes == {401}


class TestBadInput:
    def test_malformed_json(self, client, clean_database):
        response = client.post(
            "/api/v1/auth/register",
            content=b'{"email": ',
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "MALFORMED_JSON"
        assert count_users(clean_database) == 0

    def test_wrong_types_and_overlong(self, client, clean_database):
        for body in (
            {"email": 12, "password": PASSWORD},
            {"email": "a@example.com", "password": ["x"]},
            {"email": "a" * 400 + "@example.com", "password": PASSWORD},
            {"email": "a@example.com", "password": "x" * 300},
            {"email": "not-an-email", "password": PASSWORD},
            {"email": "a@example.com", "password": PASSWORD, "is_platform_admin": True},
        ):
            response = client.post("/api/v1/auth/register", json=body)
            assert response.status_code == 422, body
            assert response.json()["error"]["code"] == "VALIDATION_ERROR"
            assert response.json()["error"]["details"]["errors"]
        assert count_users(clean_database) == 0


def test_service_refuses_an_invalid_email(session):
    import pytest

    from admitone.accounts.service import register_user
    from admitone.errors import InvalidInput

    with pytest.raises(InvalidInput):
        register_user(session, email="not an e-mail", password="a-long-enough-secret")
