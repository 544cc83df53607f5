"""Exactly-once admission under real concurrency, on SQLite and PostgreSQL.

Threads use separate connections and real commits. The HTTP test races whole requests;
the service-level pair races the admission step itself, first with the real
conditional UPDATE (exactly one admitted), then, as a negative control, with a
read-then-write admission swapped in (every gate admits), which shows the harness
really produces the race the conditional UPDATE prevents.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from admitone.accounts.models import User
from admitone.authorization import Permission
from admitone.checkin import service
from admitone.checkin.models import CheckIn
from admitone.checkin.service import ScannedTicket, ScanOutcome
from admitone.tickets.models import Ticket
from admitone.tickets.signing import KeyRing
from tests.tickets.factories import World, make_paid_order, ticket_row

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
            assert ticket_row(world.database, ticket_id).admitted_gate == winner["gate"]
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


Claim = Callable[..., ScannedTicket | None]


def race_service(
    world: World, settings: Any, monkeypatch: pytest.MonkeyPatch, make_claim: Callable[..., Claim]
) -> list[list[ScanOutcome]]:
    """Each ticket scanned by GATES threads; ``make_claim(barrier)`` is the admission."""
    _ticket_ids, qrs = many_tickets(world)
    keys = KeyRing(settings=settings, database=world.database)
    with world.database.session(write=False) as session:
        keys.find(session, world.event.id)  # warm: no query before the admission step
        user = session.get(User, uuid.UUID(world.owner["user"]["id"]))
        access = service.resolve_event_access(
            session, event_id=world.event.id, user=user, permission=Permission.check_in
        )
    outcomes = []
    with ThreadPoolExecutor(max_workers=GATES) as pool:
        for qr in qrs:
            barrier = threading.Barrier(GATES)
            monkeypatch.setattr(service, "_claim_admission", make_claim(barrier))

            def gate(name: str, qr: str = qr) -> ScanOutcome:
                with world.database.session() as session:
                    return service.scan_ticket(session, access=access, keys=keys, qr=qr, gate=name)

            outcomes.append(list(pool.map(gate, [f"gate-{n}" for n in range(GATES)])))
    return outcomes


def test_conditional_update_admits_once_when_gates_reach_it_together(
    world: World, settings: Any, monkeypatch: pytest.MonkeyPatch
):
    real_claim = service._claim_admission

    def make_claim(barrier: threading.Barrier) -> Claim:
        def claim(session: Session, **kwargs: Any) -> ScannedTicket | None:
            barrier.wait(timeout=30)  # every gate is at the admission step at once
            return real_claim(session, **kwargs)

        return claim

    for outcomes in race_service(world, settings, monkeypatch, make_claim):
        assert Counter(o.result for o in outcomes) == {
            "admitted": 1,
            "already_admitted": GATES - 1,
        }


def test_negative_control_read_then_write_admits_twice(
    world: World, settings: Any, monkeypatch: pytest.MonkeyPatch
):
    engine = world.database.engine

    def make_claim(barrier: threading.Barrier) -> Claim:
        def racy_claim(
            session: Session,
            *,
            ticket_id: uuid.UUID,
            event_id: uuid.UUID,
            gate: str | None,
            now: datetime,
        ) -> ScannedTicket | None:
            # The bug the real code avoids: look first (here through another
            # connection, like a cache would), then write without a condition.
            with engine.connect() as connection:
                admitted_at = connection.execute(
                    select(Ticket.admitted_at).where(Ticket.id == ticket_id)
                ).scalar_one()
            barrier.wait(timeout=30)
            if admitted_at is not None:
                return None
            session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id)
                .values(admitted_at=now, admitted_gate=gate)
                .execution_options(synchronize_session=False)
            )
            return service._scanned_ticket(session, ticket_id=ticket_id, event_id=event_id)

        return racy_claim

    outcomes = race_service(world, settings, monkeypatch, make_claim)
    double_admissions = [
        group for group in outcomes if sum(o.result == "admitted" for o in group) > 1
    ]
    # Every ticket got in through more than one gate: the race is real in this harness.
    assert len(double_admissions) == TICKETS
