"""Check-in lists (issue 16): the organizer's API, the scan rules per list (entry, exit,
re-entry, time window, ticket types), the counters per list and the undo per list."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from admitone.checkin.models import CheckIn, CheckinList
from admitone.db import utcnow
from tests.helpers import create_event, create_published_event, create_ticket_type, register
from tests.tickets.factories import World, presence_row, refund_order


def lists_url(world: World, list_id: str | None = None, suffix: str = "") -> str:
    base = f"/api/v1/organizations/{world.org['slug']}/events/{world.event.id}/checkin-lists"
    return base + (f"/{list_id}" if list_id else "") + suffix


def make_list(world: World, **body: Any) -> dict[str, Any]:
    response = world.client.post(
        lists_url(world), json={"name": "Gate B", **body}, headers=world.owner["headers"]
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]


def qr_of(world: World, ticket_id: uuid.UUID) -> str:
    response = world.client.get(f"/api/v1/tickets/{ticket_id}", headers=world.owner["headers"])
    return response.json()["data"]["qr_payload"]


def scan(world: World, ticket_id: uuid.UUID, **body: Any) -> dict[str, Any]:
    response = world.client.post(
        f"/api/v1/events/{world.event.id}/checkins",
        json={"qr": qr_of(world, ticket_id), **body},
        headers=world.member("staff")["headers"],
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def general(world: World) -> uuid.UUID:
    return world.order.ticket_ids[0]  # the order: General, General, VIP


def vip(world: World) -> uuid.UUID:
    return world.order.ticket_ids[2]


class TestDefaultList:
    def test_publishing_makes_the_default_list(self, client, clean_database):
        owner = register(client)
        response = client.post(
            "/api/v1/organizations",
            json={"name": "Org", "slug": "org-lists"},
            headers=owner["headers"],
        )
        assert response.status_code == 201, response.text
        event = create_published_event(client, owner["headers"], "org-lists")
        listed = client.get(
            f"/api/v1/organizations/org-lists/events/{event['id']}/checkin-lists",
            headers=owner["headers"],
        ).json()["data"]
        assert [(item["name"], item["is_default"]) for item in listed] == [("Default", True)]
        assert listed[0]["ticket_type_ids"] is None and listed[0]["allow_reentry"] is False

    def test_a_draft_has_none_until_published(self, world: World):
        draft = create_event(world.client, world.owner["headers"], world.org["slug"])
        url = f"/api/v1/organizations/{world.org['slug']}/events/{draft['id']}/checkin-lists"
        assert world.client.get(url, headers=world.owner["headers"]).json()["data"] == []
        create_ticket_type(world.client, world.owner["headers"], world.org["slug"], draft["id"])
        published = world.client.post(
            f"/api/v1/organizations/{world.org['slug']}/events/{draft['id']}/publish",
            headers=world.owner["headers"],
        )
        assert published.status_code == 200, published.text
        assert len(world.client.get(url, headers=world.owner["headers"]).json()["data"]) == 1

    def test_a_scan_without_a_list_makes_it_once_for_an_older_event(self, world: World):
        # The world's event was made without publishing through the API.
        first = scan(world, general(world))
        second = scan(world, world.order.ticket_ids[1])
        assert first["result"] == second["result"] == "admitted"
        assert first["list_id"] == second["list_id"]
        with world.database.session(write=False) as session:
            defaults = session.scalars(
                select(CheckinList).where(CheckinList.default_for_event_id == world.event.id)
            ).all()
        assert [str(item.id) for item in defaults] == [first["list_id"]]


class TestCrud:
    def test_create_read_update_delete(self, world: World):
        made = make_list(
            world,
            ticket_type_ids=[str(world.event.ticket_type_ids[1])],
            allow_reentry=True,
            valid_from="2030-01-01T18:00:00+01:00",
            valid_until="2030-01-02T02:00:00+01:00",
        )
        assert made["ticket_type_ids"] == [str(world.event.ticket_type_ids[1])]
        assert made["valid_from"].startswith("2030-01-01T17:00:00")
        assert made["is_default"] is False
        got = world.client.get(lists_url(world, made["id"]), headers=world.owner["headers"])
        assert got.json()["data"] == made
        changed = world.client.patch(
            lists_url(world, made["id"]),
            json={"name": "VIP door", "ticket_type_ids": None, "valid_until": None},
            headers=world.owner["headers"],
        )
        assert changed.status_code == 200, changed.text
        data = changed.json()["data"]
        assert (data["name"], data["ticket_type_ids"], data["valid_until"]) == (
            "VIP door",
            None,
            None,
        )
        assert data["allow_reentry"] is True  # left out: unchanged
        deleted = world.client.delete(lists_url(world, made["id"]), headers=world.owner["headers"])
        assert deleted.status_code == 204
        gone = world.client.get(lists_url(world, made["id"]), headers=world.owner["headers"])
        assert gone.status_code == 404
        assert gone.json()["error"]["code"] == "CHECKIN_LIST_NOT_FOUND"

    def test_a_ticket_type_of_another_event_is_422(self, world: World):
        response = world.client.post(
            lists_url(world),
            json={"name": "X", "ticket_type_ids": [str(world.other_event.ticket_type_ids[0])]},
            headers=world.owner["headers"],
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "CHECKIN_LIST_TICKET_TYPE_UNKNOWN"

    def test_a_window_ending_before_it_starts_is_422(self, world: World):
        body = {
            "name": "X",
            "valid_from": "2030-01-02T00:00:00Z",
            "valid_until": "2030-01-01T00:00:00Z",
        }
        response = world.client.post(lists_url(world), json=body, headers=world.owner["headers"])
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "CHECKIN_LIST_WINDOW_INVALID"
        made = make_list(world, valid_from="2030-01-02T00:00:00Z")
        patched = world.client.patch(
            lists_url(world, made["id"]),
            json={"valid_until": "2030-01-01T00:00:00Z"},
            headers=world.owner["headers"],
        )
        assert patched.status_code == 422
        assert patched.json()["error"]["code"] == "CHECKIN_LIST_WINDOW_INVALID"

    def test_bad_input_is_422(self, world: World):
        for body in (
            {"name": ""},
            {"name": "X", "ticket_type_ids": []},
            {"name": "X", "valid_from": "2030-01-01T00:00:00"},  # no offset
            {"name": "X", "unknown": 1},
            {"name": None},
        ):
            response = world.client.post(
                lists_url(world), json=body, headers=world.owner["headers"]
            )
            assert response.status_code == 422, body
            assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        made = make_list(world)
        response = world.client.patch(
            lists_url(world, made["id"]), json={"name": None}, headers=world.owner["headers"]
        )
        assert response.status_code == 422

    def test_the_default_list_and_a_scanned_list_cannot_be_deleted(self, world: World):
        default_id = scan(world, general(world))["list_id"]
        response = world.client.delete(lists_url(world, default_id), headers=world.owner["headers"])
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "DEFAULT_LIST_NOT_DELETABLE"
        made = make_list(world)
        scan(world, general(world), list_id=made["id"])
        response = world.client.delete(lists_url(world, made["id"]), headers=world.owner["headers"])
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "CHECKIN_LIST_HAS_SCANS"

    def test_a_list_of_another_event_is_404(self, world: World):
        url = (
            f"/api/v1/organizations/{world.org['slug']}/events/{world.other_event.id}/checkin-lists"
        )
        # The other event is another organization's: its lists are not found from here.
        assert world.client.get(url, headers=world.owner["headers"]).status_code == 404
        made = make_list(world)
        response = world.client.post(
            f"/api/v1/events/{world.other_event.id}/checkins",
            json={"qr": "x", "list_id": made["id"]},
            headers=world.other_owner["headers"],
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "CHECKIN_LIST_NOT_FOUND"


class TestScanRules:
    def test_entry_then_exit_then_no_reentry_on_the_default_list(self, world: World):
        assert scan(world, general(world))["result"] == "admitted"
        exited = scan(world, general(world), kind="exit", gate="Out")
        assert (exited["result"], exited["accepted"], exited["admitted"]) == (
            "exited",
            True,
            False,
        )
        assert exited["presence"]["inside"] is False and exited["presence"]["exits"] == 1
        again = scan(world, general(world))
        assert again["result"] == "already_admitted"
        assert again["first_admission"]["by"] is not None

    def test_reentry_after_an_exit_where_the_list_allows_it(self, world: World):
        made = make_list(world, allow_reentry=True)
        ticket = general(world)
        assert scan(world, ticket, list_id=made["id"])["result"] == "admitted"
        assert scan(world, ticket, list_id=made["id"])["result"] == "already_admitted"
        assert scan(world, ticket, list_id=made["id"], kind="exit")["result"] == "exited"
        assert scan(world, ticket, list_id=made["id"], kind="exit")["result"] == "not_inside"
        back = scan(world, ticket, list_id=made["id"], gate="North")
        assert back["result"] == "admitted"
        assert (back["presence"]["entries"], back["presence"]["exits"]) == (2, 1)
        presence = presence_row(world.database, ticket, made["id"])
        assert presence is not None and presence.inside and presence.last_gate == "North"
        # The default list is another list: the ticket was never in there.
        assert scan(world, ticket, kind="exit")["result"] == "not_inside"
        assert scan(world, ticket)["result"] == "admitted"

    def test_an_exit_without_an_entry_is_refused(self, world: World):
        answer = scan(world, general(world), kind="exit")
        assert (answer["result"], answer["accepted"]) == ("not_inside", False)
        assert answer["presence"] is None
        assert presence_row(world.database, general(world)) is None

    def test_a_ticket_type_not_on_the_list_is_wrong_list(self, world: World):
        made = make_list(world, ticket_type_ids=[str(world.event.ticket_type_ids[1])])
        assert scan(world, general(world), list_id=made["id"])["result"] == "wrong_list"
        assert scan(world, vip(world), list_id=made["id"])["result"] == "admitted"

    def test_outside_the_window_is_refused(self, world: World):
        now = utcnow()
        later = make_list(world, valid_from=(now + timedelta(hours=1)).isoformat())
        over = make_list(world, valid_until=(now - timedelta(hours=1)).isoformat())
        open_now = make_list(
            world,
            valid_from=(now - timedelta(hours=1)).isoformat(),
            valid_until=(now + timedelta(hours=1)).isoformat(),
        )
        assert scan(world, general(world), list_id=later["id"])["result"] == "outside_window"
        assert scan(world, general(world), list_id=over["id"])["result"] == "outside_window"
        assert scan(world, general(world), list_id=open_now["id"])["result"] == "admitted"

    def test_a_revoked_ticket_may_leave_but_not_enter(self, world: World):
        made = make_list(world, allow_reentry=True)
        qrs = {ticket: qr_of(world, ticket) for ticket in world.order.ticket_ids}
        staff = world.member("staff")["headers"]
        url = f"/api/v1/events/{world.event.id}/checkins"

        def send(ticket: uuid.UUID, kind: str) -> str:
            body = {"qr": qrs[ticket], "kind": kind, "list_id": made["id"]}
            return world.client.post(url, json=body, headers=staff).json()["data"]["result"]

        assert send(general(world), "entry") == "admitted"
        refund_order(world.database, world.order.id)
        assert send(general(world), "exit") == "exited"
        assert send(general(world), "entry") == "revoked"
        assert send(vip(world), "entry") == "revoked"

    def test_every_scan_records_its_list_and_kind(self, world: World):
        made = make_list(world, allow_reentry=True)
        scan(world, general(world), list_id=made["id"])
        scan(world, general(world), list_id=made["id"], kind="exit")
        scan(world, general(world))
        with world.database.session(write=False) as session:
            rows = session.execute(
                select(CheckIn.list_id, CheckIn.kind, CheckIn.result).order_by(CheckIn.scanned_at)
            ).all()
        assert [(str(r.list_id) == made["id"], r.kind, r.result) for r in rows] == [
            (True, "entry", "admitted"),
            (True, "exit", "exited"),
            (False, "entry", "admitted"),
        ]

    def test_the_ticket_shows_its_first_entry_on_any_list(self, world: World):
        made = make_list(world)
        ticket = world.client.get(
            f"/api/v1/tickets/{general(world)}", headers=world.owner["headers"]
        ).json()["data"]
        assert ticket["admitted_at"] is None
        first = scan(world, general(world), list_id=made["id"])
        scan(world, general(world))
        ticket = world.client.get(
            f"/api/v1/tickets/{general(world)}", headers=world.owner["headers"]
        ).json()["data"]
        assert ticket["admitted_at"][:19] == first["scanned_at"][:19]


class TestStatsAndUndo:
    def test_stats_per_list(self, world: World):
        made = make_list(world, allow_reentry=True)
        a, b, c = world.order.ticket_ids
        scan(world, a, list_id=made["id"], gate="North")
        scan(world, b, list_id=made["id"], gate="South")
        scan(world, c, list_id=made["id"], gate="North")
        scan(world, b, list_id=made["id"], gate="South", kind="exit")
        scan(world, a, list_id=made["id"], gate="North")  # refused: not counted
        response = world.client.get(
            lists_url(world, made["id"], "/stats"), headers=world.owner["headers"]
        )
        assert response.status_code == 200, response.text
        stats = response.json()["data"]
        assert (stats["inside"], stats["admitted"], stats["total"]) == (2, 3, 3)
        assert [
            (t["name"], t["inside"], t["admitted"], t["total"]) for t in stats["by_ticket_type"]
        ] == [
            ("General", 1, 2, 2),
            ("VIP", 1, 1, 1),
        ]
        assert [(g["gate"], g["entries"], g["exits"]) for g in stats["by_gate"]] == [
            ("North", 2, 0),
            ("South", 1, 1),
        ]
        (quarter,) = stats["by_quarter_hour"]
        assert (quarter["entries"], quarter["exits"]) == (3, 1)
        starts = quarter["starts_at"]
        assert starts.endswith(("Z", "+00:00")) and int(starts[14:16]) % 15 == 0
        assert starts[17:19] == "00"
        # The default list saw nothing.
        default_stats = world.client.get(
            f"/api/v1/events/{world.event.id}/checkins/stats", headers=world.owner["headers"]
        ).json()["data"]
        assert default_stats["admitted"] == 0

    def test_undo_per_list(self, world: World):
        made = make_list(world, allow_reentry=True)
        ticket = general(world)
        scan(world, ticket)  # default list
        scan(world, ticket, list_id=made["id"], gate="In")
        scan(world, ticket, list_id=made["id"], kind="exit", gate="Out")
        wrong = scan(world, ticket, list_id=made["id"], gate="Again")
        assert wrong["result"] == "admitted"
        admin = world.member("admin")["headers"]
        url = f"/api/v1/events/{world.event.id}/tickets/{ticket}/undo-admission"
        undone = world.client.post(url, params={"list_id": made["id"]}, headers=admin)
        assert undone.status_code == 200, undone.text
        assert undone.json()["data"]["checkin_id"] == wrong["checkin_id"]
        assert undone.json()["data"]["list_id"] == made["id"]
        presence = presence_row(world.database, ticket, made["id"])
        assert presence is not None
        assert (presence.inside, presence.entries, presence.exits) == (False, 1, 1)
        assert presence.last_gate == "Out"
        # Out again on that list: nothing more to undo there; the default list still in.
        again = world.client.post(url, params={"list_id": made["id"]}, headers=admin)
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "TICKET_NOT_ADMITTED"
        assert presence_row(world.database, ticket).inside is True
        assert world.client.post(url, headers=admin).status_code == 200
        assert presence_row(world.database, ticket) is None  # its only entry, undone
        assert scan(world, ticket)["result"] == "admitted"
        unknown = world.client.post(url, params={"list_id": str(uuid.uuid4())}, headers=admin)
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "CHECKIN_LIST_NOT_FOUND"
