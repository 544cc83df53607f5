"""The offline bundle (issue 16, point 3): what a device downloads, by pages, and the
incremental sync from a cursor (a ticket sold and one refunded between two syncs)."""

from __future__ import annotations

import base64
import uuid

import pytest
from sqlalchemy import update

from admitone.checkin import bundle
from admitone.events.models import Event
from tests.checkin.gate_devices import default_list_id, full_sync, offline_scan, pair, qr_of, upload
from tests.tickets.factories import World, make_paid_order, refund_order


def tickets_of(pages: list[dict]) -> dict[str, list]:
    return {row[0]: row for page in pages for row in page["tickets"]}


class TestFirstDownload:
    def test_it_holds_the_key_lists_types_and_every_ticket(self, world: World):
        device = pair(world, gate="North")
        pages = full_sync(world, device)
        assert len(pages) == 1
        page = pages[0]
        assert page["complete"] is True and page["full"] is True
        assert page["event"]["id"] == str(world.event.id)
        assert page["device"] == {"id": device["id"], "name": "Phone 1", "gate": "North"}
        key = world.client.get(
            f"/api/v1/events/{world.event.id}/checkin-key", headers=world.owner["headers"]
        ).json()["data"]
        assert page["public_key"] == key["public_key"]
        assert len(base64.b64decode(page["public_key"])) == 32
        assert "private" not in str(page).lower()
        assert {item["name"] for item in page["ticket_types"]} == {"General", "VIP"}
        assert any(item["is_default"] for item in page["lists"])
        tickets = tickets_of(pages)
        assert set(tickets) == {str(ticket) for ticket in world.order.ticket_ids}
        assert all(row[2] == "Ada Lovelace" and row[3] == "valid" for row in tickets.values())

    def test_pages_follow_each_other_and_miss_nothing(self, world: World, monkeypatch):
        for _ in range(3):
            make_paid_order(
                world.database, world.event, quantities={world.event.ticket_type_ids[0]: 2}
            )
        monkeypatch.setattr(bundle, "PAGE_SIZE", 2)
        device = pair(world)
        pages = full_sync(world, device)
        assert len(pages) >= 5  # 9 tickets by 2
        assert all(len(page["tickets"]) <= 2 for page in pages)
        ids = [row[0] for page in pages for row in page["tickets"]]
        assert len(ids) == len(set(ids)) == 9

    def test_a_cut_off_download_resumes_from_its_last_page(self, world: World, monkeypatch):
        make_paid_order(world.database, world.event, quantities={world.event.ticket_type_ids[0]: 3})
        monkeypatch.setattr(bundle, "PAGE_SIZE", 2)
        device = pair(world)
        first = world.client.get("/api/v1/scan/bundle", headers=device["headers"]).json()["data"]
        assert first["complete"] is False
        # The device lost the network here; it asks again with the page's cursor.
        rest = full_sync(world, device, first["cursor"])
        ids = [row[0] for page in [first, *rest] for row in page["tickets"]]
        assert len(ids) == len(set(ids)) == 6


class TestIncrementalSync:
    def test_a_sale_and_a_refund_between_two_syncs(self, world: World):
        device = pair(world)
        first = full_sync(world, device)
        cursor = first[-1]["cursor"]
        sold = make_paid_order(world.database, world.event, buyer_name="Grace Hopper")
        refunded = world.order
        refund_order(world.database, refunded.id)
        later = full_sync(world, device, cursor)
        changed = tickets_of(later)
        # Within the overlap, the first sync's tickets come again (harmless upserts); the
        # new ticket and the revoked ones are there with their new state.
        assert changed[str(sold.ticket_ids[0])][2:] == ["Grace Hopper", "valid"]
        for ticket in refunded.ticket_ids:
            assert changed[str(ticket)][3] == "revoked"

    def test_a_cursor_past_the_overlap_brings_only_changes(self, world: World, monkeypatch):
        from datetime import timedelta

        monkeypatch.setattr(bundle, "OVERLAP", timedelta(0))
        device = pair(world)
        cursor = full_sync(world, device)[-1]["cursor"]
        assert tickets_of(full_sync(world, device, cursor)) == {}
        sold = make_paid_order(world.database, world.event)
        assert set(tickets_of(full_sync(world, device, cursor))) == {str(sold.ticket_ids[0])}

    def test_entries_made_elsewhere_come_as_presences(self, world: World):
        device = pair(world)
        other = pair(world, name="Phone 2")
        cursor = full_sync(world, device)[-1]["cursor"]
        list_id = default_list_id(world)
        ticket = world.order.ticket_ids[0]
        world.client.post(
            f"/api/v1/events/{world.event.id}/checkins",
            json={"qr": qr_of(world, ticket)},
            headers=other["headers"],
        )
        presences = [row for page in full_sync(world, device, cursor) for row in page["presences"]]
        assert [row[:4] for row in presences] == [[list_id, str(ticket), True, 1]]
        assert presences[0][5] == other["gate"]  # where it was let in
        # An offline entry uploaded later, with a scan time before the cursor, comes too:
        # presences are found by when the server wrote them.
        upload(world, other, [offline_scan(qr_of(world, world.order.ticket_ids[1]), list_id)])
        presences = [row for page in full_sync(world, device, cursor) for row in page["presences"]]
        assert {row[1] for row in presences} == {str(ticket), str(world.order.ticket_ids[1])}


class TestLargeEvents:
    def test_above_the_limit_only_revoked_tickets_come(self, world: World):
        with world.database.session() as session:
            session.execute(
                update(Event).where(Event.id == world.event.id).values(offline_ticket_limit=2)
            )
        refund_order(world.database, make_paid_order(world.database, world.event).id)
        device = pair(world)
        pages = full_sync(world, device)
        assert pages[-1]["full"] is False
        assert [row[3] for page in pages for row in page["tickets"]] == ["revoked"]

    def test_the_organizer_sets_the_limit_in_the_api(self, world: World):
        url = f"/api/v1/organizations/{world.org['slug']}/events/{world.event.id}"
        response = world.client.patch(
            url, json={"offline_ticket_limit": 10}, headers=world.owner["headers"]
        )
        assert response.status_code == 200, response.text
        assert response.json()["data"]["offline_ticket_limit"] == 10
        for bad in (-1, 10_000_000, "10", True):
            refused = world.client.patch(
                url, json={"offline_ticket_limit": bad}, headers=world.owner["headers"]
            )
            assert refused.status_code == 422, bad


class TestCursor:
    @pytest.mark.parametrize("cursor", ["garbage", "e30", "", "x" * 999])
    def test_a_cursor_not_from_the_server_is_a_422(self, world: World, cursor: str):
        device = pair(world)
        response = world.client.get(
            "/api/v1/scan/bundle", params={"cursor": cursor}, headers=device["headers"]
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "BUNDLE_CURSOR_INVALID"

    def test_another_events_cursor_is_refused(self, world: World):
        device = pair(world)
        cursor = bundle.Cursor(since=None, next_since=bundle.utcnow()).encode(uuid.uuid4())
        response = world.client.get(
            "/api/v1/scan/bundle", params={"cursor": cursor}, headers=device["headers"]
        )
        assert response.status_code == 422
