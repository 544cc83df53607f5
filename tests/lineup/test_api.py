"""The organizer's lineup API: stages, artists, slots, and the overlap rule (sequential;
the race is test_overlap_race.py)."""

from __future__ import annotations

import os
from io import BytesIO

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.helpers import create_org, png_bytes, register
from tests.lineup.helpers import Lineup, make_lineup


@pytest.fixture
def lineup(client: TestClient) -> Lineup:
    return make_lineup(client)


def _fields(response) -> set[str]:
    return {problem["field"] for problem in response.json()["error"]["details"]["errors"]}


def test_stages_artists_and_slots_are_created_and_listed(lineup: Lineup):
    client, headers = lineup.client, lineup.owner["headers"]
    response = client.post(
        f"{lineup.base}/stages",
        json={"name": "Lake", "capacity": 800, "location": "By the water"},
        headers=headers,
    )
    assert response.status_code == 201
    assert response.json()["data"]["capacity"] == 800
    artist_id = lineup.artist(
        "Nova", "dj", bio="Deep house.", links=[{"label": "Site", "url": "https://nova.example"}]
    )
    slot = lineup.slot("Main", "Nova", 21, 22.5, status="confirmed", changeover_minutes=15)
    assert slot["artist"] == {"id": artist_id, "name": "Nova", "kind": "dj"}
    assert slot["stage"]["name"] == "Main"
    assert slot["starts_at"].endswith("+02:00") or slot["starts_at"].endswith("+01:00")
    assert slot["status"] == "confirmed" and slot["changeover_minutes"] == 15

    stages = client.get(f"{lineup.base}/stages", headers=headers).json()["data"]
    assert {stage["name"] for stage in stages} == {"Main", "Tent", "Lake"}
    artists = client.get(f"{lineup.base}/artists", headers=headers).json()["data"]
    assert artists[0]["links"] == [{"label": "Site", "url": "https://nova.example"}]
    slots = client.get(f"{lineup.base}/slots", headers=headers).json()["data"]
    assert [s["id"] for s in slots] == [slot["id"]]


def test_validation_errors_name_every_field_and_change_nothing(lineup: Lineup):
    client, headers = lineup.client, lineup.owner["headers"]
    lineup.artist("Nova")
    body = lineup.slot_body("Main", "Nova", 22, 21, changeover_minutes=999)
    response = client.post(f"{lineup.base}/slots", json=body, headers=headers)
    assert response.status_code == 422
    assert "body.changeover_minutes" in _fields(response)
    # The schema passes; the service names the end before the start.
    body["changeover_minutes"] = 0
    response = client.post(f"{lineup.base}/slots", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert _fields(response) == {"ends_at"}
    # Far outside the event, and too long.
    body = lineup.slot_body("Main", "Nova", 10, 11, day=20)
    response = client.post(f"{lineup.base}/slots", json=body, headers=headers)
    assert response.status_code == 422 and _fields(response) == {"starts_at", "ends_at"}
    response = client.post(
        f"{lineup.base}/stages", json={"name": "", "capacity": -1}, headers=headers
    )
    assert response.status_code == 422
    assert {"body.name", "body.capacity"} <= _fields(response)
    response = client.post(
        f"{lineup.base}/artists",
        json={"name": "X", "kind": "juggler", "links": [{"label": "a", "url": "javascript:x"}]},
        headers=headers,
    )
    assert response.status_code == 422
    assert {"body.kind", "body.links.0.url"} <= _fields(response)
    assert client.get(f"{lineup.base}/slots", headers=headers).json()["data"] == []


def test_another_organizations_event_is_not_found(client: TestClient, lineup: Lineup):
    stranger = register(client)
    other_org = create_org(client, stranger["headers"])["slug"]
    # The stranger's own organization, A's event: not found, nothing leaks.
    base = f"/api/v1/organizations/{other_org}/events/{lineup.event['id']}"
    for path in ("/stages", "/artists", "/slots"):
        response = client.get(base + path, headers=stranger["headers"])
        assert response.status_code == 404, path
        assert response.json()["error"]["message"] == "No such event."
    response = client.post(base + "/stages", json={"name": "Mine"}, headers=stranger["headers"])
    assert response.status_code == 404
    # A's own path, as the stranger: not a member, 404.
    response = client.get(f"{lineup.base}/slots", headers=stranger["headers"])
    assert response.status_code == 404


def test_a_stage_of_another_event_cannot_be_used(client: TestClient, lineup: Lineup):
    other = make_lineup(client, stages=("Elsewhere",))
    lineup.artist("Nova")
    body = lineup.slot_body("Main", "Nova", 20, 21)
    body["stage_id"] = other.stages["Elsewhere"]
    response = client.post(f"{lineup.base}/slots", json=body, headers=lineup.owner["headers"])
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "STAGE_NOT_FOUND"


def test_an_overlapping_confirmed_slot_is_refused_naming_the_other(lineup: Lineup):
    first = lineup.slot("Main", "Nova", 20, 21, status="confirmed")
    response = lineup.post_slot("Main", "Orbit", 20.5, 21.5, status="confirmed")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "SLOT_OVERLAP"
    other = error["details"]["other"]
    assert other["slot_id"] == first["id"]
    assert other["artist"] == "Nova" and other["stage"] == "Main"
    assert other["starts_at"] and other["ends_at"]
    # Nothing was written.
    slots = lineup.client.get(f"{lineup.base}/slots", headers=lineup.owner["headers"]).json()
    assert len(slots["data"]) == 1


def test_back_to_back_is_fine_but_the_changeover_counts(lineup: Lineup):
    lineup.slot("Main", "Nova", 20, 21, status="confirmed", changeover_minutes=30)
    # Starts when Nova ends, but Nova's stage needs 30 minutes of changeover.
    response = lineup.post_slot("Main", "Orbit", 21, 22, status="confirmed")
    assert response.status_code == 409
    assert response.json()["error"]["details"]["other"]["artist"] == "Nova"
    assert lineup.post_slot("Main", "Orbit", 21.5, 22.5, status="confirmed").status_code == 201
    # The new slot's own changeover reaches into the next one, too.
    lineup.slot("Main", "Late", 23.5, 24.5, status="confirmed")
    response = lineup.post_slot("Main", "Mid", 22.5, 23, status="confirmed", changeover_minutes=45)
    assert response.status_code == 409
    assert response.json()["error"]["details"]["other"]["artist"] == "Late"
    assert (
        lineup.post_slot("Main", "Mid", 22.5, 23, status="confirmed", changeover_minutes=30)
    ).status_code == 201


def test_pending_and_cancelled_slots_never_clash(lineup: Lineup):
    lineup.slot("Main", "Nova", 20, 21, status="confirmed")
    pending = lineup.slot("Main", "Orbit", 20, 21)  # pending: planned, may clash
    assert pending["status"] == "pending"
    cancelled = lineup.slot("Main", "Gone", 20, 21)
    assert lineup.patch_slot(cancelled["id"], status="cancelled").status_code == 200
    # Another stage at the same time is fine.
    assert lineup.post_slot("Tent", "Echo", 20, 21, status="confirmed").status_code == 201
    # Confirming the pending one is refused: Nova holds the stage.
    response = lineup.patch_slot(pending["id"], status="confirmed")
    assert response.status_code == 409
    assert response.json()["error"]["details"]["other"]["artist"] == "Nova"
    # Moved to a free time, it can be confirmed; a cancelled slot on the way is no obstacle.
    response = lineup.patch_slot(
        pending["id"], status="confirmed", starts_at=lineup.at(21), ends_at=lineup.at(22)
    )
    assert response.status_code == 200, response.text


def test_moving_a_confirmed_slot_onto_another_is_refused(lineup: Lineup):
    lineup.slot("Main", "Nova", 20, 21, status="confirmed")
    tent = lineup.slot("Tent", "Orbit", 20, 21, status="confirmed")
    response = lineup.patch_slot(tent["id"], stage_id=lineup.stages["Main"])
    assert response.status_code == 409
    # Its own old times never clash with itself.
    response = lineup.patch_slot(tent["id"], ends_at=lineup.at(21.5))
    assert response.status_code == 200


def test_deleting_follows_the_rules(lineup: Lineup):
    client, headers = lineup.client, lineup.owner["headers"]
    confirmed = lineup.slot("Main", "Nova", 20, 21, status="confirmed")
    response = client.delete(f"{lineup.base}/slots/{confirmed['id']}", headers=headers)
    assert response.status_code == 409 and response.json()["error"]["code"] == "SLOT_CONFIRMED"
    response = client.delete(f"{lineup.base}/stages/{lineup.stages['Main']}", headers=headers)
    assert response.status_code == 409 and response.json()["error"]["code"] == "STAGE_HAS_SLOTS"
    response = client.delete(f"{lineup.base}/artists/{lineup.artists['Nova']}", headers=headers)
    assert response.status_code == 409 and response.json()["error"]["code"] == "ARTIST_HAS_SLOTS"
    assert lineup.patch_slot(confirmed["id"], status="cancelled").status_code == 200
    assert (
        client.delete(f"{lineup.base}/slots/{confirmed['id']}", headers=headers).status_code == 204
    )
    assert (
        client.delete(f"{lineup.base}/stages/{lineup.stages['Main']}", headers=headers).status_code
        == 204
    )
    assert (
        client.delete(
            f"{lineup.base}/artists/{lineup.artists['Nova']}", headers=headers
        ).status_code
        == 204
    )


def test_stage_names_are_unique_per_event(lineup: Lineup):
    response = lineup.client.post(
        f"{lineup.base}/stages", json={"name": "Main"}, headers=lineup.owner["headers"]
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "STAGE_NAME_TAKEN"


def test_an_artist_picture_is_checked_like_an_event_image(lineup: Lineup, media_dir):
    client, headers = lineup.client, lineup.owner["headers"]
    artist_id = lineup.artist("Nova")
    url = f"{lineup.base}/artists/{artist_id}/image"
    response = client.put(
        url, files={"file": ("a.txt", b"not an image", "text/plain")}, headers=headers
    )
    assert response.status_code == 415
    response = client.put(url, files={"file": ("a.png", png_bytes(), "image/png")}, headers=headers)
    assert response.status_code == 200
    image_url = response.json()["data"]["image_url"]
    assert image_url.startswith("/media/events/") and image_url.endswith(".png")
    assert (media_dir / image_url.removeprefix("/media/")).exists()
    response = client.delete(url, headers=headers)
    assert response.json()["data"]["image_url"] is None
    assert not (media_dir / image_url.removeprefix("/media/")).exists()


def test_an_artist_picture_may_be_larger_than_an_ordinary_request(make_app, media_dir):
    """The picture's route takes the image limit (plus its envelope), not the general
    request limit: a picture of 30 KB goes through where other bodies stop at 4 KiB."""
    with TestClient(make_app(max_request_body_bytes=4096), raise_server_exceptions=False) as client:
        lineup = make_lineup(client, stages=())
        artist_id = lineup.artist("Nova")
        noisy = BytesIO()
        # Random pixels do not compress: a real PNG well over the 4 KiB request limit.
        Image.frombytes("RGB", (100, 100), os.urandom(30_000)).save(noisy, "PNG")
        assert len(noisy.getvalue()) > 4096
        response = client.put(
            f"{lineup.base}/artists/{artist_id}/image",
            files={"file": ("a.png", noisy.getvalue(), "image/png")},
            headers=lineup.owner["headers"],
        )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["image_url"].endswith(".png")
