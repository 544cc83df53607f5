"""Ticket signing: the payload format, offline verification, key storage."""

from __future__ import annotations

import base64
import string
import uuid

import pytest
import segno
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import select

from admitone.tickets import signing
from admitone.tickets.errors import SigningKeyUnavailable
from admitone.tickets.models import EventSigningKey
from admitone.tickets.signing import KeyRing
from tests.helpers import auth
from tests.tickets.factories import World

B32 = string.ascii_uppercase + "234567"


def verify_offline(payload: str, public_key_b64: str) -> dict[str, uuid.UUID]:
    """An independent scanner: only docs/ticket-signing.md and the public key."""
    raw = base64.b32decode(payload + "=" * (-len(payload) % 8))
    assert raw[0] == 0x01
    Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64)).verify(raw[49:], raw[:49])
    return {
        "ticket_id": uuid.UUID(bytes=raw[1:17]),
        "event_id": uuid.UUID(bytes=raw[17:33]),
        "ticket_type_id": uuid.UUID(bytes=raw[33:49]),
    }


def ticket_json(world: World, ticket_id: uuid.UUID) -> dict:
    response = world.client.get(f"/api/v1/tickets/{ticket_id}", headers=world.buyer["headers"])
    assert response.status_code == 200, response.text
    return response.json()["data"]


def checkin_key(world: World, event_id: uuid.UUID) -> dict:
    response = world.client.get(f"/api/v1/events/{event_id}/checkin-key")
    assert response.status_code == 200, response.text
    return response.json()["data"]


class TestRoundTrip:
    def test_payload_verifies_offline_with_only_the_public_key(self, world: World):
        key = checkin_key(world, world.event.id)
        assert key["algorithm"] == "Ed25519"
        for ticket_id in world.order.ticket_ids:
            data = ticket_json(world, ticket_id)
            claims = verify_offline(data["qr_payload"], key["public_key"])
            assert claims["ticket_id"] == ticket_id
            assert claims["event_id"] == world.event.id
            assert str(claims["ticket_type_id"]) == data["ticket_type"]["id"]

    def test_pem_and_raw_key_are_the_same_key(self, world: World):
        key = checkin_key(world, world.event.id)
        pem = serialization.load_pem_public_key(key["public_key_pem"].encode())
        raw = pem.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        assert base64.b64decode(key["public_key"]) == raw
        assert len(raw) == 32

    def test_another_events_key_does_not_verify(self, world: World):
        payload = ticket_json(world, world.order.ticket_ids[0])["qr_payload"]
        other_key = checkin_key(world, world.other_event.id)
        with pytest.raises(InvalidSignature):
            verify_offline(payload, other_key["public_key"])

    def test_one_key_per_event_for_ever(self, world: World):
        first = checkin_key(world, world.event.id)
        payload = ticket_json(world, world.order.ticket_ids[0])["qr_payload"]
        signing.clear_caches()  # a fresh process reads the stored key back
        assert checkin_key(world, world.event.id) == first
        assert ticket_json(world, world.order.ticket_ids[0])["qr_payload"] == payload
        with world.database.session(write=False) as session:
            rows = session.scalars(
                select(EventSigningKey).where(EventSigningKey.event_id == world.event.id)
            ).all()
        assert len(rows) == 1

    def test_payload_is_stable(self, world: World):
        ticket_id = world.order.ticket_ids[0]
        assert (
            ticket_json(world, ticket_id)["qr_payload"]
            == ticket_json(world, ticket_id)["qr_payload"]
        )


class TestCompactness:
    def test_qr_version_at_most_10_at_level_m(self, world: World):
        payload = ticket_json(world, world.order.ticket_ids[0])["qr_payload"]
        assert len(payload) == signing.ENCODED_LENGTH == 181
        assert set(payload) <= set(B32)  # QR alphanumeric mode
        qr = segno.make(payload, error="m", micro=False)
        assert qr.mode == "alphanumeric"
        assert qr.version <= 10
        assert qr.version == 8


def _sample_claims() -> tuple[Ed25519PrivateKey, str]:
    private = Ed25519PrivateKey.generate()
    body = signing._body(ticket_id=uuid.uuid4(), event_id=uuid.uuid4(), ticket_type_id=uuid.uuid4())
    return private, signing._encode(body + private.sign(body))


class TestUntrustedInput:
    @pytest.mark.parametrize(
        "text",
        [
            "",
            " ",
            "garbage",
            "A" * 181,
            "A" * 10_000,
            "é" * 181,
            "\x00" * 181,
            "1" * 181,  # not in the base32 alphabet
            None,
            42,
            b"bytes",
            ["list"],
        ],
    )
    def test_bad_input_is_none_never_an_exception(self, text):
        assert signing.parse_payload(text) is None

    def test_good_payload_parses(self):
        private, payload = _sample_claims()
        claims = signing.parse_payload(payload)
        assert claims is not None
        assert signing.verify(private.public_key(), claims)
        # Whitespace a keyboard-wedge scanner adds is ignored.
        assert signing.parse_payload(f"  {payload}\r\n") == claims

    def test_lower_case_padding_and_truncation_refused(self):
        _private, payload = _sample_claims()
        assert signing.parse_payload(payload.lower()) is None
        assert signing.parse_payload(payload + "===") is None
        assert signing.parse_payload(payload[:-1]) is None
        assert signing.parse_payload(payload + "A") is None

    def test_non_canonical_trailing_bits_refused(self):
        # 113 bytes fill 181 characters with one spare bit: setting it spells the same
        # bytes differently; only the canonical spelling is a ticket.
        _private, payload = _sample_claims()
        last = B32.index(payload[-1])
        other = payload[:-1] + B32[last ^ 1]
        assert signing.parse_payload(other) is None

    def test_other_version_refused(self):
        private = Ed25519PrivateKey.generate()
        body = bytes([0x02]) + uuid.uuid4().bytes * 3
        assert signing.parse_payload(signing._encode(body + private.sign(body))) is None

    def test_every_single_character_change_is_refused(self):
        private, payload = _sample_claims()
        public = private.public_key()
        for index, char in enumerate(payload):
            for replacement in (B32[(B32.index(char) + 1) % 32], B32[(B32.index(char) + 17) % 32]):
                tampered = payload[:index] + replacement + payload[index + 1 :]
                claims = signing.parse_payload(tampered)
                assert claims is None or not signing.verify(public, claims), index

    def test_every_single_byte_change_is_refused(self):
        private, payload = _sample_claims()
        public = private.public_key()
        raw = base64.b32decode(payload + "===")
        for index in range(len(raw)):
            tampered = bytearray(raw)
            tampered[index] ^= 0x01
            claims = signing.parse_payload(signing._encode(bytes(tampered)))
            assert claims is None or not signing.verify(public, claims), index


class TestKeyStorage:
    def _stored(self, world: World) -> EventSigningKey:
        with world.database.session(write=False) as session:
            return session.get(EventSigningKey, world.event.id)

    def _raw_private(self, world: World, settings) -> bytes:
        ring = KeyRing(settings=settings, database=world.database)
        with world.database.session(write=False) as session:
            key = ring.find(session, world.event.id)
        blob = key.encrypted_private_key
        private = signing._decrypt_private_key(key.event_id, blob, ring._kek(blob[0], key.event_id))
        return private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )

    def test_private_key_stored_encrypted(self, world: World, settings):
        checkin_key(world, world.event.id)
        row = self._stored(world)
        raw_private = self._raw_private(world, settings)
        assert len(raw_private) == 32
        assert raw_private not in row.encrypted_private_key
        # Derived from secret_key under its own label when no ticket_key_secret is set.
        assert row.encrypted_private_key[0] == 0x02
        assert len(row.encrypted_private_key) == 1 + 12 + 32 + 16

    def test_dedicated_secret_used_when_set(self, make_app, clean_database):
        from fastapi.testclient import TestClient

        from tests.tickets.factories import build_world

        app = make_app(ticket_key_secret="a-dedicated-ticket-key-secret-of-some-length")
        with TestClient(app, raise_server_exceptions=False) as client:
            world = build_world(client, clean_database)
            payload = ticket_json(world, world.order.ticket_ids[0])["qr_payload"]
            key = checkin_key(world, world.event.id)
        verify_offline(payload, key["public_key"])
        assert self._stored(world).encrypted_private_key[0] == 0x01

    def test_wrong_secret_cannot_sign(self, world: World, make_settings, settings):
        checkin_key(world, world.event.id)
        signing.clear_caches()
        wrong = KeyRing(
            settings=make_settings(secret_key="another-secret-key-entirely-0123456789"),
            database=world.database,
        )
        with world.database.session(write=False) as session:
            key = wrong.find(session, world.event.id)
        with pytest.raises(SigningKeyUnavailable):
            wrong.sign_ticket(key, ticket_id=uuid.uuid4(), ticket_type_id=uuid.uuid4())
        # The right secret still signs: nothing was changed by the failed attempt.
        right = KeyRing(settings=settings, database=world.database)
        assert right.sign_ticket(key, ticket_id=uuid.uuid4(), ticket_type_id=uuid.uuid4())

    def test_ciphertext_bound_to_its_event(self, world: World, settings):
        checkin_key(world, world.event.id)
        blob = self._stored(world).encrypted_private_key
        ring = KeyRing(settings=settings, database=world.database)
        with pytest.raises(SigningKeyUnavailable):
            signing._decrypt_private_key(
                world.other_event.id, blob, ring._kek(blob[0], world.event.id)
            )

    def test_setting_ticket_key_secret_later_keeps_old_keys(self, world: World, make_settings):
        payload = ticket_json(world, world.order.ticket_ids[0])["qr_payload"]
        signing.clear_caches()
        later = KeyRing(
            settings=make_settings(ticket_key_secret="introduced-after-the-first-sale-0123"),
            database=world.database,
        )
        with world.database.session(write=False) as session:
            key = later.find(session, world.event.id)
        claims = signing.parse_payload(payload)
        assert (
            later.sign_ticket(key, ticket_id=claims.ticket_id, ticket_type_id=claims.ticket_type_id)
            == payload
        )

    def test_private_key_never_in_any_response(self, world: World, settings):
        client = world.client
        ticket_id = world.order.ticket_ids[0]
        bodies = [
            client.get(f"/api/v1/events/{world.event.id}/checkin-key").content,
            client.get(f"/api/v1/tickets/{ticket_id}", headers=world.buyer["headers"]).content,
            client.get("/api/v1/me/tickets", headers=world.buyer["headers"]).content,
            client.get(
                f"/api/v1/tickets/{ticket_id}/qr.svg", headers=world.buyer["headers"]
            ).content,
            client.get(
                f"/api/v1/tickets/{ticket_id}/qr.png", headers=world.buyer["headers"]
            ).content,
            client.get(f"/api/v1/tickets/{ticket_id}", headers=world.owner["headers"]).content,
            client.post(
                f"/api/v1/events/{world.event.id}/checkins",
                json={"qr": ticket_json(world, ticket_id)["qr_payload"]},
                headers=world.owner["headers"],
            ).content,
            client.get(
                f"/api/v1/events/{world.event.id}/checkins/stats", headers=world.owner["headers"]
            ).content,
            client.get("/openapi.json").content,
        ]
        raw = self._raw_private(world, settings)
        blob = self._stored(world).encrypted_private_key
        forms = [
            raw,
            raw.hex().encode(),
            raw.hex().upper().encode(),
            base64.b64encode(raw),
            base64.urlsafe_b64encode(raw).rstrip(b"="),
            base64.b32encode(raw).rstrip(b"="),
            base64.b64encode(blob),
            blob.hex().encode(),
        ]
        private = Ed25519PrivateKey.from_private_bytes(raw)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        forms.append(b"PRIVATE KEY")
        forms.append(pem.splitlines()[1])
        for body in bodies:
            assert body
            for form in forms:
                assert form not in body


def test_checkin_key_fields(world: World):
    key = checkin_key(world, world.event.id)
    assert key["event_id"] == str(world.event.id)
    assert key["payload_format"] == "admitone-ticket-v1"
    assert key["payload_length"] == 181
    assert len(key["key_id"]) == 16
    assert key["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert set(key) == {
        "event_id",
        "algorithm",
        "key_id",
        "public_key",
        "public_key_pem",
        "payload_format",
        "payload_length",
        "created_at",
    }


def test_checkin_key_of_a_draft_event_only_for_its_team(world: World):
    from admitone.events.models import EventStatus
    from tests.tickets.factories import make_event

    draft = make_event(world.database, organization_id=world.org["id"], status=EventStatus.draft)
    url = f"/api/v1/events/{draft.id}/checkin-key"
    assert world.client.get(url).status_code == 404
    assert world.client.get(url, headers=world.buyer["headers"]).status_code == 404
    assert world.client.get(url, headers=world.other_owner["headers"]).status_code == 404
    assert world.client.get(url, headers=world.member("cashier")["headers"]).status_code == 404
    response = world.client.get(url, headers=world.member("staff")["headers"])
    assert response.status_code == 200
    assert response.json()["data"]["event_id"] == str(draft.id)
    assert world.client.get(url, headers=world.owner["headers"]).status_code == 200


def test_checkin_key_unknown_event(world: World):
    assert world.client.get(f"/api/v1/events/{uuid.uuid4()}/checkin-key").status_code == 404
    response = world.client.get("/api/v1/events/not-a-uuid/checkin-key")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_bad_bearer_token_on_public_key_route(world: World):
    response = world.client.get(
        f"/api/v1/events/{world.event.id}/checkin-key", headers=auth("not-a-token")
    )
    assert response.status_code == 401
