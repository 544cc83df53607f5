"""Organizer pages for check-in lists: the lists, add, edit, delete, one list's statistics."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from admitone.checkin import lists as checkin_lists
from admitone.checkin.errors import CheckinListWindowInvalid
from admitone.db import Database
from tests.tickets.factories import World, build_world
from tests.web.helpers import HTML, csrf_from, get_page, web_login


@pytest.fixture
def world(client: TestClient, clean_database: Database) -> World:
    """A published event (General, VIP) in Europe/Paris with a paid order of 2 General
    and 1 VIP; its owner logged in on the pages."""
    made = build_world(client, clean_database)
    web_login(client, made.owner["email"])
    return made


def _page(world: World, suffix: str = "") -> str:
    return f"/organizer/{world.org['slug']}/events/{world.event.id}/checkin-lists{suffix}"


def _api(world: World, suffix: str = "") -> str:
    return f"/api/v1/organizations/{world.org['slug']}/events/{world.event.id}/checkin-lists" + (
        suffix
    )


def _post(client: TestClient, url: str, data: dict[str, Any], *, from_url: str) -> Any:
    token = csrf_from(get_page(client, from_url).text)
    return client.post(
        url, data={"csrf_token": token, **data}, headers=HTML, follow_redirects=False
    )


def _errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'class="field-error" id="f-([a-z_]+)-error">([^<]+)<', html))


def _lists(world: World) -> list[dict[str, Any]]:
    response = world.client.get(_api(world), headers=world.owner["headers"])
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _make_list(world: World, **body: Any) -> dict[str, Any]:
    response = world.client.post(
        _api(world), json={"name": "Side door", **body}, headers=world.owner["headers"]
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]


def _scan(world: World, ticket_id: uuid.UUID, **body: Any) -> dict[str, Any]:
    qr = world.client.get(f"/api/v1/tickets/{ticket_id}", headers=world.owner["headers"]).json()[
        "data"
    ]["qr_payload"]
    response = world.client.post(
        f"/api/v1/events/{world.event.id}/checkins",
        json={"qr": qr, **body},
        headers=world.member("staff")["headers"],
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_the_event_nav_links_to_the_lists(world: World) -> None:
    page = get_page(world.client, f"/organizer/{world.org['slug']}/events/{world.event.id}")
    assert f'href="{_page(world)}"' in page.text


def test_add_a_list_with_chosen_types_and_a_window(world: World) -> None:
    vip = str(world.event.ticket_type_ids[1])
    bad = _post(
        world.client,
        _page(world),
        {
            "name": "",
            "types": "chosen",
            "valid_from": "2030-01-02T02:00",
            "valid_until": "2030-01-01T18:00",
        },
        from_url=_page(world),
    )
    assert bad.status_code == 422
    # Every field's error at once.
    assert _errors(bad.text) == {
        "name": "This field is required.",
        "ticket_type_ids": "Choose at least one ticket type.",
        "valid_until": "The end must be after the start.",
    }
    created = _post(
        world.client,
        _page(world),
        {
            "name": "VIP door",
            "types": "chosen",
            "ticket_type_ids": [vip],
            "allow_reentry": "on",
            "valid_from": "2030-01-01T18:00",
            "valid_until": "2030-01-02T02:00",
        },
        from_url=_page(world),
    )
    assert created.status_code == 303, created.text
    assert created.headers["location"] == _page(world) + "?flash=checkin_list_saved"
    [made] = _lists(world)
    assert made["name"] == "VIP door"
    assert made["ticket_type_ids"] == [vip]
    assert made["allow_reentry"] is True
    # 18:00 in Paris in January is 17:00 UTC.
    assert made["valid_from"].startswith("2030-01-01T17:00:00")
    assert made["valid_until"].startswith("2030-01-02T01:00:00")
    page = get_page(world.client, created.headers["location"])
    assert "Check-in list saved." in page.text
    row = page.text.split("VIP door", 1)[1].split("</tr>", 1)[0]
    assert "<td>VIP</td>" in row and "<td>Yes</td>" in row
    assert "6:00" in row and "CET" in row  # the window in the event's zone, zone shown


def test_edit_a_list(world: World) -> None:
    made = _make_list(
        world,
        ticket_type_ids=[str(world.event.ticket_type_ids[0])],
        valid_from="2030-01-01T18:00:00+01:00",
    )
    edit = _page(world, f"/{made['id']}/edit")
    form = get_page(world.client, edit)
    assert form.status_code == 200
    assert 'value="Side door"' in form.text
    assert 'value="2030-01-01T18:00"' in form.text  # shown in the event's zone
    saved = _post(
        world.client,
        edit,
        {"name": "Main door", "types": "all", "valid_from": "", "valid_until": ""},
        from_url=edit,
    )
    assert saved.status_code == 303, saved.text
    [changed] = _lists(world)
    assert (changed["name"], changed["ticket_type_ids"], changed["valid_from"]) == (
        "Main door",
        None,
        None,
    )
    assert changed["allow_reentry"] is False


def test_edit_refused_shows_the_form_again(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The edit form's two refusals, as the add form's: its own field errors, and the
    service's refusal (rolled back); both 422 with what was typed, nothing changed."""
    made = _make_list(world)
    edit = _page(world, f"/{made['id']}/edit")
    typed = {"name": "Main door", "types": "chosen", "valid_from": "", "valid_until": ""}
    bad = _post(world.client, edit, typed, from_url=edit)
    assert bad.status_code == 422
    assert _errors(bad.text) == {"ticket_type_ids": "Choose at least one ticket type."}
    assert 'value="Main door"' in bad.text

    real = checkin_lists.update_list

    def refused(session: Any, **kwargs: Any) -> Any:
        real(session, **kwargs)  # its writes, which the page must roll back
        raise CheckinListWindowInvalid()

    monkeypatch.setattr(checkin_lists, "update_list", refused)
    refusal = _post(world.client, edit, {**typed, "types": "all"}, from_url=edit)
    assert refusal.status_code == 422
    assert _errors(refusal.text) == {"valid_until": "The end must be after the start."}
    assert 'value="Main door"' in refusal.text
    [unchanged] = _lists(world)
    assert unchanged["name"] == "Side door"


def test_the_default_list_and_a_scanned_list_are_not_deleted_and_the_page_says_why(
    world: World,
) -> None:
    _scan(world, world.order.ticket_ids[0])  # makes the default list
    scanned = _make_list(world)
    _scan(world, world.order.ticket_ids[1], list_id=scanned["id"])
    [default] = [item for item in _lists(world) if item["is_default"]]
    page = get_page(world.client, _page(world))
    assert f"/checkin-lists/{default['id']}/delete" not in page.text
    assert f"/checkin-lists/{scanned['id']}/delete" not in page.text
    refused = _post(
        world.client, _page(world, f"/{default['id']}/delete"), {}, from_url=_page(world)
    )
    assert refused.status_code == 409
    assert "The event&#39;s default check-in list cannot be deleted." in refused.text
    refused = _post(
        world.client, _page(world, f"/{scanned['id']}/delete"), {}, from_url=_page(world)
    )
    assert refused.status_code == 409
    assert 'class="notice notice-warn"' in refused.text
    assert len(_lists(world)) == 2


def test_delete_an_unused_list(world: World) -> None:
    made = _make_list(world)
    page = get_page(world.client, _page(world))
    assert f"/checkin-lists/{made['id']}/delete" in page.text
    deleted = _post(world.client, _page(world, f"/{made['id']}/delete"), {}, from_url=_page(world))
    assert deleted.status_code == 303
    assert deleted.headers["location"].endswith("?flash=checkin_list_deleted")
    assert _lists(world) == []


def test_stats_page_counts_an_entry_scanned_through_the_api(world: World) -> None:
    made = _make_list(world, name="North side")
    assert (
        _scan(world, world.order.ticket_ids[0], list_id=made["id"], gate="North")["result"]
        == "admitted"
    )
    page = get_page(world.client, _page(world, f"/{made['id']}/stats"))
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.text)
    assert 'Inside now</p><p class="stat-value">1</p>' in text
    assert 'Admitted</p><p class="stat-value">1<span class="muted small"> / 3</span>' in text
    assert '<td>General</td><td class="num">1</td><td class="num">1</td><td class="num">2</td>' in (
        text
    )
    assert '<td>VIP</td><td class="num">0</td><td class="num">0</td><td class="num">1</td>' in text
    assert '<td>North</td><td class="num">1</td><td class="num">0</td>' in text
    assert '<rect class="bar"' in text  # the quarter hours' chart
    assert text.count('<td class="num">1</td><td class="num">0</td></tr>') >= 2  # and table


def test_staff_may_view_but_not_change(world: World, client: TestClient) -> None:
    made = _make_list(world)
    staff = world.member("staff")
    web_login(client, staff["email"])  # the same browser, now as gate staff
    page = get_page(client, _page(world))
    assert page.status_code == 200
    assert "Side door" in page.text
    assert "Add a check-in list" not in page.text
    assert f"/checkin-lists/{made['id']}/edit" not in page.text
    assert f"/checkin-lists/{made['id']}/delete" not in page.text
    assert get_page(client, _page(world, f"/{made['id']}/stats")).status_code == 200
    assert get_page(client, _page(world, f"/{made['id']}/edit")).status_code == 403
    token = csrf_from(page.text)
    for url in (_page(world), _page(world, f"/{made['id']}/delete")):
        refused = client.post(
            url, data={"csrf_token": token, "name": "Mine"}, headers=HTML, follow_redirects=False
        )
        assert refused.status_code == 403
    assert [item["name"] for item in _lists(world)] == ["Side door"]


def test_the_pages_in_french(world: World) -> None:
    made = _make_list(world, allow_reentry=True)
    french = {"accept-language": "fr"}
    page = get_page(world.client, _page(world), headers=french)
    assert page.status_code == 200
    assert "Listes de contrôle" in page.text
    assert "Ajouter une liste de contrôle" in page.text
    stats = get_page(world.client, _page(world, f"/{made['id']}/stats"), headers=french)
    assert stats.status_code == 200
    assert "Présents" in stats.text
    edit = get_page(world.client, _page(world, f"/{made['id']}/edit"), headers=french)
    assert "Modifier la liste de contrôle" in edit.text
