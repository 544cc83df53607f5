"""The relay as it runs at a site: a real upstream (`admitone serve`, on the backend under
test) and a real relay process (`admitone relay`, on its own SQLite file). Two gate
clients scan through the relay while upstream is stopped; the same ticket twice is
admitted once; upstream restarted, the relay uploads everything once."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from admitone.checkin.models import CheckIn
from tests.checkin.gate_devices import pair, qr_of
from tests.relay.conftest import paid_qrs
from tests.relay.processes import relay_process, relay_status, upstream, wait_for
from tests.serving import free_port
from tests.tickets.factories import World, presence_row

pytestmark = pytest.mark.timeout_sensitive


def test_gates_scan_through_a_relay_while_upstream_is_down_and_it_all_uploads_once(
    tmp_path: Path, world: World, database_url: str
):
    qrs = paid_qrs(world, 3)
    relay_device = pair(world, name="Relay", gate="Site")
    port = free_port()
    staff = world.member("staff")["headers"]
    with (
        upstream(tmp_path, port, database_url) as upstream_url,
        relay_process(
            tmp_path,
            upstream_url=upstream_url,
            event_id=world.event.id,
            token=relay_device["token"],
        ) as relay,
    ):
        # The two gates pair through the relay while upstream is up.
        gates = []
        for name in ("Phone A", "Phone B"):
            paired = httpx.post(
                f"{relay}/api/v1/events/{world.event.id}/devices",
                json={"name": name, "gate": name[-1]},
                headers=staff,
                timeout=10,
            )
            assert paired.status_code == 201, paired.text
            gates.append({"Authorization": f"Bearer {paired.json()['data']['token']}"})

    # Upstream is stopped (the block above ended it); the relay keeps serving.
    with relay_process(
        tmp_path, upstream_url=upstream_url, event_id=world.event.id, token=relay_device["token"]
    ) as relay:
        assert wait_for(
            lambda: relay_status(relay)["upstream"]["reachable"] is False, "a failed sync"
        )
        barrier = threading.Barrier(2)
        answers: list[dict[str, Any]] = []

        def gate(headers: dict[str, str]) -> None:
            with httpx.Client(base_url=relay, timeout=30) as http:
                http.get("/healthz")
                barrier.wait(timeout=30)
                for qr in [qrs[0], *qrs]:  # the first ticket twice from each gate
                    response = http.post(
                        f"/api/v1/events/{world.event.id}/checkins",
                        json={"qr": qr, "nonce": uuid.uuid4().hex},
                        headers=headers,
                    )
                    assert response.status_code == 200, response.text
                    answers.append(response.json()["data"])

        threads = [threading.Thread(target=gate, args=(headers,)) for headers in gates]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(answers) == 8
        by_ticket = Counter(
            (a["ticket"]["id"], a["result"]) for a in answers if a["ticket"] is not None
        )
        for qr in qrs:
            ticket_id = str(qr_ticket(qr))
            assert by_ticket[(ticket_id, "admitted")] == 1
        assert sum(1 for a in answers if a["admitted"]) == 3
        assert relay_status(relay)["queue"] == 8

        # Upstream back on the same address: the relay uploads, once.
        with upstream(tmp_path, port, database_url):
            wait_for(lambda: relay_status(relay)["queue"] == 0, "the upload")
            status = relay_status(relay)
            assert status["upstream"]["reachable"] is True and status["refused"] == []
            # The relay pulls again after pushing: nothing more goes up.
            time.sleep(1.5)
            assert relay_status(relay)["queue"] == 0

    with world.database.session(write=False) as session:
        stored = session.scalars(
            select(CheckIn).where(CheckIn.device_id == uuid.UUID(relay_device["id"]))
        ).all()
    assert len(stored) == 8 and len({s.nonce for s in stored}) == 8
    assert Counter(s.result.value for s in stored) == {"admitted": 3, "already_admitted": 5}
    assert {s.gate for s in stored} == {"A", "B"}
    assert all(s.offline and s.conflict is None for s in stored)
    for qr in qrs:
        presence = presence_row(world.database, qr_ticket(qr))
        assert presence is not None and presence.inside and presence.entries == 1
    assert qr_of(world, qr_ticket(qrs[0]))  # the tickets are still readable upstream


def qr_ticket(qr: str) -> uuid.UUID:
    from admitone.tickets.signing import parse_payload

    claims = parse_payload(qr)
    assert claims is not None
    return claims.ticket_id
