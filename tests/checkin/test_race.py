"""Exactly-once admission under real concurrency, on SQLite and PostgreSQL.

Threads use separate connections and real commits; whole requests race. The entry,
exit and re-entry races through a served app, with their negative control, are in
tests/concurrency/test_gate_races.py.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select, update

from admitone.checkin.models import CheckIn
from admitone.tickets.models import Ticket, TicketStatus
from tests.tickets.factories import World, admitted_gate, make_paid_order

pytestmark = pytest.mark.race

TICKETS = 20
GATES = 4


def payloads(world: World, ticket_ids: list[uuid.UUID]) -> list[str]:
    result = []
    for ticket_id in ticket_ids:
        response = world.client.get(f"/api/v1/tickets/{ticket_id}", headers=world.owner["headers"])
        result.append(response.json()["data"]["qr_payload"])
    return result


def many_tickets(world: World) -> tuple[list[uuid.UUID], list[str]]:
    order = make_paid_order(
        world.database, world.event, quantities={world.event.ticket_type_ids[0]: TICKETS}
    )
    return order.ticket_ids, payloads(world, order.ticket_ids)


def test_double_scan_race_over_http(world: World):
    ticket_ids, qrs = many_tickets(world)
    staff = world.member("staff")["headers"]
    url = f"/api/v1/events/{world.event.id}/checkins"

    def gate(qr: str, name: str, barrier: threading.Barrier) -> dict[str, Any]:
        barrier.wait(timeout=30)
        response = world.client.post(url, json={"qr": qr, "gate": name}, headers=staff)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    with ThreadPoolExecutor(max_workers=GATES) as pool:
        for ticket_id, qr in zip(ticket_ids, qrs, strict=True):
            barrier = threading.Barrier(GATES)
            futures = [pool.submit(gate, qr, f"gate-{n}", barrier) for n in range(GATES)]
            answers = [future.result() for future in futures]
            results = Counter(answer["result"] for answer in answers)
            assert results == {"admitted": 1, "already_admitted": GATES - 1}, ticket_id
            winner = next(a for a in answers if a["result"] == "admitted")
            assert admitted_gate(world.database, ticket_id) == winner["gate"]
            for answer in answers:
                if answer["result"] == "already_admitted":
                    assert answer["first_admission"]["gate"] == winner["gate"]

    with world.database.session(write=False) as session:
        rows = session.execute(select(CheckIn.result, func.count()).group_by(CheckIn.result)).all()
    assert dict(rows) == {"admitted": TICKETS, "already_admitted": TICKETS * (GATES - 1)}


def test_same_nonce_sent_three_times_at_once_is_one_scan(world: World):
    _ticket_ids, qrs = many_tickets(world)
    staff = world.member("staff")["headers"]
    url = f"/api/v1/events/{world.event.id}/checkins"
    for qr in qrs[:5]:
        nonce = str(uuid.uuid4())
        barrier = threading.Barrier(3)

        def send(qr: str = qr, nonce: str = nonce, barrier: threading.Barrier = barrier):
            barrier.wait(timeout=30)
            return world.client.post(url, json={"qr": qr, "nonce": nonce}, headers=staff)

        with ThreadPoolExecutor(max_workers=3) as pool:
            responses = list(pool.map(lambda _: send(), range(3)))
        # The twins wait for each other on the ticket row and the nonce's unique
        # index: one scans, the others get its stored answer.
        assert [r.status_code for r in responses] == [200, 200, 200]
        answers = [r.json()["data"] for r in responses]
        assert {a["result"] for a in answers} == {"admitted"}
        assert len({a["checkin_id"] for a in answers}) == 1
    with world.database.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(CheckIn)) == 5


def test_an_entry_waits_for_a_revocation_in_flight_then_refuses(world: World):
    """A ticket being revoked (its transaction not committed yet) is not let in: the
    entry's write re-checks the ticket under a share lock of its row, so it waits for
    the revocation and then answers ``revoked``; a first entry and a re-entry alike."""
    ticket_ids, qrs = many_tickets(world)
    staff = world.member("staff")["headers"]
    url = f"/api/v1/events/{world.event.id}/checkins"
    created = world.client.post(
        f"/api/v1/organizations/{world.org['slug']}/events/{world.event.id}/checkin-lists",
        json={"name": "Pass-out", "allow_reentry": True},
        headers=world.owner["headers"],
    )
    list_id = created.json()["data"]["id"]
    # Ticket 1 was in and went out: its next entry is a re-entry.
    for kind in ("entry", "exit"):
        answer = world.client.post(
            url, json={"qr": qrs[1], "list_id": list_id, "kind": kind}, headers=staff
        )
        assert answer.json()["data"]["accepted"] is True
    for ticket_id, qr in zip(ticket_ids[:2], qrs[:2], strict=True):
        with world.database.session() as revoking:
            revoking.execute(
                update(Ticket).where(Ticket.id == ticket_id).values(status=TicketStatus.revoked)
            )
            with ThreadPoolExecutor(max_workers=1) as pool:
                scan = pool.submit(
                    world.client.post, url, json={"qr": qr, "list_id": list_id}, headers=staff
                )
                time.sleep(0.5)
                assert not scan.done(), "the entry did not wait for the revocation"
                revoking.commit()
                response = scan.result(timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["data"]["result"] == "revoked"
