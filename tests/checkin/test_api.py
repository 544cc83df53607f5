"""Check-in API: every answer a gate can get, the audit trail, nonces, stats, access."""

from __future__ import annotations

import base64
import string
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from admitone.checkin.models import CheckIn
from admitone.tickets.signing import KeyRing
from tests.helpers import auth, register
from tests.tickets.factories import (
    World,
    admitted_at,
    admitted_gate,
    make_event,
    make_paid_order,
    make_platform_admin,
    refund_order,
)

B32 = string.ascii_uppercase + "234567"


def payload_of(world: World, ticket_id: uuid.UUID) -> str:
    response = world.client.get(f"/api/v1/tickets/{ticket_id}", headers=world.owner["headers"])
    assert response.status_code == 200, response.text
    return response.json()["data"]["qr_payload"]


def scan(
    world: World,
    qr: Any,
    *,
    headers: dict[str, str] | None = None,
    event_id: uuid.UUID | None = None,
    **extra: Any,
):
    return world.client.post(
        f"/api/v1/events/{event_id or world.event.id}/checkins",
        json={"qr": qr, **extra},
        headers=world.owner["headers"] if headers is None else headers,
    )


def scan_result(world: World, qr: Any, **kwargs: Any) -> dict[str, Any]:
    response = scan(world, qr, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def checkin_count(world: World, **filters: Any) -> int:
    with world.database.session(write=False) as session:
        statement = select(func.count()).select_from(CheckIn).filter_by(**filters)
        return session.scalar(statement)


class TestAnswers:
    def test_admitted_then_already_admitted_with_when_and_where(self, world: World):
        ticket_id = world.order.ticket_ids[0]
        qr = payload_of(world, ticket_id)
        first = scan_result(world, qr, gate="North")
        assert first["result"] == "admitted"
        assert first["admitted"] is True
        assert first["gate"] == "North"
        assert first["ticket"]["id"] == str(ticket_id)
        assert first["ticket"]["holder_name"] == "Ada Lovelace"
        assert first["ticket"]["ticket_type"]["name"] == "General"
        assert first["first_admission"] is None

        second = scan_result(world, qr, gate="South")
        assert second["result"] == "already_admitted"
        assert second["admitted"] is False
        assert second["first_admission"]["gate"] == "North"
        assert second["first_admission"]["at"] == first["scanned_at"]
        assert second["gate"] == "South"

        assert admitted_gate(world.database, ticket_id) == "North"
        at = admitted_at(world.database, ticket_id)
        assert at.isoformat().replace("+00:00", "Z")[:19] == first["scanned_at"][:19]

    def test_scanned_text_with_trailing_newline(self, world: World):
        qr = payload_of(world, world.order.ticket_ids[0])
        assert scan_result(world, qr + "\n")["result"] == "admitted"

    def test_one_character_changed_is_invalid_signature(self, world: World):
        qr = payload_of(world, world.order.ticket_ids[0])
        for index in (0, 5, 20, 40, 70, 100, 150, 180):
            char = B32[(B32.index(qr[index]) + 1) % 32]
            tampered = qr[:index] + char + qr[index + 1 :]
            assert scan_result(world, tampered)["result"] == "invalid_signature", index
        # The untouched ticket was never admitted by a tampered copy.
        assert admitted_at(world.database, world.order.ticket_ids[0]) is None
        assert scan_result(world, qr)["result"] == "admitted"

    def test_one_byte_changed_is_invalid_signature(self, world: World):
        qr = payload_of(world, world.order.ticket_ids[0])
        raw = base64.b32decode(qr + "===")
        for index in (0, 1, 16, 17, 30, 33, 48, 49, 80, 112):
            tampered = bytearray(raw)
            tampered[index] ^= 0x20
            text = base64.b32encode(bytes(tampered)).decode().rstrip("=")
            assert scan_result(world, text)["result"] == "invalid_signature", index

    def test_ticket_of_another_event_is_wrong_event(self, world: World):
        other_order = make_paid_order(world.database, world.other_event)
        response = world.client.get(
            f"/api/v1/tickets/{other_order.ticket_ids[0]}", params={"token": other_order.token}
        )
        qr = response.json()["data"]["qr_payload"]
        result = scan_result(world, qr)
        assert result["result"] == "wrong_event"
        assert result["ticket"] is None
        # Same organization, other event: also wrong_event.
        sibling = make_event(world.database, organization_id=world.org["id"], title="Matinee")
        sibling_order = make_paid_order(world.database, sibling)
        assert scan_result(world, payload_of(world, sibling_order.ticket_ids[0]))["result"] == (
            "wrong_event"
        )
        # And it was not admitted anywhere.
        assert admitted_at(world.database, other_order.ticket_ids[0]) is None

    def test_forged_ticket_naming_another_event_is_invalid_signature(self, world: World):
        qr = payload_of(world, world.order.ticket_ids[0])
        # The other event has a key, so the forgery is checked against it and fails.
        assert world.client.get(f"/api/v1/events/{world.other_event.id}/checkin-key").is_success
        raw = bytearray(base64.b32decode(qr + "==="))
        raw[17:33] = world.other_event.id.bytes  # claim another event, keep our signature
        text = base64.b32encode(bytes(raw)).decode().rstrip("=")
        assert scan_result(world, text)["result"] == "invalid_signature"

    def test_refunded_ticket_is_revoked(self, world: World):
        qr = payload_of(world, world.order.ticket_ids[0])
        refund_order(world.database, world.order.id)
        result = scan_result(world, qr)
        assert result["result"] == "revoked"
        assert result["ticket"]["status"] == "revoked"
        assert admitted_at(world.database, world.order.ticket_ids[0]) is None

    def test_admitted_then_refunded_is_revoked(self, world: World):
        qr = payload_of(world, world.order.ticket_ids[0])
        assert scan_result(world, qr)["result"] == "admitted"
        refund_order(world.database, world.order.id)
        assert scan_result(world, qr)["result"] == "revoked"

    def test_genuine_signature_unknown_ticket_is_not_found(self, world: World, settings):
        payload_of(world, world.order.ticket_ids[0])  # the event's key exists
        ring = KeyRing(settings=settings, database=world.database)
        with world.database.session(write=False) as session:
            key = ring.find(session, world.event.id)
        qr = ring.sign_ticket(
            key, ticket_id=uuid.uuid4(), ticket_type_id=world.event.ticket_type_ids[0]
        )
        result = scan_result(world, qr)
        assert result["result"] == "not_found"
        assert result["ticket"] is None

    @pytest.mark.parametrize(
        "qr", ["", "   ", "garbage", "https://example.com/ticket/1", "A" * 181, "Ω" * 200]
    )
    def test_garbage_is_invalid_signature(self, world: World, qr: str):
        result = scan_result(world, qr)
        assert result["result"] == "invalid_signature"
        assert result["ticket"] is None

    def test_ten_kilobytes_is_a_clean_422(self, world: World):
        response = scan(world, "A" * 10_240)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert checkin_count(world) == 0

    @pytest.mark.parametrize("qr", [None, 42, ["x"], {"a": 1}, True])
    def test_not_a_string_is_422(self, world: World, qr: Any):
        response = scan(world, qr)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"

    def test_malformed_bodies(self, world: World):
        url = f"/api/v1/events/{world.event.id}/checkins"
        headers = {**world.owner["headers"], "Content-Type": "application/json"}
        response = world.client.post(url, content=b"{not json", headers=headers)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "MALFORMED_JSON"
        response = world.client.post(url, json={"qr": "x", "unknown": 1}, headers=headers)
        assert response.status_code == 422
        response = world.client.post(url, json={"qr": "x", "gate": "g" * 101}, headers=headers)
        assert response.status_code == 422
        response = world.client.post(url, json={}, headers=headers)
        assert response.status_code == 422
        response = world.client.post(
            "/api/v1/events/not-a-uuid/checkins", json={"qr": "x"}, headers=headers
        )
        assert response.status_code == 422

    @pytest.mark.parametrize("gate", ["\x00", "North\x00", "\x07", "a\nb", "\x7f"])
    def test_gate_with_control_characters_is_422(self, world: World, gate: str):
        # PostgreSQL refuses NUL in text: this must be a 422, not a database error.
        response = scan(world, payload_of(world, world.order.ticket_ids[0]), gate=gate)
        assert response.status_code == 422
        assert checkin_count(world) == 0
        assert admitted_at(world.database, world.order.ticket_ids[0]) is None

    def test_unusual_but_printable_gate_names(self, world: World):
        for gate in ("Nord-Est é", "門 3", "\u202egate"):
            assert scan_result(world, "garbage", gate=gate)["gate"] == gate

    @pytest.mark.parametrize(
        "body",
        [
            b'{"qr": "x", "gate": "\\ud800"}',
            b'{"qr": "\\ud800x"}',
            b'{"qr": "x", "nonce": "\\ud800abcdefgh"}',
            b'{"qr": "\xff\xfe"}',
        ],
    )
    def test_lone_surrogates_and_bad_utf8_are_4xx(self, world: World, body: bytes):
        response = world.client.post(
            f"/api/v1/events/{world.event.id}/checkins",
            content=body,
            headers={**world.owner["headers"], "Content-Type": "application/json"},
        )
        assert response.status_code in (400, 422)
        assert checkin_count(world) == 0

    def test_nul_in_the_scanned_text_is_refused(self, world: World):
        # No QR code reader yields NUL; like every request body, it is refused as input.
        for text in ("\x00", "A\x00" * 90):
            response = scan(world, text)
            assert response.status_code == 422
            assert "NUL" in response.text

    def test_every_attempt_is_recorded(self, world: World):
        qr = payload_of(world, world.order.ticket_ids[0])
        staff = world.member("staff")
        for text in (qr, qr, "garbage", ""):
            scan(world, text, headers=staff["headers"], gate="East")
        with world.database.session(write=False) as session:
            rows = session.scalars(select(CheckIn).order_by(CheckIn.scanned_at)).all()
        assert [row.result for row in rows] == [
            "admitted",
            "already_admitted",
            "invalid_signature",
            "invalid_signature",
        ]
        assert {str(row.scanned_by_id) for row in rows} == {staff["user"]["id"]}
        assert {row.gate for row in rows} == {"East"}
        assert rows[0].ticket_id == rows[1].ticket_id == world.order.ticket_ids[0]
        assert rows[2].ticket_id is None
        # The raw text is not stored, only its hash.
        assert all(len(row.payload_hash) == 64 for row in rows)


class TestNonce:
    def test_retry_with_the_same_nonce_gets_the_first_answer(self, world: World):
        qr = payload_of(world, world.order.ticket_ids[0])
        nonce = str(uuid.uuid4())
        first = scan_result(world, qr, nonce=nonce, gate="North")
        retry = scan_result(world, qr, nonce=nonce, gate="North")
        assert first["result"] == retry["result"] == "admitted"
        assert retry["checkin_id"] == first["checkin_id"]
        assert retry["replayed"] is True and first["replayed"] is False
        assert checkin_count(world) == 1
        # A new nonce is a new scan.
        assert scan_result(world, qr, nonce=str(uuid.uuid4()))["result"] == "already_admitted"
        assert checkin_count(world) == 2

    def test_refused_scan_replays_too(self, world: World):
        nonce = str(uuid.uuid4())
        assert scan_result(world, "garbage", nonce=nonce)["result"] == "invalid_signature"
        assert scan_result(world, "garbage", nonce=nonce)["replayed"] is True
        assert checkin_count(world) == 1

    def test_same_nonce_other_qr_is_refused(self, world: World):
        nonce = str(uuid.uuid4())
        scan_result(world, payload_of(world, world.order.ticket_ids[0]), nonce=nonce)
        response = scan(world, payload_of(world, world.order.ticket_ids[1]), nonce=nonce)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "NONCE_REUSED"
        assert admitted_at(world.database, world.order.ticket_ids[1]) is None
        assert checkin_count(world) == 1

    def test_nonce_is_per_event(self, world: World):
        nonce = str(uuid.uuid4())
        scan_result(world, "garbage", nonce=nonce)
        other = scan(
            world,
            "garbage",
            nonce=nonce,
            event_id=world.other_event.id,
            headers=world.other_owner["headers"],
        )
        assert other.status_code == 200
        assert other.json()["data"]["replayed"] is False

    @pytest.mark.parametrize(
        "nonce", ["short", "x" * 65, "has space in it", "ünïcödé-nonce", 12345678]
    )
    def test_malformed_nonce_is_422(self, world: World, nonce: Any):
        assert scan(world, "garbage", nonce=nonce).status_code == 422
        assert checkin_count(world) == 0


class TestStats:
    def test_numbers(self, world: World):
        general, vip = world.event.ticket_type_ids
        extra = make_paid_order(world.database, world.event, quantities={general: 3})
        refunded = make_paid_order(world.database, world.event, quantities={vip: 2})
        # Admit 2 General of the world order, 1 of the extra, then refund one VIP order.
        admitted = [world.order.ticket_ids[0], world.order.ticket_ids[1], extra.ticket_ids[0]]
        for ticket_id in admitted:
            assert scan_result(world, payload_of(world, ticket_id))["result"] == "admitted"
        refund_order(world.database, refunded.id)
        scan_result(world, "garbage")

        response = world.client.get(
            f"/api/v1/events/{world.event.id}/checkins/stats", headers=world.owner["headers"]
        )
        assert response.status_code == 200
        data = response.json()["data"]
        assert data["admitted"] == 3
        assert data["total"] == 6  # 2 + 1 (world order) + 3 (extra); the refunded 2 are out
        assert data["by_ticket_type"] == [
            {"ticket_type_id": str(general), "name": "General", "admitted": 3, "total": 5},
            {"ticket_type_id": str(vip), "name": "VIP", "admitted": 0, "total": 1},
        ]

    def test_event_without_tickets(self, world: World):
        event = make_event(world.database, organization_id=world.org["id"])
        response = world.client.get(
            f"/api/v1/events/{event.id}/checkins/stats", headers=world.owner["headers"]
        )
        assert response.json()["data"] == {
            "list_id": None,  # made by the first scan: nothing to count yet
            "admitted": 0,
            "total": 0,
            "by_ticket_type": [
                {
                    "ticket_type_id": str(event.ticket_type_ids[0]),
                    "name": "General",
                    "admitted": 0,
                    "total": 0,
                }
            ],
        }


class TestAccess:
    def _statuses(self, world: World, headers: dict[str, str] | None) -> dict[str, int]:
        qr = payload_of(world, world.order.ticket_ids[2])
        kwargs = {} if headers is None else {"headers": headers}
        return {
            "scan": world.client.post(
                f"/api/v1/events/{world.event.id}/checkins", json={"qr": qr}, **kwargs
            ).status_code,
            "stats": world.client.get(
                f"/api/v1/events/{world.event.id}/checkins/stats", **kwargs
            ).status_code,
        }

    @pytest.mark.parametrize("role", ["staff", "admin", "owner"])
    def test_team_roles_with_check_in(self, world: World, role: str):
        headers = world.owner["headers"] if role == "owner" else world.member(role)["headers"]
        assert self._statuses(world, headers) == {"scan": 200, "stats": 200}

    def test_cashier_is_403(self, world: World):
        headers = world.member("cashier")["headers"]
        assert self._statuses(world, headers) == {"scan": 403, "stats": 403}
        response = scan(world, "garbage", headers=headers)
        assert response.json()["error"]["code"] == "PERMISSION_DENIED"
        assert checkin_count(world) == 0

    def test_staff_of_another_organization_is_404(self, world: World):
        outsider = register(world.client)
        from tests.helpers import add_member

        add_member(
            world.client,
            world.other_owner["headers"],
            world.other_org["slug"],
            outsider["email"],
            "staff",
        )
        assert self._statuses(world, outsider["headers"]) == {"scan": 404, "stats": 404}
        assert self._statuses(world, world.other_owner["headers"]) == {"scan": 404, "stats": 404}
        response = scan(world, "garbage", headers=outsider["headers"])
        assert response.json()["error"]["code"] == "EVENT_NOT_FOUND"
        assert checkin_count(world) == 0
        # The ticket is untouched.
        assert admitted_at(world.database, world.order.ticket_ids[2]) is None

    def test_the_buyer_is_404(self, world: World):
        assert self._statuses(world, world.buyer["headers"]) == {"scan": 404, "stats": 404}

    def test_anonymous_is_401(self, world: World):
        assert self._statuses(world, None) == {"scan": 401, "stats": 401}
        assert self._statuses(world, auth("bogus")) == {"scan": 401, "stats": 401}

    def test_a_closed_login_is_401_at_the_gate(self, world: World):
        # The scan reads the caller and the event in one query: the login must still be open.
        staff = world.member("staff")
        assert self._statuses(world, staff["headers"]) == {"scan": 200, "stats": 200}
        logout = world.client.post("/api/v1/auth/logout", headers=staff["headers"])
        assert logout.status_code == 204
        recorded = checkin_count(world)
        response = scan(
            world, payload_of(world, world.order.ticket_ids[1]), headers=staff["headers"]
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "INVALID_TOKEN"
        assert checkin_count(world) == recorded
        assert admitted_at(world.database, world.order.ticket_ids[1]) is None

    def test_platform_admin(self, world: World):
        admin = register(world.client)
        make_platform_admin(world.database, admin["user"]["id"])
        assert self._statuses(world, admin["headers"]) == {"scan": 200, "stats": 200}

    def test_unknown_event_is_404(self, world: World):
        response = scan(world, "garbage", event_id=uuid.uuid4())
        assert response.status_code == 404
        response = world.client.get(
            f"/api/v1/events/{uuid.uuid4()}/checkins/stats", headers=world.owner["headers"]
        )
        assert response.status_code == 404
