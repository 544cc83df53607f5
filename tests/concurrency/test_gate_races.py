"""Gates racing through a real server: entries, exits and re-entries on check-in lists.

Each ticket is scanned by GATES clients released together, each on its own connection
and its own committed transaction (docs/gates.md, "exactly once"). On any list a ticket
is admitted once per stay: one entry wins, one exit wins, one re-entry wins; two lists
are independent. The presences always agree with the scans recorded.

The negative control swaps the guarded presence write for a blind one (look, pause,
write whatever the state; on SQLite also without ``BEGIN IMMEDIATE``): the same crowd
then admits tickets more than once, or collides.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from admitone.app import create_app
from admitone.checkin import service as checkin
from admitone.checkin.models import CheckIn, CheckinPresence, ScanResult
from admitone.db import Database
from tests.concurrency.conftest import SERVER_SETTINGS, DeferredWritesDatabase, run_at_once, serve
from tests.concurrency.unsafe import BlindPresenceWrite
from tests.tickets.factories import World, build_world, make_paid_order

pytestmark = pytest.mark.race

GATES = 8
TICKETS = 6


def _gate_world(client: TestClient, database: Database) -> tuple[World, list[str]]:
    world = build_world(client, database)
    order = make_paid_order(
        database, world.event, quantities={world.event.ticket_type_ids[0]: TICKETS}
    )
    qrs = []
    for ticket_id in order.ticket_ids:
        response = client.get(f"/api/v1/tickets/{ticket_id}", headers=world.owner["headers"])
        qrs.append(response.json()["data"]["qr_payload"])
    # The event was made without publishing: its default list comes with a first scan.
    made = client.post(
        f"/api/v1/events/{world.event.id}/checkins",
        json={"qr": "not a ticket"},
        headers=world.member("staff")["headers"],
    )
    assert made.json()["data"]["result"] == "invalid_signature"
    return world, qrs


def _scan(
    http: httpx.Client,
    world: World,
    qr: str,
    *,
    kind: str = "entry",
    list_id: str | None = None,
    gate: str = "gate",
) -> dict[str, Any]:
    body: dict[str, Any] = {"qr": qr, "kind": kind, "gate": gate, "nonce": str(uuid.uuid4())}
    if list_id is not None:
        body["list_id"] = list_id
    response = http.post(
        f"/api/v1/events/{world.event.id}/checkins",
        json=body,
        headers=world.member("staff")["headers"],
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _reentry_list(world: World) -> str:
    response = world.client.post(
        f"/api/v1/organizations/{world.org['slug']}/events/{world.event.id}/checkin-lists",
        json={"name": "Pass-out", "allow_reentry": True},
        headers=world.owner["headers"],
    )
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


def _assert_presences_match_scans(database: Database) -> None:
    """Every presence says what its list's successful scans say."""
    with database.session(write=False) as session:
        scans = Counter(
            (row.list_id, row.ticket_id, row.result)
            for row in session.execute(
                select(CheckIn.list_id, CheckIn.ticket_id, CheckIn.result).where(
                    CheckIn.result.in_([ScanResult.admitted, ScanResult.exited])
                )
            )
        )
        presences = session.scalars(select(CheckinPresence)).all()
    assert presences
    for presence in presences:
        key = (presence.list_id, presence.ticket_id)
        assert presence.entries == scans[(*key, ScanResult.admitted)]
        assert presence.exits == scans[(*key, ScanResult.exited)]
        assert presence.inside == (presence.entries - presence.exits == 1)


def test_gates_at_once_admit_each_ticket_once_per_list(
    live_server: str, client: TestClient, clean_database: Database
):
    world, qrs = _gate_world(client, clean_database)
    second_list = _reentry_list(world)
    world.member("staff")
    for qr in qrs:
        # Half the gates on the default list, half on another: one entry wins on each.
        answers = run_at_once(
            live_server,
            GATES,
            lambda http, index, qr=qr: _scan(
                http, world, qr, list_id=None if index % 2 else second_list, gate=f"g{index}"
            ),
        )
        by_list = Counter((answer["list_id"], answer["result"]) for answer in answers)
        default_list = next(a["list_id"] for a in answers if a["list_id"] != second_list)
        assert by_list == {
            (default_list, "admitted"): 1,
            (default_list, "already_admitted"): GATES // 2 - 1,
            (second_list, "admitted"): 1,
            (second_list, "already_admitted"): GATES // 2 - 1,
        }
    _assert_presences_match_scans(clean_database)


def test_exits_and_reentries_at_once_win_once_each(
    live_server: str, client: TestClient, clean_database: Database
):
    world, qrs = _gate_world(client, clean_database)
    list_id = _reentry_list(world)
    with httpx.Client(base_url=live_server, timeout=60) as http:
        for qr in qrs:
            assert _scan(http, world, qr, list_id=list_id)["result"] == "admitted"
    for qr in qrs:
        exits = run_at_once(
            live_server,
            GATES,
            lambda http, _index, qr=qr: _scan(http, world, qr, kind="exit", list_id=list_id),
        )
        assert Counter(a["result"] for a in exits) == {"exited": 1, "not_inside": GATES - 1}
        entries = run_at_once(
            live_server,
            GATES,
            lambda http, _index, qr=qr: _scan(http, world, qr, list_id=list_id),
        )
        assert Counter(a["result"] for a in entries) == {
            "admitted": 1,
            "already_admitted": GATES - 1,
        }
        # Exits and entries mixed, from inside: the winners alternate as in some serial
        # order (exit, entry, exit...), never two of a kind in a row.
        mixed = run_at_once(
            live_server,
            GATES,
            lambda http, index, qr=qr: _scan(
                http, world, qr, kind="exit" if index % 2 else "entry", list_id=list_id
            ),
        )
        results = Counter(a["result"] for a in mixed)
        assert results["exited"] - results["admitted"] in (0, 1), results
        assert results["exited"] >= 1, results
    _assert_presences_match_scans(clean_database)


@pytest.fixture
def blind_server(
    make_settings: Any,
    clean_database: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    """The app with the guarded presence write swapped for a blind one (and, on SQLite,
    without ``BEGIN IMMEDIATE``), served in a thread of this process."""
    database = clean_database
    deferred = None
    if clean_database.is_sqlite:
        deferred = database = DeferredWritesDatabase(database_url, pool_size=20)
    blind = BlindPresenceWrite(clean_database, window_seconds=0.05)
    monkeypatch.setattr(checkin, "_write_presence", blind.write_presence)
    try:
        with serve(create_app(make_settings(**SERVER_SETTINGS), database=database)) as url:
            yield url
    finally:
        if deferred is not None:
            deferred.dispose()


def test_negative_control_a_blind_write_lets_gates_in_twice(
    blind_server: str, client: TestClient, clean_database: Database
):
    """If this fails, the tests above prove nothing: the harness would not be racing."""
    world, qrs = _gate_world(client, clean_database)
    world.member("staff")
    twice = 0
    collisions = 0
    for qr in qrs:

        def gate(http: httpx.Client, index: int, qr: str = qr) -> int | str:
            response = http.post(
                f"/api/v1/events/{world.event.id}/checkins",
                json={"qr": qr, "gate": f"g{index}"},
                headers=world.member("staff")["headers"],
            )
            if response.status_code != 200:
                return response.status_code
            return str(response.json()["data"]["result"])

        answers = Counter(run_at_once(blind_server, GATES, gate))
        assert set(answers) <= {"admitted", "already_admitted", 503, 409}, answers
        twice += answers["admitted"] > 1
        collisions += answers[503] + answers[409]
    with clean_database.session(write=False) as session:
        entries = session.scalar(select(func.coalesce(func.max(CheckinPresence.entries), 0)))
    if clean_database.is_sqlite:
        # Without the guard and the up-front lock, overlapping writers collide (503 BUSY,
        # SQLite's snapshot check) or let the ticket in twice.
        assert twice or collisions, (twice, collisions)
    else:
        # PostgreSQL: every gate saw the ticket out at the same moment and let it in.
        assert twice == len(qrs), twice
        assert entries > 1
