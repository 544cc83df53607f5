"""The public programme, its calendar files, and "my schedule" with its notices."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from icalendar import Calendar

from tests.helpers import register
from tests.lineup.helpers import Lineup, make_lineup
from tests.notifications.conftest import Inbox, wait_for_jobs
from tests.notifications.helpers import body


@pytest.fixture
def lineup(client: TestClient) -> Lineup:
    return make_lineup(client)


def _programme(lineup: Lineup):
    return lineup.client.get(f"/api/v1/events/{lineup.event['id']}/programme")


def test_a_draft_has_no_public_programme(lineup: Lineup):
    lineup.slot("Main", "Nova", 20, 21, status="confirmed")
    assert _programme(lineup).status_code == 404


def test_the_programme_shows_confirmed_slots_by_day_and_stage(lineup: Lineup):
    nova = lineup.slot("Main", "Nova", 20, 21, status="confirmed")
    lineup.slot("Main", "Hidden", 22, 23)  # pending: not public
    gone = lineup.slot("Tent", "Gone", 20, 21, status="confirmed")
    assert lineup.patch_slot(gone["id"], status="cancelled").status_code == 200
    echo = lineup.slot("Tent", "Echo", 0.5, 1.5, day=1, status="confirmed")  # after midnight
    orbit = lineup.slot("Main", "Orbit", 20, 21, day=1, status="confirmed")
    lineup.publish()
    response = _programme(lineup)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["timezone"] == "Europe/Paris"
    days = data["days"]
    # 00:30 on the second day still belongs to the first festival day.
    assert len(days) == 2
    first, second = days
    assert [stage["name"] for stage in first["stages"]] == ["Main", "Tent"]
    assert [s["id"] for s in first["stages"][0]["slots"]] == [nova["id"]]
    assert [s["id"] for s in first["stages"][1]["slots"]] == [echo["id"]]
    assert [s["id"] for s in second["stages"][0]["slots"]] == [orbit["id"]]
    assert {a["name"] for a in data["artists"]} == {"Nova", "Echo", "Orbit"}
    slot = first["stages"][0]["slots"][0]
    assert slot["artist"] == "Nova" and slot["starts_at"] == nova["starts_at"]
    # An artist page: public only with a confirmed slot.
    url = f"/api/v1/events/{lineup.event['id']}/artists"
    page = lineup.client.get(f"{url}/{lineup.artists['Nova']}")
    assert page.status_code == 200 and page.json()["data"]["artist"]["name"] == "Nova"
    assert lineup.client.get(f"{url}/{lineup.artists['Hidden']}").status_code == 404


def test_a_slot_downloads_as_an_ics(lineup: Lineup):
    nova = lineup.slot("Main", "Nova", 20, 21.5, status="confirmed")
    pending = lineup.slot("Tent", "Hidden", 20, 21)
    lineup.publish()
    response = lineup.client.get(f"/api/v1/slots/{nova['id']}/calendar.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    [entry] = calendar.walk("VEVENT")
    assert str(entry["summary"]) == "Nova (Summer Fest)"
    assert entry["dtstart"].dt == _aware(nova["starts_at"])
    assert entry["dtend"].dt == _aware(nova["ends_at"])
    assert str(entry["uid"]) == f"slot-{nova['id']}@admitone"
    assert "Main" in str(entry["location"])
    assert lineup.client.get(f"/api/v1/slots/{pending['id']}/calendar.ics").status_code == 404


def _aware(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


def test_star_unstar_and_the_overlap_warning(lineup: Lineup):
    client = lineup.client
    nova = lineup.slot("Main", "Nova", 20, 21, status="confirmed")
    echo = lineup.slot("Tent", "Echo", 20.5, 21.5, status="confirmed")
    late = lineup.slot("Main", "Late", 22, 23, status="confirmed")
    hidden = lineup.slot("Tent", "Hidden", 23, 24)
    fan = register(client)
    # Not public yet: a draft's slots cannot be starred.
    response = client.post(f"/api/v1/me/schedule/{nova['id']}", headers=fan["headers"])
    assert response.status_code == 404 and response.json()["error"]["code"] == "SLOT_NOT_FOUND"
    lineup.publish()
    assert client.post(f"/api/v1/me/schedule/{nova['id']}").status_code == 401
    for slot in (nova, echo, late, nova):  # twice: no change
        response = client.post(f"/api/v1/me/schedule/{slot['id']}", headers=fan["headers"])
        assert response.status_code == 200, response.text
    response = client.post(f"/api/v1/me/schedule/{hidden['id']}", headers=fan["headers"])
    assert response.status_code == 404
    schedule = client.get("/api/v1/me/schedule", headers=fan["headers"]).json()["data"]
    assert [entry["slot"]["id"] for entry in schedule] == [nova["id"], echo["id"], late["id"]]
    clashes = {entry["slot"]["id"]: entry["clashes_with"] for entry in schedule}
    assert clashes == {nova["id"]: [echo["id"]], echo["id"]: [nova["id"]], late["id"]: []}
    # Someone else's schedule is their own.
    other = register(client)
    assert client.get("/api/v1/me/schedule", headers=other["headers"]).json()["data"] == []
    response = client.delete(f"/api/v1/me/schedule/{echo['id']}", headers=fan["headers"])
    assert response.status_code == 204
    schedule = client.get("/api/v1/me/schedule", headers=fan["headers"]).json()["data"]
    assert [entry["clashes_with"] for entry in schedule] == [[], []]


def test_a_starred_slot_that_moves_or_is_cancelled_is_told_by_mail(
    make_app: Callable[..., FastAPI], smtp_server: tuple[Inbox, int]
):
    inbox, port = smtp_server
    with TestClient(make_app(smtp_url=f"smtp://127.0.0.1:{port}")) as client:
        lineup = make_lineup(client)
        nova = lineup.slot("Main", "Nova", 20, 21, status="confirmed")
        quiet = lineup.slot("Tent", "Quiet", 20, 21, status="confirmed")
        lineup.publish()
        fan = register(client, full_name="Ada Fan")
        french = register(client, full_name="Zoé")
        response = client.patch("/api/v1/me", json={"locale": "fr"}, headers=french["headers"])
        assert response.status_code == 200, response.text
        for person in (fan, french):
            client.post(f"/api/v1/me/schedule/{nova['id']}", headers=person["headers"])
        wait_for_jobs()
        assert inbox.messages == []
        # A change nobody hears of: the changeover only; and a slot nobody starred.
        assert lineup.patch_slot(nova["id"], changeover_minutes=10).status_code == 200
        assert lineup.patch_slot(quiet["id"], ends_at=lineup.at(21.5)).status_code == 200
        wait_for_jobs()
        assert inbox.messages == []
        # Moved to the tent, an hour later.
        response = lineup.patch_slot(
            nova["id"],
            stage_id=lineup.stages["Tent"],
            starts_at=lineup.at(22),
            ends_at=lineup.at(23),
        )
        assert response.status_code == 200, response.text
        moved = inbox.wait_for(2)
        wait_for_jobs()
        by_to = {m["To"].addresses[0].addr_spec: m for m in moved}
        english, french_mail = by_to[fan["email"]], by_to[french["email"]]
        text = body(english, "plain")
        assert "has moved" in english["Subject"]
        assert "Was: Main" in text and "Now: Tent" in text and "10:00:00\u202fPM" in text
        assert "Maintenant : Tent" in body(french_mail, "plain")
        # Cancelled: one more each.
        assert lineup.patch_slot(nova["id"], status="cancelled").status_code == 200
        messages = inbox.wait_for(4)
        wait_for_jobs()
        cancelled = [m for m in messages[2:]]
        assert {m["To"].addresses[0].addr_spec for m in cancelled} == {
            fan["email"],
            french["email"],
        }
        assert any("is cancelled" in m["Subject"] for m in cancelled)
        assert len(inbox.messages) == 4
