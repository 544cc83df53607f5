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
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, aliased

from admitone.checkin import lists
from admitone.checkin.devices import DeviceAccess
from admitone.checkin.errors import CheckinListNotFound, NonceReused
from admitone.checkin.models import (
    CheckIn,
    CheckinDevice,
    CheckinKind,
    CheckinList,
    CheckinPresence,
    ConflictReason,
    ScanResult,
)
from admitone.checkin.service import decide, payload_hash, read_state, verify_qr
from admitone.db import insert_once, utcnow
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


def upload_batch(
    session: Session,
    *,
    device: DeviceAccess,
    keys: KeyRing,
    device_time: datetime,
    scans: list[OfflineScan],
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
        view.checkin_list.id: view.checkin_list
        for view in lists.lists_of_event(session, event_id=event_id)
    }
    results: list[UploadResult | None] = [None] * len(scans)
    claimed: list[_Claimed] = []
    repeats: list[tuple[int, uuid.UUID]] = []

    # Pass 1: claim each nonce, in nonce order.
    for index in sorted(range(len(scans)), key=lambda i: scans[i].nonce):
        scan = scans[index]
        if scan.list_id not in event_lists:
            results[index] = _refused(scan, CheckinListNotFound())
            continue
        expected_kind = _ACCEPTED.get(scan.result)
        if expected_kind is not None and expected_kind != scan.kind:
            results[index] = _refused(scan, ScanResultMismatch())
            continue
        refusal, ticket_id = verify_qr(session, keys, event_id, scan.qr)
        at = min(scan.scanned_at + timedelta(milliseconds=offset_ms), now)
        checkin_id = uuid.uuid4()
        qr_hash = payload_hash(scan.qr)
        inserted = insert_once(
            session,
            CheckIn,
            {
                "id": checkin_id,
                "event_id": event_id,
                "ticket_id": ticket_id if refusal is None else None,
                "result": scan.result,
                "gate": scan.gate or device.device.gate,
                "scanned_at": at,
                "scanned_by_id": device.user.id,
                "nonce": scan.nonce,
                "payload_hash": qr_hash,
                "list_id": scan.list_id,
                "kind": scan.kind,
                "device_id": device.device.id,
                "offline": True,
                "device_scanned_at": scan.scanned_at,
                "received_at": now,
            },
        )
        if inserted:
            claimed.append(_Claimed(index, checkin_id, scan, ticket_id, refusal, at))
            continue
        stored = session.execute(
            select(
                CheckIn.id, CheckIn.device_id, CheckIn.payload_hash, CheckIn.list_id, CheckIn.kind
            ).where(CheckIn.event_id == event_id, CheckIn.nonce == scan.nonce)
        ).first()
        if stored is None or (
            stored.device_id,
            stored.payload_hash,
            stored.list_id,
            stored.kind,
        ) != (
            device.device.id,
            qr_hash,
            scan.list_id,
            scan.kind,
        ):
            results[index] = _refused(scan, NonceReused(nonce=scan.nonce))
        else:
            repeats.append((index, stored.id))

    # Pass 2: the effects, in presence-key order; one ticket's scans in the order they
    # happened.
    conflicts_made: dict[uuid.UUID, tuple[int, ConflictReason]] = {}
    for item in sorted(
        claimed, key=lambda c: (str(c.scan.list_id), str(c.ticket_id), c.at, c.index)
    ):
        found = _apply(session, event_id=event_id, device=device, item=item, now=now)
        if found is None:
            results[item.index] = UploadResult(
                item.scan.nonce, UploadStatus.stored, checkin_id=item.checkin_id
            )
            continue
        reason, other_id = found
        session.execute(
            update(CheckIn)
            .where(CheckIn.id == item.checkin_id)
            .values(conflict=reason, conflict_with_id=other_id)
            .execution_options(synchronize_session=False)
        )
        conflicts_made[item.checkin_id] = (item.index, reason)

    # The answers that show a conflict, read back as the report shows them.
    repeat_ids = [checkin_id for _index, checkin_id in repeats]
    views = {
        view.scan.checkin_id: view
        for view in _conflict_views(
            session,
            _conflicts_query(event_id).where(CheckIn.id.in_([*conflicts_made, *repeat_ids])),
        )
    }
    for checkin_id, (index, _reason) in conflicts_made.items():
        results[index] = UploadResult(
            scans[index].nonce,
            UploadStatus.conflict,
            checkin_id=checkin_id,
            conflict=views.get(checkin_id),
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


def _apply(
    session: Session,
    *,
    event_id: uuid.UUID,
    device: DeviceAccess,
    item: _Claimed,
    now: datetime,
) -> tuple[ConflictReason, uuid.UUID | None] | None:
    """The effect of one claimed offline scan on its ticket's presence: None when the
    server agrees, else (the reason it would have refused, the scan it repeats)."""
    scan = item.scan
    if scan.result not in _ACCEPTED:
        return None  # the device refused it: an attempt, no effect
    if item.refusal is not None or item.ticket_id is None:
        return ConflictReason(item.refusal or ScanResult.invalid_signature), None
    ticket_id, list_id, gate = item.ticket_id, scan.list_id, scan.gate or device.device.gate
    this = (CheckinPresence.list_id == list_id) & (CheckinPresence.ticket_id == ticket_id)
    for _attempt in range(3):
        # Lock the presence row (when there is one) for the decision and the write.
        session.execute(select(CheckinPresence.entries).where(this).with_for_update())
        state = read_state(session, event_id=event_id, list_id=list_id, ticket_id=ticket_id)
        if state.ticket is None:
            return ConflictReason.not_found, None
        result, write = decide(state, kind=scan.kind, now=item.at)
        presence = state.presence
        if scan.kind == CheckinKind.exit:
            if write is None:
                return ConflictReason(result.value), None
            session.execute(
                update(CheckinPresence)
                .where(this)
                .values(
                    inside=False,
                    exits=CheckinPresence.exits + 1,
                    last_exit_at=item.at,
                    last_gate=gate,
                    changed_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            return None
        # An entry the device let in: the holder is in, whatever the server says.
        reason = None if result == ScanResult.admitted else ConflictReason(result.value)
        if presence is None:
            if not insert_once(
                session,
                CheckinPresence,
                {
                    "list_id": list_id,
                    "ticket_id": ticket_id,
                    "inside": True,
                    "entries": 1,
                    "exits": 0,
                    "first_entry_at": item.at,
                    "last_entry_at": item.at,
                    "last_exit_at": None,
                    "last_gate": gate,
                    "changed_at": now,
                },
            ):
                continue  # another scan made it meanwhile: lock it and decide again
        elif not presence.inside:
            session.execute(
                update(CheckinPresence)
                .where(this)
                .values(
                    inside=True,
                    entries=CheckinPresence.entries + 1,
                    last_entry_at=item.at,
                    last_gate=gate,
                    changed_at=now,
                )
                .execution_options(synchronize_session=False)
            )
        if reason is None:
            return None
        other = (
            _admission_repeated(
                session, ticket_id=ticket_id, list_id=list_id, not_id=item.checkin_id
            )
            if reason == ConflictReason.already_admitted
            else None
        )
        return reason, other
    raise RuntimeError("presence write kept losing")  # pragma: no cover - the row is locked


def _admission_repeated(
    session: Session, *, ticket_id: uuid.UUID, list_id: uuid.UUID, not_id: uuid.UUID
) -> uuid.UUID | None:
    """The entry a duplicate repeats: the latest entry of the ticket on the list that is
    not itself a conflict (else the latest entry)."""
    return session.scalar(
        select(CheckIn.id)
        .where(
            CheckIn.ticket_id == ticket_id,
            CheckIn.list_id == list_id,
            CheckIn.result == ScanResult.admitted,
            CheckIn.id != not_id,
        )
        .order_by(CheckIn.conflict.is_not(None), CheckIn.scanned_at.desc(), CheckIn.id)
        .limit(1)
    )


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
