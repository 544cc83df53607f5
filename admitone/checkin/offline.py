"""Offline scans uploaded in batches, and the conflicts they make (issue 16, points 5 and
6; docs/gates.md, "Batches of offline scans" and "Conflicts").

An offline scan the device accepted (an entry it let in, an exit it let out) is a fact:
it is stored even when the server would have refused it, the ticket's presence follows
(the holder is in), and the scan carries the reason the server would have refused it
(``conflict``). A scan the device refused is stored as an attempt and changes nothing.

Exactly once per (device, nonce), however the batch is repeated, split or reordered:
the scan's row is claimed first (``INSERT ... ON CONFLICT DO NOTHING`` on the unique
``(event_id, nonce)``), and only a scan whose claim inserted a row has an effect. A
batch runs in two passes, each in a fixed order so that two batches at once never wait
on each other in a cycle (PostgreSQL): the claims by nonce, then the presences by
``(list_id, ticket_id)``, each presence row locked (``FOR UPDATE``) while it is decided
and written. SQLite's write transaction serialises batches anyway.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, select, tuple_, update
from sqlalchemy.orm import Session, aliased

from admitone.checkin import lists
from admitone.checkin.devices import DeviceAccess
from admitone.checkin.errors import CheckinListNotFound, NonceReused, ScanInProgress
from admitone.checkin.models import (
    CheckIn,
    CheckinDevice,
    CheckinKind,
    CheckinList,
    CheckinPresence,
    ConflictReason,
    ScanResult,
)
from admitone.checkin.service import (
    ListRules,
    Presence,
    ScannedTicket,
    ScanState,
    Write,
    decide,
    payload_hash,
    presence_after,
    verify_qr,
)
from admitone.db import insert_returning, utcnow
from admitone.errors import DomainError, InvalidInput
from admitone.spreadsheets import csv_text
from admitone.tickets.models import Ticket
from admitone.tickets.signing import KeyRing

MAX_BATCH = 500
DEVICE_CONFLICTS_SHOWN = 100
# A device clock more than this far off is taken as this far off (the column's range).
MAX_CLOCK_OFFSET_MS = 2**31 - 1
# What a device showed for a scan it let through, and the kind it must be.
_ACCEPTED = {ScanResult.admitted: CheckinKind.entry, ScanResult.exited: CheckinKind.exit}


class UploadStatus(StrEnum):
    stored = "stored"
    already_stored = "already_stored"
    conflict = "conflict"
    refused = "refused"


class ScanResultMismatch(InvalidInput):
    code = "SCAN_RESULT_MISMATCH"
    message = (
        "A scan's result does not match its kind: 'admitted' is an entry's, 'exited' an exit's."
    )


@dataclass(frozen=True)
class OfflineScan:
    """One scan as the device recorded it."""

    nonce: str
    qr: str
    list_id: uuid.UUID
    kind: CheckinKind
    scanned_at: datetime  # the device's clock
    result: ScanResult  # what the device showed
    # Where it was scanned, when not at the device's own gate: a site relay uploads the
    # scans of all the gates that use it (docs/gates.md, "Site relay").
    gate: str | None = None


@dataclass(frozen=True)
class UnreadableScan:
    """An item of a batch whose fields are wrong: refused alone, the others stored."""

    nonce: str  # as sent ("" when it had none)
    error: InvalidInput


@dataclass(frozen=True)
class ScanRecord:
    """A stored scan, as a conflict shows it."""

    checkin_id: uuid.UUID
    result: ScanResult
    kind: CheckinKind
    scanned_at: datetime  # corrected (offline) or the server's (online)
    device_scanned_at: datetime | None
    received_at: datetime | None
    gate: str | None
    device_id: uuid.UUID | None
    device_name: str | None
    offline: bool


@dataclass(frozen=True)
class ScanConflict:
    """An offline scan the server would have refused, with the scan it repeats."""

    reason: ConflictReason
    ticket_id: uuid.UUID | None
    holder_name: str | None
    list_id: uuid.UUID
    list_name: str
    scan: ScanRecord
    other: ScanRecord | None


@dataclass(frozen=True)
class UploadResult:
    nonce: str
    status: UploadStatus
    checkin_id: uuid.UUID | None = None
    conflict: ScanConflict | None = None
    error: DomainError | None = None


@dataclass(frozen=True)
class BatchAnswer:
    results: list[UploadResult]
    conflicts: list[ScanConflict]  # involving this device, newest first
    clock_offset_ms: int


@dataclass(frozen=True)
class _Claimed:
    index: int
    checkin_id: uuid.UUID
    scan: OfflineScan
    ticket_id: uuid.UUID | None
    refusal: ScanResult | None
    at: datetime  # the scan's corrected time
    qr_hash: str


def upload_batch(
    session: Session,
    *,
    device: DeviceAccess,
    keys: KeyRing,
    device_time: datetime,
    scans: Sequence[OfflineScan | UnreadableScan],
) -> BatchAnswer:
    """Store a device's offline scans, each exactly once, and answer one result per scan
    in the order sent (module docstring). Also notes the device's clock offset (the
    server's time minus ``device_time``) and corrects the scans' times by it."""
    event_id = device.event.id
    now = utcnow()
    offset_ms = int((now - device_time) / timedelta(milliseconds=1))
    offset_ms = max(-MAX_CLOCK_OFFSET_MS, min(MAX_CLOCK_OFFSET_MS, offset_ms))
    session.execute(
        update(CheckinDevice)
        .where(CheckinDevice.id == device.device.id)
        .values(clock_offset_ms=offset_ms, last_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    event_lists = {
        view.checkin_list.id: view for view in lists.lists_of_event(session, event_id=event_id)
    }
    results: list[UploadResult | None] = [None] * len(scans)
    gate = device.device.gate

    # Pass 1: claim every new nonce with ONE insert, in nonce order (``ON CONFLICT DO
    # NOTHING RETURNING``: the rows it returns are this batch's to apply).
    candidates: dict[str, _Claimed] = {}
    repeated_in_batch: list[tuple[int, str]] = []
    rows: list[dict[str, Any]] = []
    verified = {
        index: verify_qr(session, keys, event_id, scan.qr)
        for index, scan in enumerate(scans)
        if isinstance(scan, OfflineScan)
    }
    # The ids the codes name that are tickets of this event (a typed code is any 32 hex
    # digits: it may name no ticket, or another event's).
    named = {ticket_id for _refusal, ticket_id in verified.values() if ticket_id is not None}
    known = (
        set(
            session.scalars(
                select(Ticket.id).where(Ticket.event_id == event_id, Ticket.id.in_(named))
            )
        )
        if named
        else set()
    )
    for index in sorted(range(len(scans)), key=lambda i: scans[i].nonce):
        scan = scans[index]
        if isinstance(scan, UnreadableScan):
            results[index] = UploadResult(scan.nonce, UploadStatus.refused, error=scan.error)
            continue
        if scan.list_id not in event_lists:
            results[index] = _refused(scan, CheckinListNotFound())
            continue
        expected_kind = _ACCEPTED.get(scan.result)
        if expected_kind is not None and expected_kind != scan.kind:
            results[index] = _refused(scan, ScanResultMismatch())
            continue
        if scan.nonce in candidates:
            repeated_in_batch.append((index, scan.nonce))
            continue
        refusal, ticket_id = verified[index]
        if refusal is None and ticket_id not in known:
            refusal, ticket_id = ScanResult.not_found, None
        at = min(scan.scanned_at + timedelta(milliseconds=offset_ms), now)
        item = _Claimed(index, uuid.uuid4(), scan, ticket_id, refusal, at, payload_hash(scan.qr))
        candidates[scan.nonce] = item
        rows.append(
            {
                "id": item.checkin_id,
                "event_id": event_id,
                "ticket_id": ticket_id if refusal is None else None,
                "result": scan.result,
                "gate": scan.gate or gate,
                "scanned_at": at,
                "scanned_by_id": device.user.id,
                "nonce": scan.nonce,
                "payload_hash": item.qr_hash,
                "list_id": scan.list_id,
                "kind": scan.kind,
                "device_id": device.device.id,
                "offline": True,
                "device_scanned_at": scan.scanned_at,
                "received_at": now,
                "conflict": None,
                "conflict_with_id": None,
            }
        )
    claimed_ids = {
        row[0] for row in (insert_returning(session, CheckIn, rows, CheckIn.id) if rows else ())
    }
    claimed = [item for item in candidates.values() if item.checkin_id in claimed_ids]
    # The nonces stored before (an earlier upload, a twin request): this device's same
    # scan is "already stored"; anything else reusing the nonce is refused.
    repeats: list[tuple[int, uuid.UUID]] = []
    stored_before = [
        nonce for nonce, item in candidates.items() if item.checkin_id not in claimed_ids
    ]
    stored = (
        {
            row.nonce: row
            for row in session.execute(
                select(
                    CheckIn.id,
                    CheckIn.nonce,
                    CheckIn.device_id,
                    CheckIn.payload_hash,
                    CheckIn.list_id,
                    CheckIn.kind,
                ).where(CheckIn.event_id == event_id, CheckIn.nonce.in_(stored_before))
            )
        }
        if stored_before
        else {}
    )
    for nonce in stored_before:
        item, row = candidates[nonce], stored.get(nonce)
        same = row is not None and (row.device_id, row.payload_hash, row.list_id, row.kind) == (
            device.device.id,
            item.qr_hash,
            item.scan.list_id,
            item.scan.kind,
        )
        if row is None or not same:
            results[item.index] = _refused(item.scan, NonceReused(nonce=nonce))
        else:
            repeats.append((item.index, row.id))
    for index, nonce in repeated_in_batch:
        first = candidates[nonce]
        if first.checkin_id in claimed_ids:
            repeats.append((index, first.checkin_id))
        elif results[first.index] is None:  # stored before, by this device: the same
            repeats.append((index, stored[nonce].id))
        else:
            results[index] = UploadResult(
                nonce, UploadStatus.refused, error=NonceReused(nonce=nonce)
            )

    # Pass 2: the effects on the presences (``_apply``), then the conflicts' reasons.
    conflicts = _apply(session, event_lists=event_lists, items=claimed, gate=gate, now=now)
    if conflicts:
        session.execute(
            update(_CHECKINS)
            .where(_CHECKINS.c.id == bindparam("b_id"))
            .values(conflict=bindparam("b_conflict"), conflict_with_id=bindparam("b_other")),
            [
                {"b_id": checkin_id, "b_conflict": reason, "b_other": other}
                for checkin_id, (reason, other) in conflicts.items()
            ],
        )
    for item in claimed:
        status = UploadStatus.conflict if item.checkin_id in conflicts else UploadStatus.stored
        results[item.index] = UploadResult(item.scan.nonce, status, checkin_id=item.checkin_id)

    # The answers that show a conflict, read back as the report shows them.
    shown = [*conflicts, *(checkin_id for _index, checkin_id in repeats)]
    views = (
        {
            view.scan.checkin_id: view
            for view in _conflict_views(
                session, _conflicts_query(event_id).where(CheckIn.id.in_(shown))
            )
        }
        if shown
        else {}
    )
    for item in claimed:
        if item.checkin_id in conflicts:
            results[item.index] = UploadResult(
                item.scan.nonce,
                UploadStatus.conflict,
                checkin_id=item.checkin_id,
                conflict=views.get(item.checkin_id),
            )
    for index, checkin_id in repeats:
        results[index] = UploadResult(
            scans[index].nonce,
            UploadStatus.already_stored,
            checkin_id=checkin_id,
            conflict=views.get(checkin_id),
        )
    assert all(result is not None for result in results)
    return BatchAnswer(
        results=[result for result in results if result is not None],
        conflicts=device_conflicts(session, device=device),
        clock_offset_ms=offset_ms,
    )


def _refused(scan: OfflineScan, error: DomainError) -> UploadResult:
    return UploadResult(scan.nonce, UploadStatus.refused, error=error)


_CHECKINS = cast(Table, CheckIn.__table__)
_PRESENCES = cast(Table, CheckinPresence.__table__)
_PRESENCE_COLUMNS = (
    "inside",
    "entries",
    "exits",
    "first_entry_at",
    "last_entry_at",
    "last_exit_at",
    "last_gate",
)


Key = tuple[uuid.UUID, uuid.UUID]  # (list_id, ticket_id): a presence's key


def _apply(
    session: Session,
    *,
    event_lists: dict[uuid.UUID, lists.ListView],
    items: list[_Claimed],
    gate: str,
    now: datetime,
) -> dict[uuid.UUID, tuple[ConflictReason, uuid.UUID | None]]:
    """Apply the claimed scans to the presences; the conflicts: {scan id: (the reason
    the server would have refused it, the scan it repeats)}.

    A scan the device refused changes nothing. The others are grouped by presence and
    decided in the order they happened, with ``service.decide`` on the presence as it
    stands (read and locked in ONE ``SELECT ... FOR UPDATE`` in key order), and written
    with one INSERT of the new presences and one UPDATE per changed one. A new presence
    another upload inserted meanwhile (its insert did nothing) is decided again, now
    locked, in a next round.
    """
    conflicts: dict[uuid.UUID, tuple[ConflictReason, uuid.UUID | None]] = {}
    by_key: dict[Key, list[_Claimed]] = defaultdict(list)
    for item in items:
        if item.scan.result not in _ACCEPTED:
            continue  # the device refused it: an attempt, no effect
        if item.refusal is not None or item.ticket_id is None:
            conflicts[item.checkin_id] = (
                ConflictReason(item.refusal or ScanResult.invalid_signature),
                None,
            )
            continue
        by_key[(item.scan.list_id, item.ticket_id)].append(item)
    if not by_key:
        return conflicts
    tickets = {
        row.id: ScannedTicket(
            id=row.id,
            holder_name=row.holder_name,
            status=row.status,
            ticket_type_id=row.ticket_type_id,
            ticket_type_name="",
        )
        for row in session.execute(
            select(Ticket.id, Ticket.holder_name, Ticket.status, Ticket.ticket_type_id).where(
                Ticket.id.in_({ticket_id for _list_id, ticket_id in by_key})
            )
        )
    }
    pending = sorted(by_key)
    for _round in range(3):
        if not pending:
            break
        found = _locked_presences(session, pending)
        new_rows: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        decided: dict[Key, dict[uuid.UUID, tuple[ConflictReason, uuid.UUID | None]]] = {}
        for key in pending:
            before = found.get(key)
            presence, outcome = _decide_key(
                event_lists[key[0]], tickets.get(key[1]), before, by_key[key], gate=gate
            )
            decided[key] = outcome
            if presence is None or presence == before:
                continue
            values = {name: getattr(presence, name) for name in _PRESENCE_COLUMNS}
            if before is None:
                new_rows.append(
                    {"list_id": key[0], "ticket_id": key[1], **values, "changed_at": now}
                )
            else:
                changed.append({"b_list": key[0], "b_ticket": key[1], **values, "changed_at": now})
        inserted = (
            insert_returning(
                session, CheckinPresence, new_rows, _PRESENCES.c.list_id, _PRESENCES.c.ticket_id
            )
            if new_rows
            else set()
        )
        lost = sorted(
            (row["list_id"], row["ticket_id"])
            for row in new_rows
            if (row["list_id"], row["ticket_id"]) not in inserted
        )
        if changed:
            session.execute(
                update(_PRESENCES)
                .where(
                    _PRESENCES.c.list_id == bindparam("b_list"),
                    _PRESENCES.c.ticket_id == bindparam("b_ticket"),
                )
                .values({name: bindparam(name) for name in (*_PRESENCE_COLUMNS, "changed_at")}),
                changed,
            )
        for key, outcome in decided.items():
            if key in lost:
                continue
            conflicts.update(outcome)
        pending = lost
    if pending:  # pragma: no cover - the row exists and is locked after one lost round
        raise ScanInProgress(retry_after=1)
    _fill_repeated(session, conflicts, by_key)
    return conflicts


def _locked_presences(session: Session, keys: list[Key]) -> dict[Key, Presence]:
    """The presences of ``keys`` that exist, locked, in key order (one statement)."""
    rows = session.execute(
        select(
            _PRESENCES.c.list_id,
            _PRESENCES.c.ticket_id,
            *(_PRESENCES.c[name] for name in _PRESENCE_COLUMNS),
        )
        .where(tuple_(_PRESENCES.c.list_id, _PRESENCES.c.ticket_id).in_(keys))
        .order_by(_PRESENCES.c.list_id, _PRESENCES.c.ticket_id)
        .with_for_update()
    )
    return {(row.list_id, row.ticket_id): Presence.from_row(row) for row in rows}


def _decide_key(
    view: lists.ListView,
    ticket: ScannedTicket | None,
    presence: Presence | None,
    items: list[_Claimed],
    *,
    gate: str,
) -> tuple[Presence | None, dict[uuid.UUID, tuple[ConflictReason, uuid.UUID | None]]]:
    """One presence's scans, in the order they happened: the presence they leave and
    their conflicts (pure). An entry the device let in happened: the holder is in,
    whatever the server would have said; an exit only takes out someone inside."""
    rules = view.checkin_list
    list_rules = ListRules(
        id=rules.id,
        name=rules.name,
        all_ticket_types=rules.all_ticket_types,
        allow_reentry=rules.allow_reentry,
        valid_from=rules.valid_from,
        valid_until=rules.valid_until,
    )
    outcome: dict[uuid.UUID, tuple[ConflictReason, uuid.UUID | None]] = {}
    last_entry: uuid.UUID | None = None  # this batch's latest entry that was no conflict
    for item in sorted(items, key=lambda i: (i.at, i.index)):
        if ticket is None:
            outcome[item.checkin_id] = (ConflictReason.not_found, None)
            continue
        type_on_list = view.ticket_type_ids is None or ticket.ticket_type_id in view.ticket_type_ids
        state = ScanState(
            checkin_list=list_rules, ticket=ticket, presence=presence, type_on_list=type_on_list
        )
        result, write = decide(state, kind=item.scan.kind, now=item.at)
        scan_gate = item.scan.gate or gate
        if item.scan.kind == CheckinKind.exit:
            if write is None:
                outcome[item.checkin_id] = (ConflictReason(result.value), None)
            else:
                presence = presence_after(write, presence, gate=scan_gate, now=item.at)
            continue
        # The entry happened: a first entry or a re-entry, whatever ``decide`` said.
        if presence is None or not presence.inside:
            entry = Write.first_entry if presence is None else Write.reentry
            presence = presence_after(entry, presence, gate=scan_gate, now=item.at)
        if result == ScanResult.admitted:
            last_entry = item.checkin_id
        else:
            reason = ConflictReason(result.value)
            outcome[item.checkin_id] = (
                reason,
                last_entry if reason == ConflictReason.already_admitted else None,
            )
    return presence, outcome


def _fill_repeated(
    session: Session,
    conflicts: dict[uuid.UUID, tuple[ConflictReason, uuid.UUID | None]],
    by_key: dict[Key, list[_Claimed]],
) -> None:
    """For each already-admitted entry that repeats an entry stored before this batch,
    that entry: the latest one of the ticket on the list that is no conflict (else the
    latest). One query for the whole batch."""
    missing: dict[uuid.UUID, Key] = {}
    batch_ids = set()
    for key, items in by_key.items():
        for item in items:
            batch_ids.add(item.checkin_id)
            found = conflicts.get(item.checkin_id)
            if (
                found is not None
                and found[0] == ConflictReason.already_admitted
                and found[1] is None
            ):
                missing[item.checkin_id] = key
    if not missing:
        return
    keys = sorted(set(missing.values()))
    latest: dict[Key, uuid.UUID] = {}
    for row in session.execute(
        select(_CHECKINS.c.id, _CHECKINS.c.list_id, _CHECKINS.c.ticket_id)
        .where(
            tuple_(_CHECKINS.c.list_id, _CHECKINS.c.ticket_id).in_(keys),
            _CHECKINS.c.result == ScanResult.admitted,
        )
        .order_by(_CHECKINS.c.conflict.is_not(None), _CHECKINS.c.scanned_at.desc(), _CHECKINS.c.id)
    ):
        key = (row.list_id, row.ticket_id)
        if row.id not in batch_ids and key not in latest:
            latest[key] = row.id
    for checkin_id, key in missing.items():
        conflicts[checkin_id] = (ConflictReason.already_admitted, latest.get(key))


# --- the conflict report -----------------------------------------------------------------

_Other = aliased(CheckIn)
_ScanDevice = aliased(CheckinDevice)
_OtherDevice = aliased(CheckinDevice)


def _conflicts_query(event_id: uuid.UUID) -> Any:
    return (
        select(
            CheckIn,
            _ScanDevice.name,
            _Other,
            _OtherDevice.name,
            Ticket.holder_name,
            CheckinList.name,
        )
        .join(CheckinList, CheckinList.id == CheckIn.list_id)
        .outerjoin(_ScanDevice, _ScanDevice.id == CheckIn.device_id)
        .outerjoin(_Other, _Other.id == CheckIn.conflict_with_id)
        .outerjoin(_OtherDevice, _OtherDevice.id == _Other.device_id)
        .outerjoin(Ticket, Ticket.id == CheckIn.ticket_id)
        .where(CheckIn.event_id == event_id, CheckIn.conflict.is_not(None))
        .order_by(CheckIn.scanned_at.desc(), CheckIn.id)
    )


def _record(scan: CheckIn, device_name: str | None) -> ScanRecord:
    return ScanRecord(
        checkin_id=scan.id,
        result=scan.result,
        kind=scan.kind,
        scanned_at=scan.scanned_at,
        device_scanned_at=scan.device_scanned_at,
        received_at=scan.received_at,
        gate=scan.gate,
        device_id=scan.device_id,
        device_name=device_name,
        offline=scan.offline,
    )


def _conflict_views(session: Session, query: Any) -> list[ScanConflict]:
    views = []
    for scan, device_name, other, other_device_name, holder_name, list_name in session.execute(
        query
    ):
        assert scan.conflict is not None and scan.list_id is not None
        views.append(
            ScanConflict(
                reason=scan.conflict,
                ticket_id=scan.ticket_id,
                holder_name=holder_name,
                list_id=scan.list_id,
                list_name=list_name,
                scan=_record(scan, device_name),
                other=_record(other, other_device_name) if other is not None else None,
            )
        )
    return views


def device_conflicts(session: Session, *, device: DeviceAccess) -> list[ScanConflict]:
    """The conflicts involving a device, newest first: its own scans that conflicted and
    the scans elsewhere that repeated one of its entries."""
    device_id = device.device.id
    query = (
        _conflicts_query(device.event.id)
        .where(or_(CheckIn.device_id == device_id, _Other.device_id == device_id))
        .limit(DEVICE_CONFLICTS_SHOWN)
    )
    return _conflict_views(session, query)


@dataclass(frozen=True)
class ConflictFilter:
    list_id: uuid.UUID | None = None
    reason: ConflictReason | None = None
    gate: str | None = None
    device_id: uuid.UUID | None = None


def event_conflicts(
    session: Session, *, event_id: uuid.UUID, where: ConflictFilter, limit: int | None = None
) -> list[ScanConflict]:
    """The event's conflicts, newest first, filtered (the caller was checked for
    ``view_events`` on the event). Read-only."""
    query = _conflicts_query(event_id)
    if where.list_id is not None:
        query = query.where(CheckIn.list_id == where.list_id)
    if where.reason is not None:
        query = query.where(CheckIn.conflict == where.reason)
    if where.gate is not None:
        query = query.where(or_(CheckIn.gate == where.gate, _Other.gate == where.gate))
    if where.device_id is not None:
        query = query.where(
            or_(CheckIn.device_id == where.device_id, _Other.device_id == where.device_id)
        )
    if limit is not None:
        query = query.limit(limit)
    return _conflict_views(session, query)


CONFLICT_CSV_HEADER = (
    "reason",
    "list",
    "ticket_id",
    "holder_name",
    "scanned_at",
    "device_scanned_at",
    "received_at",
    "gate",
    "device",
    "offline",
    "other_scanned_at",
    "other_gate",
    "other_device",
    "other_offline",
)


def conflicts_csv(conflicts: list[ScanConflict]) -> str:
    """The conflict report as a CSV file (times in UTC, ISO 8601)."""

    def time(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return csv_text(
        CONFLICT_CSV_HEADER,
        (
            (
                item.reason.value,
                item.list_name,
                item.ticket_id,
                item.holder_name,
                time(item.scan.scanned_at),
                time(item.scan.device_scanned_at),
                time(item.scan.received_at),
                item.scan.gate,
                item.scan.device_name,
                item.scan.offline,
                time(item.other.scanned_at) if item.other else None,
                item.other.gate if item.other else None,
                item.other.device_name if item.other else None,
                item.other.offline if item.other else None,
            )
            for item in conflicts
        ),
    )
