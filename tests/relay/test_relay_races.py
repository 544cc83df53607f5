"""Gates racing through one relay: each scan a real HTTP request to the relay's app,
released together from their own connections, each in its own committed SQLite
transaction (docs/gates.md, "Site relay"). One entry wins per ticket and list, one exit,
one re-entry; the relay's presences agree with its recorded scans, and upstream, once
the relay has uploaded, agrees too (one entry, no conflict).

The negative control is the same crowd through a relay without its write lock
(``unsafe.UnlockedRelayStore``): tickets are let in more than once.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from admitone.checkin.models import CheckIn
from admitone.relay.models import RelayPresence, RelayScan
from admitone.relay.store import RelayStore
from tests.concurrency.conftest import run_at_once
from tests.relay.conftest import Relay, paid_qrs
from tests.relay.unsafe import UnlockedRelayStore
from tests.tickets.factories import World, presence_row

pytestmark = pytest.mark.race

GATES = 8
TICKETS = 5


def _scan(relay: Relay, world: World, qr: str, **fields: Any) -> Any:
    def work(http: httpx.Client, index: int) -> dict[str, Any]:
        return relay.scan(http, world.event.id, qr, gate=f"g{index}", **fields)

    return work


def _assert_presences_match_scans(store: RelayStore) -> None:
    with store.database.session(write=False) as session:
        scans = Counter(
            (row.list_id, row.ticket_id, row.result)
            for row in session.execute(
                select(RelayScan.list_id, RelayScan.ticket_id, RelayScan.result)
            )
        )
        presences = session.scalars(select(RelayPresence)).all()
    assert presences
    for presence in presences:
        key = (presence.list_id, presence.ticket_id)
        assert presence.entries == scans[(*key, "admitted")]
        assert presence.exits == scans[(*key, "exited")]
        assert presence.inside == (presence.entries - presence.exits == 1)


def test_gates_at_once_through_a_relay_admit_each_ticket_once(make_relay, world: World):
    qrs = paid_qrs(world, TICKETS)
    created = world.client.post(
        f"/api/v1/organizations/{world.org['slug']}/events/{world.event.id}/checkin-lists",
        json={"name": "Pass-out", "allow_reentry": True},
        headers=world.owner["headers"],
    )
    pass_out = created.json()["data"]["id"]
    with make_relay() as relay:
        for qr in qrs:
            answers = run_at_once(relay.url, GATES, _scan(relay, world, qr))
            assert Counter(a["result"] for a in answers) == {
                "admitted": 1,
                "already_admitted": GATES - 1,
            }
        # On a list with re-entry: in, then eight exits at once, then eight entries.
        qr = qrs[0]
        assert (
            run_at_once(relay.url, 1, _scan(relay, world, qr, list_id=pass_out))[0]["result"]
            == "admitted"
        )
        exits = run_at_once(
            relay.url, GATES, _scan(relay, world, qr, list_id=pass_out, kind="exit")
        )
        assert Counter(a["result"] for a in exits) == {"exited": 1, "not_inside": GATES - 1}
        entries = run_at_once(relay.url, GATES, _scan(relay, world, qr, list_id=pass_out))
        assert Counter(a["result"] for a in entries) == {
            "admitted": 1,
            "already_admitted": GATES - 1,
        }
        _assert_presences_match_scans(relay.store)
        assert relay.syncer.push() == TICKETS * GATES + 1 + 2 * GATES
    with world.database.session(write=False) as session:
        conflicts = session.scalar(
            select(func.count()).select_from(CheckIn).where(CheckIn.conflict.is_not(None))
        )
    assert conflicts == 0
    for ticket_id in [t for t in _ticket_ids(qrs)]:
        presence = presence_row(world.database, ticket_id)
        assert presence is not None and presence.entries == 1


def _ticket_ids(qrs: list[str]) -> list[Any]:
    from admitone.tickets.signing import parse_payload

    return [claims.ticket_id for qr in qrs if (claims := parse_payload(qr)) is not None]


def test_negative_control_without_the_write_lock_tickets_enter_twice(make_relay, world: World):
    qrs = paid_qrs(world, TICKETS)
    with make_relay(store_class=UnlockedRelayStore) as relay:
        admitted = []
        for qr in qrs:
            answers = run_at_once(relay.url, GATES, _scan(relay, world, qr))
            admitted.append(sum(1 for a in answers if a["result"] == "admitted"))
    # Every gate read "not inside" before any wrote: far more than one entry per ticket.
    assert sum(admitted) > TICKETS, admitted
    assert max(admitted) > 1
