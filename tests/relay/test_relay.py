"""The site relay over a real upstream app (docs/gates.md, "Site relay"): it pulls the
bundle, decides scans alone with upstream's rules, serves the gates' API, queues every
scan and uploads it exactly once as its device's offline facts."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from admitone.checkin.models import CheckIn
from admitone.db import Database, utcnow
from admitone.relay.models import RelayScan
from tests.checkin.gate_devices import default_list_id, offline_scan, qr_of
from tests.relay.conftest import down_upstream, paid_qrs
from tests.tickets.factories import World, make_paid_order, presence_row, refund_order

pytestmark = pytest.mark.usefixtures("clean_database")


def _upstream_scans(database: Database, device_id: str) -> list[CheckIn]:
    with database.session(write=False) as session:
        return list(
            session.scalars(select(CheckIn).where(CheckIn.device_id == uuid.UUID(device_id))).all()
        )


def test_a_relay_admits_once_and_uploads_its_scans_as_offline_facts(make_relay, world: World):
    qr = qr_of(world, world.order.ticket_ids[0])
    with make_relay() as relay, httpx.Client() as http:
        first = relay.scan(http, world.event.id, qr, gate="East 1")
        again = relay.scan(http, world.event.id, qr, gate="East 2")
        assert (first["result"], first["admitted"]) == ("admitted", True)
        assert first["ticket"]["holder_name"] and first["presence"]["inside"] is True
        assert again["result"] == "already_admitted"
        assert again["first_admission"]["gate"] == "East 1"
        assert relay.store.status()["queue"] == 2
        assert relay.syncer.push() == 2
        assert relay.store.status()["queue"] == 0
        assert relay.syncer.push() == 0
    stored = _upstream_scans(world.database, relay.device["id"])
    assert sorted((s.result.value, s.gate, s.offline) for s in stored) == [
        ("admitted", "East 1", True),
        ("already_admitted", "East 2", True),
    ]
    presence = presence_row(world.database, world.order.ticket_ids[0])
    assert presence is not None and presence.inside and presence.entries == 1


def test_a_ticket_admitted_upstream_before_the_pull_is_refused_at_the_relay(
    make_relay, world: World
):
    qr = qr_of(world, world.order.ticket_ids[0])
    entered = world.client.post(
        f"/api/v1/events/{world.event.id}/checkins",
        json={"qr": qr, "gate": "Main"},
        headers=world.member("staff")["headers"],
    )
    assert entered.json()["data"]["result"] == "admitted"
    with make_relay() as relay, httpx.Client() as http:
        answer = relay.scan(http, world.event.id, qr)
        assert answer["result"] == "already_admitted"
        # The bundle's presences carry when, not where (no gate): the relay says when.
        assert answer["first_admission"]["at"] is not None
        # An exit upstream, pulled: the relay knows they are out (and, with no re-entry
        # on the default list, may not come back).
        left = world.client.post(
            f"/api/v1/events/{world.event.id}/checkins",
            json={"qr": qr, "gate": "Main", "kind": "exit"},
            headers=world.member("staff")["headers"],
        )
        assert left.json()["data"]["result"] == "exited"
        assert relay.syncer.sync_once()
        assert relay.scan(http, world.event.id, qr, kind="exit")["result"] == "not_inside"
        assert relay.scan(http, world.event.id, qr)["result"] == "already_admitted"


def test_a_ticket_refunded_upstream_is_refused_at_the_relay(make_relay, world: World):
    refunded_first = make_paid_order(world.database, world.event)
    qr = qr_of(world, refunded_first.ticket_ids[0])  # the holder kept it
    refund_order(world.database, refunded_first.id)  # before the relay's first pull
    refunded_later = world.order
    kept = paid_qrs(world, 1)[0]
    with make_relay() as relay, httpx.Client() as http:
        assert relay.scan(http, world.event.id, qr)["result"] == "revoked"
        assert relay.scan(http, world.event.id, kept)["result"] == "admitted"
        # Refunded after the first pull: the next pull brings it.
        later_qr = qr_of(world, refunded_later.ticket_ids[0])
        refund_order(world.database, refunded_later.id)
        assert relay.syncer.sync_once()
        assert relay.scan(http, world.event.id, later_qr)["result"] == "revoked"
        # A refund the relay has not pulled yet cannot be known offline: that entry is
        # uploaded as a fact and upstream reports it (conflict "revoked").
        unpulled = make_paid_order(world.database, world.event)
        unpulled_qr = qr_of(world, unpulled.ticket_ids[0])
        relay.syncer.http = down_upstream()
        refund_order(world.database, unpulled.id)
        assert relay.scan(http, world.event.id, unpulled_qr)["result"] == "admitted"
        relay.syncer.http = world.client
        relay.syncer.push()
    stored = {s.ticket_id: s for s in _upstream_scans(world.database, relay.device["id"])}
    conflict = stored[unpulled.ticket_ids[0]].conflict
    assert conflict is not None and conflict.value == "revoked"


def test_forged_and_foreign_codes_are_refused(make_relay, world: World):
    qr = qr_of(world, world.order.ticket_ids[0])
    # One character of the signature changed: still well-formed, no longer genuine.
    forged = qr[:-5] + ("A" if qr[-5] != "A" else "B") + qr[-4:]
    other = make_paid_order(world.database, world.other_event)
    foreign = world.client.get(
        f"/api/v1/tickets/{other.ticket_ids[0]}", headers=world.other_owner["headers"]
    ).json()["data"]["qr_payload"]
    with make_relay() as relay, httpx.Client() as http:
        assert relay.scan(http, world.event.id, forged)["result"] == "invalid_signature"
        assert relay.scan(http, world.event.id, "hello")["result"] == "invalid_signature"
        # The relay holds only its event's key: another event's ticket is not genuine here.
        assert relay.scan(http, world.event.id, foreign)["result"] == "invalid_signature"
        unknown_code = uuid.uuid4().hex
        assert relay.scan(http, world.event.id, unknown_code)["result"] == "not_found"
        # The typed code of a known ticket is found as upstream finds it.
        typed = relay.scan(http, world.event.id, world.order.ticket_ids[1].hex)
        assert typed["result"] == "admitted"
        assert relay.scan(http, world.event.id, qr)["result"] == "admitted"
        assert relay.store.status()["queue"] == 6
        relay.syncer.push()
        status = relay.store.status()
    results = Counter(s.result.value for s in _upstream_scans(world.database, relay.device["id"]))
    # Upstream cannot store a typed code naming no ticket today (its scan row's ticket id
    # has a foreign key: 409 for the whole batch). The relay isolates that one scan and
    # keeps it as refused, so the others still upload; once upstream stores such a scan
    # as not_found, it is stored like the others.
    assert status["queue"] == 0
    if status["refused"]:
        assert results == {"invalid_signature": 3, "admitted": 2}
        assert [item["error"]["code"] for item in status["refused"]] == ["CONFLICT"]
    else:
        assert results == {"invalid_signature": 3, "not_found": 1, "admitted": 2}
    # The forged code admitted no one: the only entries are the two genuine ones.
    assert presence_row(world.database, world.order.ticket_ids[2]) is None


def test_devices_pair_through_the_relay_and_scan_while_upstream_is_down(make_relay, world: World):
    staff = world.member("staff")["headers"]
    qr = qr_of(world, world.order.ticket_ids[0])
    with make_relay() as relay, httpx.Client() as http:
        paired = http.post(
            f"{relay.url}/api/v1/events/{world.event.id}/devices",
            json={"name": "Phone 7", "gate": "East 3"},
            headers=staff,
        )
        assert paired.status_code == 201, paired.text
        gate = {"Authorization": f"Bearer {paired.json()['data']['token']}"}
        # Upstream refuses what it refuses; the relay passes its answer on.
        refused = http.post(
            f"{relay.url}/api/v1/events/{world.event.id}/devices",
            json={"name": "Phone 8", "gate": "East 3"},
            headers=world.buyer["headers"],
        )
        assert refused.status_code in (403, 404)
        assert "error" in refused.json()
        # Unknown tokens and no token: 401, as upstream.
        for headers in ({"Authorization": "Bearer aod_not-a-device"}, {}):
            response = http.post(
                f"{relay.url}/api/v1/events/{world.event.id}/checkins",
                json={"qr": qr},
                headers=headers,
            )
            assert response.status_code == 401, response.text
            assert response.json()["error"]["code"] in ("DEVICE_TOKEN_INVALID", "NOT_AUTHENTICATED")
        answer = relay.scan(http, world.event.id, qr, headers=gate)
        assert (answer["result"], answer["gate"]) == ("admitted", "East 3")
        # A device the organizer revokes upstream stops at the relay at its next pull.
        other = http.post(
            f"{relay.url}/api/v1/events/{world.event.id}/devices",
            json={"name": "Phone 9", "gate": "East 4"},
            headers=staff,
        ).json()["data"]
        other_gate = {"Authorization": f"Bearer {other['token']}"}
        assert relay.scan(http, world.event.id, "junk", headers=other_gate)["result"] == (
            "invalid_signature"
        )
        revoked = world.client.delete(
            f"/api/v1/organizations/{world.org['slug']}/events/{world.event.id}"
            f"/devices/{other['id']}",
            headers=world.owner["headers"],
        )
        assert revoked.status_code == 204
        assert relay.syncer.sync_once(), relay.syncer.link.last_error
        refused = http.post(
            f"{relay.url}/api/v1/events/{world.event.id}/checkins",
            json={"qr": "junk"},
            headers=other_gate,
        )
        assert refused.status_code == 401
        assert relay.scan(http, world.event.id, "junk", headers=gate)["result"] == (
            "invalid_signature"
        )
    # The same relay file served again with upstream gone: the paired device still scans,
    # and pairing says upstream is out of reach.
    with (
        make_relay(
            device=relay.device, upstream=down_upstream(), path=_path(relay), pull=False
        ) as offline,
        httpx.Client() as http,
    ):
        again = offline.scan(http, world.event.id, qr, headers=gate)
        assert again["result"] == "already_admitted"
        paired = http.post(
            f"{offline.url}/api/v1/events/{world.event.id}/devices",
            json={"name": "Phone 9", "gate": "East 3"},
            headers=staff,
        )
        assert paired.status_code == 503
        assert paired.json()["error"]["code"] == "UPSTREAM_UNAVAILABLE"
        assert offline.syncer.sync_once() is False
        assert offline.store.status()["queue"] == 2


def _path(relay: Any) -> Any:
    return relay.store.database.engine.url.database


def test_anything_else_is_a_clear_404_and_bad_input_a_422(make_relay, world: World):
    with make_relay() as relay, httpx.Client() as http:
        for method, path in (
            ("GET", "/api/v1/events"),
            # Of upstream's logins only what a browser pairs with is forwarded
            # (tests/relay/test_relay_login.py): no refresh, no account, no register.
            ("POST", "/api/v1/auth/refresh"),
            ("POST", "/api/v1/auth/register"),
            ("GET", "/api/v1/me"),
            ("DELETE", f"/api/v1/organizations/x/events/{world.event.id}/devices/y"),
            # The scanner's pages and files, and no other (tests/relay/test_relay_scanner.py).
            ("GET", "/organizer"),
            ("GET", "/login"),
            ("POST", "/scan/token"),
            ("GET", f"/scan/{world.other_event.id}"),
            ("GET", f"/scan/{world.event.id}/extra"),
        ):
            response = http.request(method, f"{relay.url}{path}", headers=relay.headers)
            assert response.status_code == 404, (path, response.text)
            assert response.json()["error"]["code"] == "NOT_RELAYED"
        response = http.post(
            f"{relay.url}/api/v1/events/{world.event.id}/checkins",
            json={"qr": "x", "kind": "sideways"},
            headers=relay.headers,
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        too_large = http.post(
            f"{relay.url}/api/v1/scan/batches",
            content=b'{"scans": "' + b"x" * (2 * 1024 * 1024) + b'"}',
            headers={**relay.headers, "content-type": "application/json"},
        )
        assert too_large.status_code == 413
        assert too_large.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        response = http.post(
            f"{relay.url}/api/v1/events/{uuid.uuid4()}/checkins",
            json={"qr": "x"},
            headers=relay.headers,
        )
        assert response.status_code == 404
        response = http.post(
            f"{relay.url}/api/v1/events/{world.event.id}/checkins",
            json={"qr": "x", "list_id": str(uuid.uuid4())},
            headers=relay.headers,
        )
        assert response.json()["error"]["code"] == "CHECKIN_LIST_NOT_FOUND"
        nonce = uuid.uuid4().hex
        qr = qr_of(world, world.order.ticket_ids[0])
        one = http.post(
            f"{relay.url}/api/v1/events/{world.event.id}/checkins",
            json={"qr": qr, "nonce": nonce},
            headers=relay.headers,
        ).json()["data"]
        retried = http.post(
            f"{relay.url}/api/v1/events/{world.event.id}/checkins",
            json={"qr": qr, "nonce": nonce},
            headers=relay.headers,
        ).json()["data"]
        assert (one["result"], retried["result"], retried["replayed"]) == (
            "admitted",
            "admitted",
            True,
        )
        assert retried["checkin_id"] == one["checkin_id"]
        reused = http.post(
            f"{relay.url}/api/v1/events/{world.event.id}/checkins",
            json={"qr": "other text", "nonce": nonce},
            headers=relay.headers,
        )
        assert reused.status_code == 409
        assert reused.json()["error"]["code"] == "NONCE_REUSED"


def test_a_restarted_relay_uploads_its_queue_once(make_relay, world: World, tmp_path):
    qrs = paid_qrs(world, 4)
    path = tmp_path / "restart.db"
    with make_relay(path=path) as relay, httpx.Client() as http:
        device = relay.device
        relay.syncer.http = down_upstream()  # the link goes down
        for qr in qrs:
            assert relay.scan(http, world.event.id, qr)["result"] == "admitted"
        assert relay.scan(http, world.event.id, qrs[0])["result"] == "already_admitted"
        assert relay.syncer.sync_once() is False
    # Restarted (a new store on the same file), the link back.
    with make_relay(device=device, path=path, pull=False) as relay:
        assert relay.store.status()["queue"] == 5
        assert relay.syncer.sync_once()
        assert relay.store.status()["queue"] == 0
        # An upload whose answer was lost: sent again, stored once.
        with relay.store.database.session() as session:
            session.execute(update(RelayScan).values(upload_status=None))
        assert relay.syncer.push() == 5
        assert relay.store.status()["queue"] == 0
    stored = _upstream_scans(world.database, device["id"])
    assert Counter(s.result.value for s in stored) == {"admitted": 4, "already_admitted": 1}
    assert len({s.nonce for s in stored}) == 5


def test_two_relays_of_one_event_report_their_duplicate_upstream(make_relay, world: World):
    qr = qr_of(world, world.order.ticket_ids[0])
    with (
        make_relay() as north,
        make_relay(device=None) as south,
        httpx.Client() as http,
    ):
        # Both pulled before either scanned: like two offline devices toward each other.
        assert north.scan(http, world.event.id, qr, gate="North")["result"] == "admitted"
        assert south.scan(http, world.event.id, qr, gate="South")["result"] == "admitted"
        north.syncer.push()
        south.syncer.push()
        # After the next pull, each relay knows the other's entry.
        assert north.syncer.sync_once() and south.syncer.sync_once()
        assert south.store.status()["conflicts"]
        assert north.scan(http, world.event.id, qr)["result"] == "already_admitted"
    report = world.client.get(
        f"/api/v1/organizations/{world.org['slug']}/events/{world.event.id}/checkin-conflicts",
        headers=world.owner["headers"],
    )
    assert report.status_code == 200, report.text
    conflicts = report.json()["data"]
    assert len(conflicts) == 1
    assert conflicts[0]["reason"] == "already_admitted"
    assert {conflicts[0]["scan"]["gate"], conflicts[0]["other"]["gate"]} == {"North", "South"}
    presence = presence_row(world.database, world.order.ticket_ids[0])
    assert presence is not None and presence.entries == 1


def test_a_refused_upload_is_kept_and_shown(make_relay, world: World):
    created = world.client.post(
        f"/api/v1/organizations/{world.org['slug']}/events/{world.event.id}/checkin-lists",
        json={"name": "Backstage"},
        headers=world.owner["headers"],
    )
    list_id = created.json()["data"]["id"]
    qr = qr_of(world, world.order.ticket_ids[0])
    with make_relay() as relay, httpx.Client() as http:
        assert relay.scan(http, world.event.id, qr, list_id=list_id)["result"] == "admitted"
        deleted = world.client.delete(
            f"/api/v1/organizations/{world.org['slug']}/events/{world.event.id}"
            f"/checkin-lists/{list_id}",
            headers=world.owner["headers"],
        )
        assert deleted.status_code == 204
        relay.syncer.push()
        status = http.get(f"{relay.url}/relay/status").json()["data"]
        assert status["queue"] == 0
        assert [item["error"]["code"] for item in status["refused"]] == ["CHECKIN_LIST_NOT_FOUND"]
        assert relay.syncer.push() == 0  # not sent again


def test_gates_sync_from_the_relay_and_upload_offline_batches_to_it(make_relay, world: World):
    staff = world.member("staff")["headers"]
    qr_a, qr_b, qr_c = (qr_of(world, t) for t in world.order.ticket_ids)
    list_id = default_list_id(world)
    with make_relay() as relay, httpx.Client() as http:
        paired = http.post(
            f"{relay.url}/api/v1/events/{world.event.id}/devices",
            json={"name": "Phone", "gate": "West"},
            headers=staff,
        ).json()["data"]
        gate = {"Authorization": f"Bearer {paired['token']}"}
        first = http.get(f"{relay.url}/api/v1/scan/bundle", headers=gate).json()["data"]
        assert first["complete"] and first["full"]
        assert first["device"]["gate"] == "West"
        assert {t[0] for t in first["tickets"]} >= {str(t) for t in world.order.ticket_ids}
        assert first["presences"] == []
        assert relay.scan(http, world.event.id, qr_a)["result"] == "admitted"
        later = http.get(
            f"{relay.url}/api/v1/scan/bundle", params={"cursor": first["cursor"]}, headers=gate
        ).json()["data"]
        assert later["tickets"] == []
        assert [(p[1], p[2]) for p in later["presences"]] == [
            (str(world.order.ticket_ids[0]), True)
        ]
        # The gate was offline from the relay meanwhile: its batch, twice.
        scans = [
            offline_scan(qr_a, list_id),  # the relay admitted it: a conflict
            offline_scan(qr_b, list_id),
            offline_scan(qr_c, list_id, result="revoked"),  # refused by the gate: an attempt
        ]
        body = {"device_time": utcnow().isoformat(), "scans": scans}
        answer = http.post(f"{relay.url}/api/v1/scan/batches", json=body, headers=gate)
        assert answer.status_code == 200, answer.text
        statuses = [r["status"] for r in answer.json()["data"]["results"]]
        assert statuses == ["conflict", "stored", "stored"]
        conflict = answer.json()["data"]["results"][0]["conflict"]
        assert conflict["reason"] == "already_admitted" and conflict["other"]["gate"] == "Site"
        again = http.post(f"{relay.url}/api/v1/scan/batches", json=body, headers=gate).json()
        assert [r["status"] for r in again["data"]["results"]] == ["already_stored"] * 3
        assert relay.scan(http, world.event.id, qr_b)["result"] == "already_admitted"
        assert relay.syncer.push() == 5
    stored = _upstream_scans(world.database, relay.device["id"])
    assert sorted((s.result.value, s.gate) for s in stored) == [
        ("admitted", "Site"),
        ("admitted", "West"),
        ("admitted", "West"),
        ("already_admitted", "Site"),
        ("revoked", "West"),
    ]
    assert sum(1 for s in stored if s.conflict is not None) == 1
