"""Helpers for the tests of gate devices, the offline bundle and offline batches."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from admitone.db import utcnow
from tests.tickets.factories import World


def pair(
    world: World, *, role: str = "staff", name: str = "Phone 1", gate: str = "North"
) -> dict[str, Any]:
    response = world.client.post(
        f"/api/v1/events/{world.event.id}/devices",
        json={"name": name, "gate": gate},
        headers=world.member(role)["headers"] if role != "owner" else world.owner["headers"],
    )
    assert response.status_code == 201, response.text
    device = response.json()["data"]
    device["headers"] = {"Authorization": f"Bearer {device['token']}"}
    return device


def qr_of(world: World, ticket_id: uuid.UUID) -> str:
    response = world.client.get(f"/api/v1/tickets/{ticket_id}", headers=world.owner["headers"])
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["qr_payload"])


def default_list_id(world: World) -> str:
    response = world.client.get(
        f"/api/v1/organizations/{world.org['slug']}/events/{world.event.id}/checkin-lists",
        headers=world.owner["headers"],
    )
    assert response.status_code == 200, response.text
    found = [item["id"] for item in response.json()["data"] if item["is_default"]]
    if found:
        return str(found[0])
    # No default list yet (the factory's event was never published through the API): a
    # first scan makes it.
    world.client.post(
        f"/api/v1/events/{world.event.id}/checkins",
        json={"qr": "not a ticket"},
        headers=world.member("staff")["headers"],
    )
    return default_list_id(world)


def offline_scan(
    qr: str,
    list_id: str,
    *,
    nonce: str | None = None,
    kind: str = "entry",
    result: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "nonce": nonce or uuid.uuid4().hex,
        "qr": qr,
        "list_id": list_id,
        "kind": kind,
        "scanned_at": (at or utcnow() - timedelta(minutes=1)).isoformat(),
        "result": result or ("admitted" if kind == "entry" else "exited"),
    }


def upload(
    world: World,
    device: dict[str, Any],
    scans: list[dict[str, Any]],
    *,
    device_time: datetime | None = None,
) -> dict[str, Any]:
    response = world.client.post(
        "/api/v1/scan/batches",
        json={"device_time": (device_time or utcnow()).isoformat(), "scans": scans},
        headers=device["headers"],
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def full_sync(
    world: World, device: dict[str, Any], cursor: str | None = None
) -> list[dict[str, Any]]:
    """Every page of one sync, from ``cursor`` (None: a first download)."""
    pages = []
    while True:
        response = world.client.get(
            "/api/v1/scan/bundle",
            params={"cursor": cursor} if cursor else None,
            headers=device["headers"],
        )
        assert response.status_code == 200, response.text
        page = response.json()["data"]
        pages.append(page)
        cursor = page["cursor"]
        if page["complete"]:
            return pages
