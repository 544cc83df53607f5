"""Batches of offline scans (issue 16, points 5 and 6): each scan stored exactly once
per (device, nonce), facts stored with their conflicts, the conflict report."""

from __future__ import annotations

import base64
import csv
import io
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from admitone.checkin.models import CheckIn, CheckinDevice
from admitone.db import utcnow
from tests.checkin.gate_devices import (
    default_list_id,
    full_sync,
    offline_scan,
    pair,
    qr_of,
    upload,
)
from tests.tickets.factories import World, make_paid_order, presence_row, refund_order


def conflicts_url(world: World) -> str:
    return f"/api/v1/organizations/{world.org['slug']}/events/{world.event.id}/checkin-conflicts"


def stored_scans(world: World) -> int:
    with world.database.session(write=False) as session:
        return session.scalar(select(func.count()).select_from(CheckIn)) or 0


def forged(qr: str) -> str:
    """The QR with one signature byte changed."""
    raw = bytearray(base64.b32decode(qr + "=" * (-len(qr) % 8)))
    raw[-1] ^= 0x01
    return base64.b32encode(bytes(raw)).decode().rstrip("=")


class TestExactlyOnce:
    def test_a_batch_sent_twice_split_and_reordered_stores_each_scan_once(self, world: World):
        device = pair(world)
        list_id = default_list_id(world)
        scans = [offline_scan(qr_of(world, ticket), list_id) for ticket in world.order.ticket_ids]
        first = upload(world, device, scans)
        assert [item["status"] for item in first["results"]] == ["stored"] * 3
        assert [item["nonce"] for item in first["results"]] == [scan["nonce"] for scan in scans]
        again = upload(world, device, [scans[2], scans[0]])  # reordered, a part
        assert [item["status"] for item in again["results"]] == ["already_stored"] * 2
        assert [item["checkin_id"] for item in again["results"]] == [
            first["results"][2]["checkin_id"],
            first["results"][0]["checkin_id"],
        ]
        twice_in_one = upload(world, device, [scans[1], scans[1]])
        assert [item["status"] for item in twice_in_one["results"]] == ["already_stored"] * 2
        assert stored_scans(world) == 3
        for ticket in world.order.ticket_ids:
            presence = presence_row(world.database, ticket)
            assert presence is not None and presence.entries == 1 and presence.inside

    def test_a_nonce_once_tried_online_is_stored_once(self, world: World):
        device = pair(world)
        list_id = default_list_id(world)
        qr = qr_of(world, world.order.ticket_ids[0])
        online = world.client.post(
            f"/api/v1/events/{world.event.id}/checkins",
            json={"qr": qr, "nonce": "tried-online-1", "list_id": list_id},
            headers=device["headers"],
        )
        assert online.json()["data"]["result"] == "admitted"
        # The device never saw the answer (timeout), decided offline, queued it.
        answer = upload(world, device, [offline_scan(qr, list_id, nonce="tried-online-1")])
        assert answer["results"][0]["status"] == "already_stored"
        assert stored_scans(world) == 1

    def test_a_nonce_of_another_device_or_with_another_qr_is_refused_and_kept(self, world: World):
        first, second = pair(world), pair(world, name="Phone 2")
        list_id = default_list_id(world)
        scan = offline_scan(qr_of(world, world.order.ticket_ids[0]), list_id, nonce="shared-nonce")
        upload(world, first, [scan])
        other_device = upload(world, second, [scan])["results"][0]
        other_qr = upload(world, first, [{**scan, "qr": qr_of(world, world.order.ticket_ids[1])}])[
            "results"
        ][0]
        for refused in (other_device, other_qr):
            assert refused["status"] == "refused"
            assert refused["error"]["code"] == "NONCE_REUSED"
        assert stored_scans(world) == 1

    def test_a_list_of_another_event_is_refused_the_rest_is_stored(self, world: World):
        device = pair(world)
        list_id = default_list_id(world)
        scans = [
            offline_scan(qr_of(world, world.order.ticket_ids[0]), str(uuid.uuid4())),
            offline_scan(qr_of(world, world.order.ticket_ids[1]), list_id),
            offline_scan(
                qr_of(world, world.order.ticket_ids[2]), list_id, kind="exit", result="admitted"
            ),
        ]
        results = upload(world, device, scans)["results"]
        assert [item["status"] for item in results] == ["refused", "stored", "refused"]
        assert results[0]["error"]["code"] == "CHECKIN_LIST_NOT_FOUND"
        assert results[2]["error"]["code"] == "SCAN_RESULT_MISMATCH"
        assert stored_scans(world) == 1

    def test_bad_batches_are_422_and_store_nothing(self, world: World):
        device = pair(world)
        list_id = default_list_id(world)
        good = offline_scan(qr_of(world, world.order.ticket_ids[0]), list_id)
        for body in (
            {"scans": [good]},  # no device time
            {"device_time": utcnow().isoformat(), "scans": []},
            {"device_time": utcnow().isoformat(), "scans": [good] * 501},
            {"device_time": "2026-01-01T00:00:00", "scans": [good]},  # naive time
        ):
            response = world.client.post(
                "/api/v1/scan/batches", json=body, headers=device["headers"]
            )
            assert response.status_code == 422, body
            assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert stored_scans(world) == 0

    def test_an_item_with_a_wrong_field_is_refused_alone(self, world: World):
        device = pair(world)
        list_id = default_list_id(world)
        good = offline_scan(qr_of(world, world.order.ticket_ids[0]), list_id)
        scans = [
            {**offline_scan("x", list_id), "kind": "sideways"},
            good,
            {**offline_scan("x", list_id), "nonce": "short"},
            {"nonce": "no-other-field-1"},
            "not even an object",
        ]
        results = upload(world, device, scans)["results"]
        assert [item["status"] for item in results] == [
            "refused",
            "stored",
            "refused",
            "refused",
            "refused",
        ]
        assert results[0]["nonce"] == scans[0]["nonce"]
        assert results[3]["nonce"] == "no-other-field-1" and results[4]["nonce"] == ""
        assert {item["error"]["code"] for item in results if item["error"]} == {"VALIDATION_ERROR"}
        fields = {e["field"] for e in results[0]["error"]["details"]["errors"]}
        assert fields == {"kind"}
        assert stored_scans(world) == 1


class TestFactsAndConflicts:
    def test_the_same_ticket_on_two_offline_devices_is_one_conflict_naming_both(self, world: World):
        north, south = pair(world, gate="North"), pair(world, name="Phone 2", gate="South")
        list_id = default_list_id(world)
        qr = qr_of(world, world.order.ticket_ids[0])
        at = utcnow() - timedelta(minutes=10)
        first = upload(world, north, [offline_scan(qr, list_id, at=at)])
        assert first["results"][0]["status"] == "stored"
        second = upload(world, south, [offline_scan(qr, list_id, at=at + timedelta(minutes=2))])
        result = second["results"][0]
        assert result["status"] == "conflict"
        conflict = result["conflict"]
        assert conflict["reason"] == "already_admitted"
        assert conflict["holder_name"] == "Ada Lovelace"
        assert (conflict["scan"]["gate"], conflict["scan"]["device_name"]) == ("South", "Phone 2")
        assert (conflict["other"]["gate"], conflict["other"]["device_name"]) == ("North", "Phone 1")
        assert conflict["scan"]["offline"] is True
        # Stored all the same, and the holder is inside once.
        assert stored_scans(world) == 2
        presence = presence_row(world.database, world.order.ticket_ids[0])
        assert presence is not None and presence.inside and presence.entries == 1
        # Each gate hears of it at its next sync.
        assert [item["reason"] for item in second["conflicts"]] == ["already_admitted"]
        north_next = upload(
            world, north, [offline_scan(qr_of(world, world.order.ticket_ids[1]), list_id)]
        )
        assert [item["scan"]["gate"] for item in north_next["conflicts"]] == ["South"]
        # ...and at every sync of its bundle, with nothing to upload.
        synced = full_sync(world, north)[-1]
        assert [item["reason"] for item in synced["conflicts"]] == ["already_admitted"]

    def test_an_entry_after_an_online_one_is_a_conflict(self, world: World):
        device = pair(world)
        list_id = default_list_id(world)
        qr = qr_of(world, world.order.ticket_ids[0])
        world.client.post(
            f"/api/v1/events/{world.event.id}/checkins",
            json={"qr": qr},
            headers=world.member("staff")["headers"],
        )
        result = upload(world, device, [offline_scan(qr, list_id)])["results"][0]
        assert result["conflict"]["reason"] == "already_admitted"
        assert result["conflict"]["other"]["offline"] is False

    def test_forged_truncated_foreign_and_revoked_codes_admitted_offline_are_conflicts(
        self, world: World
    ):
        device = pair(world)
        list_id = default_list_id(world)
        genuine = qr_of(world, world.order.ticket_ids[0])
        other_event_order = make_paid_order(world.database, world.other_event)
        foreign = qr_of_other(world, other_event_order.ticket_ids[0])
        revoked_order = make_paid_order(world.database, world.event)
        revoked_qr = qr_of(world, revoked_order.ticket_ids[0])
        refund_order(world.database, revoked_order.id)
        scans = [
            offline_scan(forged(genuine), list_id),
            offline_scan(genuine[:100], list_id),
            offline_scan(foreign, list_id),
            offline_scan(revoked_qr, list_id),
        ]
        results = upload(world, device, scans)["results"]
        assert [item["conflict"]["reason"] for item in results] == [
            "invalid_signature",
            "invalid_signature",
            "wrong_event",
            "revoked",
        ]
        # The genuine ticket was not let in by its forgery.
        assert presence_row(world.database, world.order.ticket_ids[0]) is None
        # The revoked one was (it happened): it counts inside.
        revoked_presence = presence_row(world.database, revoked_order.ticket_ids[0])
        assert revoked_presence is not None and revoked_presence.inside

    def test_typed_codes_naming_no_ticket_here_are_not_found(self, world: World):
        # A typed code is any 32 hex digits: it may name no ticket, or another event's.
        device = pair(world)
        list_id = default_list_id(world)
        other_event_ticket = make_paid_order(world.database, world.other_event).ticket_ids[0]
        scans = [
            offline_scan(uuid.uuid4().hex, list_id),
            offline_scan(other_event_ticket.hex, list_id),
            offline_scan(world.order.ticket_ids[0].hex.upper(), list_id),
        ]
        results = upload(world, device, scans)["results"]
        assert [item["status"] for item in results] == ["conflict", "conflict", "stored"]
        assert [item["conflict"]["reason"] for item in results[:2]] == ["not_found"] * 2
        assert presence_row(world.database, other_event_ticket) is None
        with world.database.session(write=False) as session:
            named = session.scalars(
                select(CheckIn.ticket_id).where(CheckIn.ticket_id.is_not(None))
            ).all()
        assert named == [world.order.ticket_ids[0]]

    def test_scans_the_device_refused_are_stored_and_change_nothing(self, world: World):
        device = pair(world)
        list_id = default_list_id(world)
        qr = qr_of(world, world.order.ticket_ids[0])
        results = upload(
            world,
            device,
            [
                offline_scan(qr, list_id, result="revoked"),
                offline_scan("junk", list_id, result="invalid_signature"),
            ],
        )["results"]
        assert [item["status"] for item in results] == ["stored", "stored"]
        assert presence_row(world.database, world.order.ticket_ids[0]) is None
        assert stored_scans(world) == 2

    def test_one_tickets_scans_apply_in_the_order_they_happened(self, world: World):
        device = pair(world)
        list_id = default_list_id(world)  # no re-entry
        qr = qr_of(world, world.order.ticket_ids[0])
        base = utcnow() - timedelta(minutes=30)
        steps = [("exit", 0), ("entry", 1), ("exit", 2), ("entry", 3)]
        # Nonces in the opposite order of the times: the order sent and the nonces'
        # order must not matter, only when each scan happened.
        scans = [
            offline_scan(
                qr,
                list_id,
                kind=kind,
                at=base + timedelta(minutes=minute),
                nonce=f"nonce-00{9 - minute}",
            )
            for kind, minute in reversed(steps)
        ]
        results = upload(world, device, scans)["results"]
        by_nonce = {item["nonce"]: item for item in results}
        assert by_nonce["nonce-009"]["conflict"]["reason"] == "not_inside"  # out before in
        assert by_nonce["nonce-008"]["status"] == "stored"  # in
        assert by_nonce["nonce-007"]["status"] == "stored"  # out
        assert by_nonce["nonce-006"]["conflict"]["reason"] == "already_admitted"  # in again
        presence = presence_row(world.database, world.order.ticket_ids[0])
        assert presence is not None
        assert (presence.inside, presence.entries, presence.exits) == (True, 2, 1)

    def test_a_reentry_list_lets_the_holder_back_in_offline(self, world: World):
        device = pair(world)
        made = world.client.post(
            f"/api/v1/organizations/{world.org['slug']}/events/{world.event.id}/checkin-lists",
            json={"name": "Festival ground", "allow_reentry": True},
            headers=world.owner["headers"],
        )
        list_id = made.json()["data"]["id"]
        qr = qr_of(world, world.order.ticket_ids[0])
        base = utcnow() - timedelta(minutes=30)
        scans = [
            offline_scan(qr, list_id, kind=kind, at=base + timedelta(minutes=minute))
            for kind, minute in [("entry", 0), ("exit", 1), ("entry", 2)]
        ]
        results = upload(world, device, scans)["results"]
        assert [item["status"] for item in results] == ["stored"] * 3
        presence = presence_row(world.database, world.order.ticket_ids[0], list_id)
        assert presence is not None
        assert (presence.inside, presence.entries, presence.exits) == (True, 2, 1)

    def test_the_clock_offset_corrects_the_scan_time(self, world: World):
        device = pair(world)
        list_id = default_list_id(world)
        now = utcnow()
        device_clock = now - timedelta(hours=1)  # the device is an hour late
        scan = offline_scan(
            qr_of(world, world.order.ticket_ids[0]), list_id, at=device_clock - timedelta(minutes=5)
        )
        answer = upload(world, device, [scan], device_time=device_clock)
        assert abs(answer["clock_offset_ms"] - 3_600_000) < 60_000
        with world.database.session(write=False) as session:
            stored = session.scalars(select(CheckIn)).one()
            paired = session.scalars(select(CheckinDevice)).one()
        assert abs((stored.scanned_at - (now - timedelta(minutes=5))).total_seconds()) < 60
        assert stored.device_scanned_at is not None
        assert (
            abs((stored.device_scanned_at - (device_clock - timedelta(minutes=5))).total_seconds())
            < 1
        )
        assert stored.received_at is not None and stored.offline is True
        assert paired.clock_offset_ms == answer["clock_offset_ms"]


class TestConflictReport:
    def test_the_organizer_reads_filters_and_exports_conflicts(self, world: World):
        north, south = pair(world, gate="North"), pair(world, name="Phone 2", gate="South")
        list_id = default_list_id(world)
        for ticket in world.order.ticket_ids[:2]:
            qr = qr_of(world, ticket)
            upload(world, north, [offline_scan(qr, list_id)])
            upload(world, south, [offline_scan(qr, list_id)])
        report = world.client.get(conflicts_url(world), headers=world.owner["headers"])
        assert report.status_code == 200
        found = report.json()["data"]
        assert len(found) == 2 and {item["reason"] for item in found} == {"already_admitted"}
        newest_first = [item["scan"]["scanned_at"] for item in found]
        assert newest_first == sorted(newest_first, reverse=True)
        by_device = world.client.get(
            conflicts_url(world), params={"device_id": north["id"]}, headers=world.owner["headers"]
        ).json()["data"]
        assert len(by_device) == 2  # north's entries are the "other" scans
        assert (
            world.client.get(
                conflicts_url(world), params={"reason": "revoked"}, headers=world.owner["headers"]
            ).json()["data"]
            == []
        )
        assert (
            world.client.get(
                conflicts_url(world),
                params={"list_id": str(uuid.uuid4())},
                headers=world.owner["headers"],
            ).json()["data"]
            == []
        )
        exported = world.client.get(
            conflicts_url(world), params={"format": "csv"}, headers=world.owner["headers"]
        )
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert len(rows) == 2
        assert {(row["gate"], row["other_gate"]) for row in rows} == {("South", "North")}

    def test_only_the_events_team_reads_conflicts(self, world: World):
        assert (
            world.client.get(conflicts_url(world), headers=world.other_owner["headers"]).status_code
            == 404
        )
        assert (
            world.client.get(
                conflicts_url(world), headers=world.member("cashier")["headers"]
            ).status_code
            == 200
        )
        assert world.client.get(conflicts_url(world)).status_code == 401
        bad = world.client.get(
            conflicts_url(world), params={"reason": "nope"}, headers=world.owner["headers"]
        )
        assert bad.status_code == 422


def qr_of_other(world: World, ticket_id: uuid.UUID) -> str:
    response = world.client.get(
        f"/api/v1/tickets/{ticket_id}", headers=world.other_owner["headers"]
    )
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["qr_payload"])
