"""The offline upload's two promises, as a property (issue 16, "How it is checked"):
random multi-device scan logs, uploaded duplicated, shuffled and split, end with

- exactly one stored scan per distinct nonce (no scan lost, none stored twice), and
- on a single-entry list, as many reported conflicts as, for each ticket, its entries
  the devices let in minus one.

Through the services (each batch its own unit of work, as a request is), on the test's
database: SQLite or PostgreSQL.
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from admitone.accounts.models import User
from admitone.checkin import devices, lists, offline
from admitone.checkin.models import CheckIn, CheckinKind, ConflictReason, ScanResult
from admitone.db import utcnow
from admitone.events.models import Event
from admitone.tickets.signing import KeyRing
from tests.tickets.factories import World, make_event, make_paid_order

DEVICES = 3
TICKETS = 3

# One scan: which device, which ticket, and whether the device let the holder in.
scan_steps = st.lists(
    st.tuples(
        st.integers(0, DEVICES - 1),
        st.integers(0, TICKETS - 1),
        st.sampled_from([ScanResult.admitted, ScanResult.admitted, ScanResult.already_admitted]),
    ),
    min_size=1,
    max_size=24,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=scan_steps, data=st.data())
def test_every_nonce_stored_once_and_every_duplicate_reported(world: World, steps, data):
    database = world.database
    app_state = world.client.app.state  # type: ignore[attr-defined]
    keys = KeyRing(settings=app_state.settings, database=database)
    event = make_event(database, organization_id=world.org["id"])
    order = make_paid_order(database, event, quantities={event.ticket_type_ids[0]: TICKETS})
    owner_id = uuid.UUID(world.owner["user"]["id"])
    with database.session(write=False) as session:
        # A read unit of work, as the ticket routes: the key ring makes a missing key in
        # a write unit of work of its own (inside one of ours, SQLite would wait on us).
        key = keys.get_or_create(session, event.id)
    with database.session() as session:
        list_id = lists.ensure_default_list(session, event_id=event.id)
        qrs = [
            keys.sign_ticket(key, ticket_id=ticket, ticket_type_id=event.ticket_type_ids[0])
            for ticket in order.ticket_ids
        ]
        owner = session.get(User, owner_id)
        found_event = session.get(Event, event.id)
        assert owner is not None and found_event is not None
        tokens = [
            devices.pair_device(
                session, event=found_event, user=owner, name=f"Phone {n}", gate=f"Gate {n}"
            ).token
            for n in range(DEVICES)
        ]

    # Each device's log, in the order it scanned, with its own nonces.
    start = utcnow() - timedelta(hours=1)
    logs: list[list[offline.OfflineScan]] = [[] for _ in range(DEVICES)]
    for position, (device, ticket, shown) in enumerate(steps):
        logs[device].append(
            offline.OfflineScan(
                nonce=f"{device}-{uuid.uuid4().hex}",
                qr=qrs[ticket],
                list_id=list_id,
                kind=CheckinKind.entry,
                scanned_at=start + timedelta(seconds=position),
                result=shown,
            )
        )

    # Each device uploads its log duplicated, shuffled and split into batches; the
    # devices' batches interleave.
    batches: list[tuple[int, list[offline.OfflineScan]]] = []
    for device, log in enumerate(logs):
        if not log:
            continue
        extra = data.draw(st.lists(st.sampled_from(log), max_size=len(log)), label="duplicates")
        sent = data.draw(st.permutations([*log, *extra]), label="order")
        cuts = sorted(data.draw(st.sets(st.integers(1, len(sent)), max_size=3), label="cuts"))
        bounds = [0, *cuts, len(sent)]
        batches += [
            (device, sent[low:high]) for low, high in itertools.pairwise(bounds) if high > low
        ]
    batches = data.draw(st.permutations(batches), label="interleaving")
    for device, batch in batches:
        with database.session() as session:
            access = devices.resolve_device(session, token=tokens[device])
            answer = offline.upload_batch(
                session, device=access, keys=keys, device_time=utcnow(), scans=batch
            )
        assert [item.nonce for item in answer.results] == [scan.nonce for scan in batch]
        assert all(item.status != offline.UploadStatus.refused for item in answer.results)

    with database.session(write=False) as session:
        stored = Counter(
            session.scalars(select(CheckIn.nonce).where(CheckIn.event_id == event.id)).all()
        )
        conflicts = session.scalar(
            select(func.count())
            .select_from(CheckIn)
            .where(
                CheckIn.event_id == event.id,
                CheckIn.conflict == ConflictReason.already_admitted,
            )
        )
    distinct = {scan.nonce for log in logs for scan in log}
    assert set(stored) == distinct and all(count == 1 for count in stored.values())
    entries = Counter(scan.qr for log in logs for scan in log if scan.result == ScanResult.admitted)
    assert conflicts == sum(max(0, count - 1) for count in entries.values())
