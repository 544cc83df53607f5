"""Small helpers shared by tests: accounts, organizations, auth headers."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

PASSWORD = "correct-horse-battery"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register(
    client: TestClient,
    email: str | None = None,
    *,
    password: str = PASSWORD,
    full_name: str = "Test User",
) -> dict[str, Any]:
    """Register an account; returns {"user", "tokens", "token", "headers"}."""
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    response = client.post(
        "/api/v1/auth/register", json={"email": email, "password": password, "full_name": full_name}
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    token = data["tokens"]["access_token"]
    return {**data, "token": token, "headers": auth(token), "email": email}


def create_org(
    client: TestClient, headers: dict[str, str], slug: str | None = None, name: str = "Test Org"
) -> dict[str, Any]:
    slug = slug or f"org-{uuid.uuid4().hex[:8]}"
    response = client.post(
        "/api/v1/organizations", json={"name": name, "slug": slug}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]


def add_member(
    client: TestClient, headers: dict[str, str], org_slug: str, email: str, role: str
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/organizations/{org_slug}/members",
        json={"email": email, "role": role},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]
