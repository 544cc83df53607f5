"""The organizer's lineup pages (issue 18, point 1): stages, artists and slots added
through the forms; bad times and clashes refused with their explanation, changing
nothing; the day view by stage; a viewer changes nothing; French."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from admitone.db import Database
from admitone.lineup.models import Artist, Slot, SlotStatus, Stage
from tests.helpers import add_member, db_snapshot, png_bytes, register
from tests.lineup.helpers import Lineup, make_lineup
from tests.web.helpers import HTML, csrf_from, get_page, web_login


@pytest.fixture
def lineup(client: TestClient, clean_database: Database) -> Lineup:
    """A festival with the stages Main and Tent, its owner logged in on the pages."""
    made = make_lineup(client)
    web_login(client, made.owner["email"])
    return made


def _url(lineup: Lineup, suffix: str = "") -> str:
    return f"/organizer/{lineup.org}/events/{lineup.event['id']}/lineup{suffix}"


def _post(client: TestClient, url: str, data: dict[str, Any], *, from_url: str) -> Any:
    token = csrf_from(get_page(client, from_url).text)
    return client.post(
        url, data={"csrf_token": token, **data}, headers=HTML, follow_redirects=False
    )


def _errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'class="field-error" id="f-([a-z_]+)-error">([^<]+)<', html))


def _local(lineup: Lineup, hour: float, day: int = 0) -> str:
    """A datetime-local value (event's zone) on day ``day`` at ``hour``."""
    return lineup.at(hour, day)[:16]


def _slots(database: Database, event_id: str) -> list[Slot]:
    with database.session(write=False) as session:
        return list(
            session.scalars(
                select(Slot).where(Slot.event_id == uuid.UUID(event_id)).order_by(Slot.starts_at)
            )
        )


def _slot_form(lineup: Lineup, stage: str, artist: str, start: float, end: float, **extra: Any):
    return {
        "stage_id": lineup.stages[stage],
        "artist_id": lineup.artists[artist],
        "starts_at": _local(lineup, start),
        "ends_at": _local(lineup, end),
        "status": "confirmed",
        "changeover_minutes": "15",
        **extra,
    }


def test_add_a_stage_an_artist_and_a_slot_through_the_forms(
    lineup: Lineup, clean_database: Database
) -> None:
    client, page = lineup.client, _url(lineup)
    event_page = get_page(client, f"/organizer/{lineup.org}/events/{lineup.event['id']}")
    assert f'href="{page}"' in event_page.text  # the event navigation links to it

    added = _post(
        client,
        _url(lineup, "/stages"),
        {"stage_name": "Lake", "stage_capacity": "800", "stage_location": "By the lake"},
        from_url=page,
    )
    assert added.status_code == 303, added.text
    added = _post(
        client,
        _url(lineup, "/artists"),
        {
            "artist_name": "The Night Owls",
            "artist_kind": "band",
            "artist_bio": "Loud.",
            "artist_links": "Website https://owls.example.com",
        },
        from_url=page,
    )
    assert added.status_code == 303, added.text
    with clean_database.session(write=False) as session:
        stage = session.scalars(select(Stage).where(Stage.name == "Lake")).one()
        artist = session.scalars(select(Artist).where(Artist.name == "The Night Owls")).one()
        assert (stage.capacity, stage.location) == (800, "By the lake")
        assert artist.links == [{"label": "Website", "url": "https://owls.example.com"}]
    lineup.stages["Lake"], lineup.artists["Owls"] = str(stage.id), str(artist.id)

    added = _post(
        client, _url(lineup, "/slots"), _slot_form(lineup, "Lake", "Owls", 21, 22.5), from_url=page
    )
    assert added.status_code == 303, added.text
    (slot,) = _slots(clean_database, lineup.event["id"])
    assert slot.status == SlotStatus.confirmed and slot.changeover_minutes == 15
    # Typed in the event's zone (Europe/Paris), stored as that moment.
    assert slot.starts_at.replace(tzinfo=UTC) == datetime.fromisoformat(lineup.at(21))

    shown = get_page(client, added.headers["location"])
    assert shown.status_code == 200
    assert "Lineup saved." in shown.text
    assert "The Night Owls" in shown.text and "9:00\u202fPM" in shown.text.replace(
        " PM", "\u202fPM"
    )


def test_a_bad_time_gives_field_errors_and_changes_nothing(
    lineup: Lineup, clean_database: Database
) -> None:
    lineup.artist("Owls")
    before = db_snapshot(clean_database)
    refused = _post(
        lineup.client,
        _url(lineup, "/slots"),
        _slot_form(lineup, "Main", "Owls", 22, 21, changeover_minutes="lots"),
        from_url=_url(lineup),
    )
    assert refused.status_code == 422
    errors = _errors(refused.text)
    assert errors["changeover_minutes"] == "Enter a whole number."
    refused = _post(
        lineup.client,
        _url(lineup, "/slots"),
        {**_slot_form(lineup, "Main", "Owls", 22, 21), "starts_at": "tomorrowish"},
        from_url=_url(lineup),
    )
    assert refused.status_code == 422
    assert _errors(refused.text)["starts_at"] == "Enter a date and time."
    refused = _post(
        lineup.client,
        _url(lineup, "/slots"),
        _slot_form(lineup, "Main", "Owls", 22, 21),
        from_url=_url(lineup),
    )
    assert refused.status_code == 422
    assert _errors(refused.text)["ends_at"] == "The end must be after the start."
    assert f'value="{_local(lineup, 22)}"' in refused.text  # what was typed is kept
    assert db_snapshot(clean_database) == before


def test_a_clash_names_the_other_slot_and_changes_nothing(
    lineup: Lineup, clean_database: Database
) -> None:
    lineup.slot("Main", "Owls", 20, 21, status="confirmed", changeover_minutes=30)
    lineup.artist("Larks")
    before = db_snapshot(clean_database)
    refused = _post(
        lineup.client,
        _url(lineup, "/slots"),
        _slot_form(lineup, "Main", "Larks", 21.25, 22),
        from_url=_url(lineup),
    )
    assert refused.status_code == 409
    clash = re.search(r'data-testid="slot-clash">(.*?)</div>', refused.text, re.S)
    assert clash is not None
    text = " ".join(clash.group(1).split())
    assert "Owls" in text and "Main" in text and "8:00" in text and "9:00" in text
    assert "30 minutes" in text
    assert f'value="{_local(lineup, 21.25)}"' in refused.text
    assert db_snapshot(clean_database) == before

    # The same through the edit form of a pending slot being confirmed.
    pending = lineup.slot("Main", "Larks", 21.25, 22)
    before = db_snapshot(clean_database)
    edit = _url(lineup, f"/slots/{pending['id']}")
    refused = _post(
        lineup.client,
        edit,
        _slot_form(lineup, "Main", "Larks", 21.25, 22),
        from_url=edit + "/edit",
    )
    assert refused.status_code == 409
    assert 'data-testid="slot-clash"' in refused.text and "Owls" in refused.text
    assert db_snapshot(clean_database) == before
    # Moved past the changeover it saves.
    saved = _post(
        lineup.client, edit, _slot_form(lineup, "Main", "Larks", 21.5, 22), from_url=edit + "/edit"
    )
    assert saved.status_code == 303, saved.text
    assert [s.status for s in _slots(clean_database, lineup.event["id"])] == [
        SlotStatus.confirmed,
        SlotStatus.confirmed,
    ]


def test_the_day_view_lists_the_slots_by_stage_and_a_slot_is_cancelled(
    lineup: Lineup, clean_database: Database
) -> None:
    lineup.slot("Main", "Owls", 20, 21, status="confirmed")
    lineup.slot("Tent", "Larks", 19, 20)
    lineup.slot("Main", "Early", 14, 15, status="confirmed")
    other_day = lineup.slot("Tent", "Tomorrow", 18, 19, day=1)
    page = get_page(lineup.client, _url(lineup))
    assert page.status_code == 200
    columns = re.findall(
        r'data-testid="lineup-stage" data-stage="([^"]+)">(.*?)(?=data-testid="lineup-stage"|</div>\s*</div>)',
        page.text,
        re.S,
    )
    by_stage = {name: re.findall(r"<strong>([^<]+)</strong>", body) for name, body in columns}
    assert by_stage == {"Main": ["Early", "Owls"], "Tent": ["Larks"]}
    assert "Pending" in page.text and "Confirmed" in page.text
    day2 = (lineup.day.date() + timedelta(days=1)).isoformat()
    assert f'href="?day={day2}"' in page.text
    second = get_page(lineup.client, _url(lineup, f"?day={day2}"))
    assert "<strong>Tomorrow</strong>" in second.text
    assert "<strong>Owls</strong>" not in second.text

    # Cancel (behind a confirmation in the browser).
    slot_id = next(
        s.id for s in _slots(clean_database, lineup.event["id"]) if s.status == "confirmed"
    )
    assert f'/lineup/slots/{slot_id}/cancel"' in page.text and "data-confirm=" in page.text
    cancelled = _post(
        lineup.client, _url(lineup, f"/slots/{slot_id}/cancel"), {}, from_url=_url(lineup)
    )
    assert cancelled.status_code == 303
    statuses = {s.id: s.status for s in _slots(clean_database, lineup.event["id"])}
    assert statuses[slot_id] == SlotStatus.cancelled
    assert other_day["status"] == "pending"


def test_a_viewer_sees_the_lineup_but_changes_nothing(
    lineup: Lineup, clean_database: Database
) -> None:
    slot = lineup.slot("Main", "Owls", 20, 21, status="confirmed")
    viewer = TestClient(lineup.client.app)
    staff = register(lineup.client)
    add_member(lineup.client, lineup.owner["headers"], lineup.org, staff["email"], "staff")
    web_login(viewer, staff["email"])
    page = get_page(viewer, _url(lineup))
    assert page.status_code == 200 and "Owls" in page.text
    assert "Add a slot" not in page.text and "/cancel" not in page.text
    token = csrf_from(page.text)
    before = db_snapshot(clean_database)
    for url, data in (
        (_url(lineup, "/stages"), {"stage_name": "Sneaky"}),
        (_url(lineup, f"/stages/{lineup.stages['Main']}"), {"stage_name": "Sneaky"}),
        (_url(lineup, "/artists"), {"artist_name": "Sneaky", "artist_kind": "dj"}),
        (_url(lineup, f"/artists/{lineup.artists['Owls']}"), {"artist_name": "Sneaky"}),
        (_url(lineup, f"/artists/{lineup.artists['Owls']}/image"), {}),
        (_url(lineup, "/slots"), _slot_form(lineup, "Tent", "Owls", 12, 13)),
        (_url(lineup, f"/slots/{slot['id']}"), _slot_form(lineup, "Tent", "Owls", 12, 13)),
        (_url(lineup, f"/slots/{slot['id']}/cancel"), {}),
    ):
        response = viewer.post(
            url, data={"csrf_token": token, **data}, headers=HTML, follow_redirects=False
        )
        assert response.status_code == 403, (url, response.status_code)
    assert get_page(viewer, _url(lineup, f"/slots/{slot['id']}/edit")).status_code == 403
    assert db_snapshot(clean_database) == before


def test_french_renders(lineup: Lineup) -> None:
    lineup.slot("Main", "Owls", 20, 21, status="confirmed")
    lineup.artist("Larks")
    lineup.client.cookies.set("admitone_lang", "fr")
    page = get_page(lineup.client, _url(lineup))
    assert page.status_code == 200
    assert "Programmation" in page.text and "Ajouter un créneau" in page.text
    assert "Confirmé" in page.text
    refused = _post(
        lineup.client,
        _url(lineup, "/slots"),
        _slot_form(lineup, "Main", "Larks", 20.5, 21.5),
        from_url=_url(lineup),
    )
    assert refused.status_code == 409
    assert "chevaucherait" in refused.text
    edit = get_page(lineup.client, _url(lineup, f"/stages/{lineup.stages['Main']}/edit"))
    assert "Modifier la scène" in edit.text


def test_an_artist_picture_is_uploaded_and_a_non_image_refused(
    lineup: Lineup, clean_database: Database, media_dir
) -> None:
    artist_id = lineup.artist("Owls")
    edit = _url(lineup, f"/artists/{artist_id}/edit")
    upload = _url(lineup, f"/artists/{artist_id}/image")
    token = csrf_from(get_page(lineup.client, edit).text)
    before = db_snapshot(clean_database)
    refused = lineup.client.post(
        upload,
        data={"csrf_token": token},
        files={"file": ("notes.png", b"not an image at all", "image/png")},
        headers=HTML,
        follow_redirects=False,
    )
    assert refused.status_code == 415  # the service's refusal, as the API's
    assert 'id="f-file-error"' in refused.text
    assert db_snapshot(clean_database) == before
    saved = lineup.client.post(
        upload,
        data={"csrf_token": token},
        files={"file": ("owls.png", png_bytes(), "image/png")},
        headers=HTML,
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    with clean_database.session(write=False) as session:
        artist = session.get(Artist, uuid.UUID(artist_id))
        assert artist is not None and artist.image_path
        path = artist.image_path
    assert (media_dir / path).exists()
    page = get_page(lineup.client, saved.headers["location"])
    assert "Picture saved." in page.text and f'src="/media/{path}"' in page.text
