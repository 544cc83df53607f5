"""Gate devices (issue 16, point 2): pairing, the organizer's list, revocation, the
device's token on the online scan."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update

from admitone.checkin.models import CheckIn, CheckinDevice
from admitone.organizations.models import Membership
from tests.checkin.gate_devices import default_list_id, pair, qr_of
from tests.tickets.factories import World


def devices_url(world: World, suffix: str = "") -> str:
    return f"/api/v1/organizations/{world.org['slug']}/events/{world.event.id}/devices{suffix}"


class TestPairing:
    def test_staff_pair_a_device_and_get_its_token_once(self, world: World):
        device = pair(world, name="Phone 1", gate="North")
        assert device["token"].startswith("aod_") and len(device["token"]) > 40
        assert (device["name"], device["gate"], device["event_id"]) == (
            "Phone 1",
            "North",
            str(world.event.id),
        )
        with world.database.session(write=False) as session:
            row = session.scalars(select(CheckinDevice)).one()
        assert row.token_hash != device["token"] and device["token"] not in row.token_hash
        listed = world.client.get(devices_url(world), headers=world.owner["headers"])
        assert listed.status_code == 200
        (item,) = listed.json()["data"]
        assert "token" not in item and item["id"] == device["id"]

    def test_cashiers_and_strangers_cannot_pair(self, world: World):
        body = {"name": "Phone", "gate": "North"}
        cashier = world.client.post(
            f"/api/v1/events/{world.event.id}/devices",
            json=body,
            headers=world.member("cashier")["headers"],
        )
        assert cashier.status_code == 403
        stranger = world.client.post(
            f"/api/v1/events/{world.event.id}/devices", json=body, headers=world.buyer["headers"]
        )
        assert stranger.status_code == 404
        anonymous = world.client.post(f"/api/v1/events/{world.event.id}/devices", json=body)
        assert anonymous.status_code == 401
        with world.database.session(write=False) as session:
            assert session.scalars(select(CheckinDevice)).all() == []

    def test_a_blank_or_control_character_name_is_refused(self, world: World):
        for body in (
            {"name": "", "gate": "North"},
            {"name": "A\x07", "gate": "North"},
            {"name": "A"},
        ):
            response = world.client.post(
                f"/api/v1/events/{world.event.id}/devices",
                json=body,
                headers=world.member("staff")["headers"],
            )
            assert response.status_code == 422, body
            assert response.json()["error"]["code"] == "VALIDATION_ERROR"


class TestDeviceToken:
    def test_the_token_scans_online_and_records_the_device(self, world: World):
        device = pair(world, gate="East")
        ticket = world.order.ticket_ids[0]
        response = world.client.post(
            f"/api/v1/events/{world.event.id}/checkins",
            json={"qr": qr_of(world, ticket), "nonce": "device-nonce-1"},
            headers=device["headers"],
        )
        assert response.status_code == 200, response.text
        answer = response.json()["data"]
        assert answer["result"] == "admitted" and answer["gate"] == "East"
        with world.database.session(write=False) as session:
            scan = session.scalars(select(CheckIn)).one()
        assert scan.device_id == uuid.UUID(device["id"]) and scan.offline is False
        assert scan.received_at is not None and scan.scanned_by_id is not None
        # A retry with the same nonce is the same scan.
        again = world.client.post(
            f"/api/v1/events/{world.event.id}/checkins",
            json={"qr": qr_of(world, ticket), "nonce": "device-nonce-1"},
            headers=device["headers"],
        )
        assert again.json()["data"]["replayed"] is True

    def test_the_token_is_for_its_event_only(self, world: World):
        device = pair(world)
        response = world.client.post(
            f"/api/v1/events/{world.other_event.id}/checkins",
            json={"qr": "anything"},
            headers=device["headers"],
        )
        assert response.status_code == 404

    def test_a_revoked_device_is_refused_at_once(self, world: World):
        device = pair(world)
        assert world.client.get("/api/v1/scan/bundle", headers=device["headers"]).status_code == 200
        assert (
            world.client.post(
                f"/api/v1/events/{world.event.id}/checkins",
                json={"qr": "not a ticket"},
                headers=device["headers"],
            ).json()["data"]["result"]
            == "invalid_signature"
        )
        staff = world.member("staff")["headers"]
        assert (
            world.client.delete(devices_url(world, f"/{device['id']}"), headers=staff).status_code
            == 403
        )
        revoked = world.client.delete(
            devices_url(world, f"/{device['id']}"), headers=world.owner["headers"]
        )
        assert revoked.status_code == 204
        for call in (
            world.client.get("/api/v1/scan/bundle", headers=device["headers"]),
            world.client.post(
                f"/api/v1/events/{world.event.id}/checkins",
                json={"qr": qr_of(world, world.order.ticket_ids[0])},
                headers=device["headers"],
            ),
        ):
            assert call.status_code == 401
            assert call.json()["error"]["code"] == "DEVICE_TOKEN_INVALID"
        listed = world.client.get(devices_url(world), headers=world.owner["headers"]).json()["data"]
        assert listed[0]["revoked_at"] is not None and listed[0]["last_seen_at"] is not None

    def test_a_device_stops_when_its_member_loses_check_in(self, world: World):
        device = pair(world)
        staff_id = uuid.UUID(world.member("staff")["user"]["id"])
        with world.database.session() as session:
            session.execute(
                update(Membership).where(Membership.user_id == staff_id).values(role="cashier")
            )
        response = world.client.get("/api/v1/scan/bundle", headers=device["headers"])
        assert response.status_code == 401

    def test_a_made_up_token_is_refused(self, world: World):
        for token in ("aod_" + "x" * 43, "not-a-token"):
            response = world.client.get(
                "/api/v1/scan/bundle", headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 401
        assert world.client.get("/api/v1/scan/bundle").status_code == 401

    def test_another_organizations_owner_cannot_list_or_revoke(self, world: World):
        device = pair(world)
        other = world.other_owner["headers"]
        assert world.client.get(devices_url(world), headers=other).status_code == 404
        assert (
            world.client.delete(devices_url(world, f"/{device['id']}"), headers=other).status_code
            == 404
        )
        unknown = world.client.delete(
            devices_url(world, f"/{uuid.uuid4()}"), headers=world.owner["headers"]
        )
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "DEVICE_NOT_FOUND"
        assert default_list_id(world)
