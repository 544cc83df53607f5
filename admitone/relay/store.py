"""The relay's decisions and its queue, on its own SQLite file (docs/gates.md, "Site relay").

Exactly once across the gates that use the relay: every scan is ONE SQLite write
transaction begun ``IMMEDIATE`` (``Database``'s write session), which reads the ticket,
its presence on the list and the gate's nonce, decides with the same pure rules as
upstream (``checkin.service.decide``), and writes the presence and the scan. SQLite has
one writer at a time, so a second gate scanning the same ticket at the same instant
reads the first one's committed entry and is answered ``already_admitted``.

Every scan is queued for upstream as an offline fact of the relay's device
(``sync.py``); the pulled bundle keeps the relay's cache of tickets, presences and lists.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Table, bindparam, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.orm import Session

from admitone.checkin.devices import hash_token, is_device_token
from admitone.checkin.errors import (
    BundleCursorInvalid,
    CheckinEventNotFound,
    CheckinListNotFound,
    DeviceTokenInvalid,
    NonceReused,
)
from admitone.checkin.models import CheckinKind, ConflictReason, ScanResult
from admitone.checkin.offline import (
    DEVICE_CONFLICTS_SHOWN,
    MAX_CLOCK_OFFSET_MS,
    BatchAnswer,
    OfflineScan,
    ScanConflict,
    ScanRecord,
    ScanResultMismatch,
    UnreadableScan,
    UploadResult,
    UploadStatus,
)
from admitone.checkin.service import (
    ListRules,
    Presence,
    ScannedTicket,
    ScanOutcome,
    ScanState,
    Write,
    decide,
    parse_ticket_code,
    payload_hash,
    presence_after,
)
from admitone.db import Database, utcnow
from admitone.relay.errors import RelayEventMismatch, RelayNotReady
from admitone.relay.models import (
    RelayBase,
    RelayCounter,
    RelayDevice,
    RelayMeta,
    RelayPresence,
    RelayScan,
    RelayTicket,
    RelayUndone,
)
from admitone.tickets import signing
from admitone.tickets.models import TicketStatus

RELAY_CLIENT = "relay"  # the client key of scans made with the relay's own token
BUNDLE_PAGE_SIZE = 5000
_ACCEPTED = {ScanResult.admitted: CheckinKind.entry, ScanResult.exited: CheckinKind.exit}


@dataclass(frozen=True)
class ListInfo:
    rules: ListRules
    is_default: bool
    ticket_type_ids: frozenset[uuid.UUID] | None  # None: all types
    raw: dict[str, Any]  # as upstream's bundle gave it

    def admits_type(self, ticket_type_id: uuid.UUID) -> bool:
        return self.ticket_type_ids is None or ticket_type_id in self.ticket_type_ids


@dataclass(frozen=True)
class Snapshot:
    """The small parts of the last pulled bundle, kept in memory for the scan path."""

    event_id: uuid.UUID
    event: dict[str, Any]
    device: dict[str, Any]  # the relay's own device upstream
    public_key_base64: str
    key_id: str
    lists: dict[uuid.UUID, ListInfo]
    default_list_id: uuid.UUID | None
    ticket_types: dict[uuid.UUID, str]
    full: bool

    public_key: Ed25519PublicKey

    @classmethod
    def from_bundle(cls, raw: dict[str, Any]) -> Snapshot:
        lists = {}
        default = None
        for item in raw["lists"]:
            list_id = uuid.UUID(item["id"])
            type_ids = item.get("ticket_type_ids")
            lists[list_id] = ListInfo(
                rules=ListRules(
                    id=list_id,
                    name=item["name"],
                    all_ticket_types=type_ids is None,
                    allow_reentry=bool(item["allow_reentry"]),
                    valid_from=_time(item.get("valid_from")),
                    valid_until=_time(item.get("valid_until")),
                ),
                is_default=bool(item["is_default"]),
                ticket_type_ids=None
                if type_ids is None
                else frozenset(uuid.UUID(t) for t in type_ids),
                raw=item,
            )
            if item["is_default"]:
                default = list_id
        return cls(
            event_id=uuid.UUID(raw["event"]["id"]),
            event=raw["event"],
            device=raw["device"],
            public_key_base64=raw["public_key"],
            key_id=raw["key_id"],
            lists=lists,
            default_list_id=default,
            ticket_types={uuid.UUID(t["id"]): t["name"] for t in raw["ticket_types"]},
            full=bool(raw["full"]),
            public_key=Ed25519PublicKey.from_public_bytes(base64.b64decode(raw["public_key"])),
        )


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass(frozen=True)
class Client:
    """Who scans through the relay: a gate device paired through it, or the relay's own
    token (``key`` ``relay``)."""

    key: str
    device_id: uuid.UUID | None
    name: str
    gate: str


@dataclass(frozen=True)
class Seen:
    """What a scan reads in its transaction."""

    replay: RelayScan | None
    ticket: tuple[uuid.UUID, str, str] | None  # (type id, holder name, status)
    presence: Presence | None


@dataclass(frozen=True)
class QueuedScan:
    upload_nonce: str
    qr: str
    list_id: uuid.UUID
    kind: str
    scanned_at: datetime
    result: str
    gate: str | None


@dataclass
class UploadReport:
    """What the last pushes said, for ``status``."""

    stored: int = 0
    refused: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)


def _presence_of(row: Any) -> Presence | None:
    return None if row is None else Presence.from_row(row)


_PRESENCE_COLUMNS = (
    RelayPresence.inside,
    RelayPresence.entries,
    RelayPresence.exits,
    RelayPresence.first_entry_at,
    RelayPresence.last_entry_at,
    RelayPresence.last_exit_at,
    RelayPresence.last_gate,
)


_presences = cast(Table, RelayPresence.__table__)  # a declarative model's table is a Table
_scans = cast(Table, RelayScan.__table__)
_counter = cast(Table, RelayCounter.__table__)
_undone = cast(Table, RelayUndone.__table__)
# The scan path's statements, built once: building one costs more than running it.
_SCAN_BY_NONCE = select(RelayScan).where(
    RelayScan.client == bindparam("client"), RelayScan.client_nonce == bindparam("nonce")
)
_TICKET = select(RelayTicket.ticket_type_id, RelayTicket.holder_name, RelayTicket.status).where(
    RelayTicket.id == bindparam("ticket_id")
)
# (Parameters of an UPDATE may not be named after its columns: k_ for the key.)
_THIS_PRESENCE = (_presences.c.list_id == bindparam("k_list")) & (
    _presences.c.ticket_id == bindparam("k_ticket")
)
_PRESENCE = select(*_PRESENCE_COLUMNS).where(_THIS_PRESENCE)
_NEXT_SEQ = (
    update(_counter)
    .where(_counter.c.id == 1)
    .values(seq=_counter.c.seq + 1)
    .returning(_counter.c.seq)
)
_INSERT_PRESENCE = insert(_presences)
_DROP_UNDONE = delete(_undone).where(
    (_undone.c.list_id == bindparam("k_list")) & (_undone.c.ticket_id == bindparam("k_ticket"))
)
_REENTER = (
    update(_presences)
    .where(_THIS_PRESENCE)
    .values(
        inside=True,
        entries=_presences.c.entries + 1,
        last_entry_at=bindparam("k_now"),
        last_gate=bindparam("k_gate"),
        seq=bindparam("k_seq"),
    )
)
_EXIT = (
    update(_presences)
    .where(_THIS_PRESENCE)
    .values(
        inside=False,
        exits=_presences.c.exits + 1,
        last_exit_at=bindparam("k_now"),
        last_gate=bindparam("k_gate"),
        seq=bindparam("k_seq"),
    )
)
_INSERT_SCAN = insert(_scans)


class RelayStore:
    """The relay's local state: decisions (``scan``, ``record_batch``), the bundle cache
    (``apply_page``, ``bundle_page``), the queue (``queued``, ``acknowledge``)."""

    def __init__(self, database: Database, *, event_id: uuid.UUID | None = None) -> None:
        self.database = database
        self.event_id = event_id
        RelayBase.metadata.create_all(database.engine)
        with self.database.session() as session:
            if session.get(RelayCounter, 1) is None:
                session.add(RelayCounter(id=1, seq=0))
        self._snapshot: Snapshot | None = None
        self._relay_token_hash: str | None = None
        self._devices: dict[str, Client] = {}
        self._lock = threading.Lock()  # the in-memory snapshot and devices
        self._writer = threading.Lock()  # this process's writers, in turn (``_writing``)
        self._load()

    # --- the in-memory parts ---------------------------------------------------------

    def _load(self) -> None:
        with self.database.session(write=False) as session:
            raw = session.get(RelayMeta, "bundle")
            devices = session.scalars(select(RelayDevice)).all()
        snapshot = None if raw is None else Snapshot.from_bundle(json.loads(raw.value))
        if snapshot is not None and self.event_id not in (None, snapshot.event_id):
            snapshot = None  # another event's cache: start over from upstream
        with self._lock:
            self._snapshot = snapshot
            self._devices = {
                device.token_hash: Client(
                    key=str(device.device_id),
                    device_id=device.device_id,
                    name=device.name,
                    gate=device.gate,
                )
                for device in devices
            }

    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    def require_snapshot(self) -> Snapshot:
        snapshot = self._snapshot
        if snapshot is None:
            raise RelayNotReady(retry_after=5)
        return snapshot

    def set_relay_token(self, token: str) -> None:
        self._relay_token_hash = hash_token(token)

    def client_of(self, token: str) -> Client:
        """The gate device (or the relay itself) behind a bearer token; 401 otherwise."""
        if not is_device_token(token):
            raise DeviceTokenInvalid()
        token_hash = hash_token(token)
        if token_hash == self._relay_token_hash:
            snapshot = self.require_snapshot()
            return Client(
                key=RELAY_CLIENT,
                device_id=uuid.UUID(snapshot.device["id"]),
                name=snapshot.device["name"],
                gate=snapshot.device["gate"],
            )
        client = self._devices.get(token_hash)
        if client is None:
            raise DeviceTokenInvalid()
        return client

    def add_device(self, *, token: str, device: dict[str, Any]) -> None:
        """Keep a device paired upstream through the relay (its token's hash only)."""
        token_hash = hash_token(token)
        with self._writing() as session:
            session.merge(
                RelayDevice(
                    token_hash=token_hash,
                    device_id=uuid.UUID(device["id"]),
                    name=device["name"],
                    gate=device["gate"],
                    paired_at=utcnow(),
                )
            )
        with self._lock:
            self._devices[token_hash] = Client(
                key=str(device["id"]),
                device_id=uuid.UUID(device["id"]),
                name=device["name"],
                gate=device["gate"],
            )

    # --- the scan --------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """A write transaction: ``BEGIN IMMEDIATE`` takes SQLite's write lock before the
        first read, so writers take turns. The relay's own writers (its gates' requests,
        its sync thread) first queue on a lock of this process: SQLite's busy handler
        would make them poll with sleeps of up to 100 ms, a lock hands over at once (the
        benchmark's p99 went from over a second to milliseconds)."""
        with self._writer, self.database.session() as session:
            yield session

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """The scan's one write transaction (``_writing``): scans through the relay take
        turns, each reading what the one before it wrote."""
        with self._writing() as session:
            yield session

    def _read(
        self,
        session: Session,
        *,
        client: str,
        nonce: str | None,
        list_id: uuid.UUID,
        ticket_id: uuid.UUID | None,
    ) -> Seen:
        replay = None
        if nonce is not None:
            replay = session.scalar(_SCAN_BY_NONCE, {"client": client, "nonce": nonce})
        ticket = presence = None
        if ticket_id is not None:
            row = session.execute(_TICKET, {"ticket_id": ticket_id}).first()
            ticket = None if row is None else (row[0], row[1], row[2])
            presence = _presence_of(
                session.execute(_PRESENCE, {"k_list": list_id, "k_ticket": ticket_id}).first()
            )
        return Seen(replay=replay, ticket=ticket, presence=presence)

    def _next_seq(self, session: Session) -> int:
        return int(session.execute(_NEXT_SEQ).scalar_one())

    def _write_presence(
        self,
        session: Session,
        *,
        write: Write,
        list_id: uuid.UUID,
        ticket_id: uuid.UUID,
        seen: Presence | None,
        gate: str | None,
        now: datetime,
    ) -> Presence:
        """The presence write a decision asks for; under the write lock the state read
        is still the state, so the write needs no guard."""
        seq = self._next_seq(session)
        key = {"k_list": list_id, "k_ticket": ticket_id}
        if write == Write.first_entry or seen is None:
            session.execute(
                _INSERT_PRESENCE,
                {
                    "list_id": list_id,
                    "ticket_id": ticket_id,
                    "inside": True,
                    "entries": 1,
                    "exits": 0,
                    "first_entry_at": now,
                    "last_entry_at": now,
                    "last_exit_at": None,
                    "last_gate": gate,
                    "seq": seq,
                },
            )
            session.execute(_DROP_UNDONE, key)
            return presence_after(Write.first_entry, None, gate=gate, now=now)
        changed = {**key, "k_now": now, "k_gate": gate, "k_seq": seq}
        session.execute(_REENTER if write == Write.reentry else _EXIT, changed)
        return presence_after(write, seen, gate=gate, now=now)

    def verify(
        self, snapshot: Snapshot, qr: str
    ) -> tuple[ScanResult | None, uuid.UUID | None, uuid.UUID | None]:
        """(a refusal, None, None), or (None, the ticket id, its type when the QR says it)
        of a genuine ticket of the relay's event or of a code typed at the gate.

        The relay holds only its own event's key: another event's ticket, genuine or
        forged, is ``invalid_signature`` here (untrusted text never reads as more)."""
        claims = signing.parse_payload(qr)
        if claims is None:
            typed = parse_ticket_code(qr)
            return (
                (None, typed, None)
                if typed is not None
                else (ScanResult.invalid_signature, None, None)
            )
        if claims.event_id == snapshot.event_id and signing.verify(snapshot.public_key, claims):
            return None, claims.ticket_id, claims.ticket_type_id
        return ScanResult.invalid_signature, None, None

    def _list(self, snapshot: Snapshot, list_id: uuid.UUID | None) -> ListInfo:
        found = snapshot.lists.get(list_id if list_id is not None else snapshot.default_list_id)  # type: ignore[arg-type]
        if found is None:
            raise CheckinListNotFound()
        return found

    def _state(
        self,
        snapshot: Snapshot,
        info: ListInfo,
        ticket_id: uuid.UUID | None,
        signed_type: uuid.UUID | None,
        seen: Seen,
    ) -> ScanState:
        ticket = None
        if ticket_id is not None and seen.ticket is not None:
            type_id, holder, status = seen.ticket
            ticket = ScannedTicket(
                id=ticket_id,
                holder_name=holder,
                status=TicketStatus(status),
                ticket_type_id=type_id,
                ticket_type_name=snapshot.ticket_types.get(type_id, ""),
            )
        elif ticket_id is not None and signed_type is not None:
            # Genuinely signed for this event but not pulled yet (sold since the last pull,
            # or the event is above its offline limit): the signature proves it was issued.
            ticket = ScannedTicket(
                id=ticket_id,
                holder_name="",
                status=TicketStatus.valid,
                ticket_type_id=signed_type,
                ticket_type_name=snapshot.ticket_types.get(signed_type, ""),
            )
        return ScanState(
            checkin_list=info.rules,
            ticket=ticket,
            presence=seen.presence,
            type_on_list=ticket is not None and info.admits_type(ticket.ticket_type_id),
        )

    def scan(
        self,
        *,
        client: Client,
        event_id: uuid.UUID,
        qr: str,
        list_id: uuid.UUID | None = None,
        kind: CheckinKind = CheckinKind.entry,
        nonce: str | None = None,
        gate: str | None = None,
    ) -> ScanOutcome:
        """Decide a scan at a gate through the relay, write its presence and record it,
        queued for upstream.

        Invariant: on a list a ticket is admitted once per stay across all the gates of
        this relay, whatever their timing; lock: SQLite's write lock, taken by ``BEGIN
        IMMEDIATE`` before the first read. Idempotent per (gate device, nonce): a retry
        gets the stored answer, the same nonce with another QR is NONCE_REUSED (409).
        """
        snapshot = self.require_snapshot()
        if event_id != snapshot.event_id:
            raise CheckinEventNotFound()
        info = self._list(snapshot, list_id)
        refusal, ticket_id, signed_type = self.verify(snapshot, qr)
        gate = gate or client.gate
        qr_hash = payload_hash(qr)
        with self._transaction() as session:
            seen = self._read(
                session, client=client.key, nonce=nonce, list_id=info.rules.id, ticket_id=ticket_id
            )
            if seen.replay is not None:
                return self._replay(session, snapshot, seen.replay, qr_hash)
            now = utcnow()
            state = self._state(snapshot, info, ticket_id, signed_type, seen)
            write: Write | None = None
            if refusal is not None:
                result = refusal
            else:
                result, write = decide(state, kind=kind, now=now)
            presence = seen.presence
            if write is not None and state.ticket is not None:
                presence = self._write_presence(
                    session,
                    write=write,
                    list_id=info.rules.id,
                    ticket_id=state.ticket.id,
                    seen=seen.presence,
                    gate=gate,
                    now=now,
                )
            checkin_id = uuid.uuid4()
            session.execute(
                _INSERT_SCAN,
                dict(
                    id=checkin_id,
                    client=client.key,
                    client_nonce=nonce,
                    upload_nonce=uuid.uuid4().hex,
                    qr_hash=qr_hash,
                    qr=qr,
                    ticket_id=state.ticket.id if state.ticket is not None else None,
                    list_id=info.rules.id,
                    kind=kind.value,
                    result=result.value,
                    gate=gate,
                    scanned_at=now,
                    received_at=now,
                    offline=False,
                ),
            )
        return ScanOutcome(
            checkin_id=checkin_id,
            result=result,
            kind=kind,
            list_id=info.rules.id,
            scanned_at=now,
            gate=gate,
            ticket=state.ticket,
            presence=presence,
        )

    def _replay(
        self, session: Session, snapshot: Snapshot, stored: RelayScan, qr_hash: str
    ) -> ScanOutcome:
        if stored.qr_hash != qr_hash:
            raise NonceReused(nonce=stored.client_nonce)
        info = snapshot.lists.get(stored.list_id)
        seen = self._read(
            session,
            client=stored.client,
            nonce=None,
            list_id=stored.list_id,
            ticket_id=stored.ticket_id,
        )
        ticket = None
        if info is not None:
            ticket = self._state(snapshot, info, stored.ticket_id, None, seen).ticket
        return ScanOutcome(
            checkin_id=stored.id,
            result=ScanResult(stored.result),
            kind=CheckinKind(stored.kind),
            list_id=stored.list_id,
            scanned_at=stored.scanned_at,
            gate=stored.gate,
            ticket=ticket,
            presence=seen.presence,
            replayed=True,
        )

    # --- a gate's batch of offline scans ------------------------------------------------

    def record_batch(
        self,
        *,
        client: Client,
        device_time: datetime,
        scans: Sequence[OfflineScan | UnreadableScan],
    ) -> BatchAnswer:
        """A gate's offline scans, as upstream takes them (``checkin.offline``): each
        stored once per (gate, nonce); an entry or exit the gate accepted is a fact that
        moves the presence, with the reason the relay would have refused it
        (``conflict``); queued for upstream as the relay's own scans. One write
        transaction for the whole batch (at most 500 scans)."""
        snapshot = self.require_snapshot()
        now = utcnow()
        offset_ms = int((now - device_time) / timedelta(milliseconds=1))
        offset_ms = max(-MAX_CLOCK_OFFSET_MS, min(MAX_CLOCK_OFFSET_MS, offset_ms))
        results: list[UploadResult | None] = [None] * len(scans)
        with self._transaction() as session:
            claimed = []
            for index in sorted(range(len(scans)), key=lambda i: scans[i].nonce):
                scan = scans[index]
                if isinstance(scan, UnreadableScan):  # a wrong field: refused alone
                    results[index] = UploadResult(
                        scan.nonce, UploadStatus.refused, error=scan.error
                    )
                    continue
                info = snapshot.lists.get(scan.list_id)
                if info is None:
                    results[index] = UploadResult(
                        scan.nonce, UploadStatus.refused, error=CheckinListNotFound()
                    )
                    continue
                expected = _ACCEPTED.get(scan.result)
                if expected is not None and expected != scan.kind:
                    results[index] = UploadResult(
                        scan.nonce, UploadStatus.refused, error=ScanResultMismatch()
                    )
                    continue
                stored = session.scalar(
                    select(RelayScan).where(
                        RelayScan.client == client.key, RelayScan.client_nonce == scan.nonce
                    )
                )
                if stored is not None:
                    same = (stored.qr_hash, stored.list_id, stored.kind) == (
                        payload_hash(scan.qr),
                        scan.list_id,
                        scan.kind.value,
                    )
                    results[index] = (
                        UploadResult(
                            scan.nonce,
                            UploadStatus.already_stored,
                            checkin_id=stored.id,
                            conflict=self._conflict_view(session, snapshot, stored),
                        )
                        if same
                        else UploadResult(
                            scan.nonce, UploadStatus.refused, error=NonceReused(nonce=scan.nonce)
                        )
                    )
                    continue
                at = min(scan.scanned_at + timedelta(milliseconds=offset_ms), now)
                claimed.append((index, scan, info, at))
            for index, scan, info, at in sorted(
                claimed, key=lambda c: (str(c[1].list_id), c[3], c[0])
            ):
                row = self._record_offline(
                    session, snapshot=snapshot, client=client, scan=scan, info=info, at=at, now=now
                )
                if row.conflict is None:
                    results[index] = UploadResult(
                        scan.nonce, UploadStatus.stored, checkin_id=row.id
                    )
                else:
                    results[index] = UploadResult(
                        scan.nonce,
                        UploadStatus.conflict,
                        checkin_id=row.id,
                        conflict=self._conflict_view(session, snapshot, row),
                    )
            conflicts = self._client_conflicts(session, snapshot, client)
        return BatchAnswer(
            results=[result for result in results if result is not None],
            conflicts=conflicts,
            clock_offset_ms=offset_ms,
        )

    def _record_offline(
        self,
        session: Session,
        *,
        snapshot: Snapshot,
        client: Client,
        scan: OfflineScan,
        info: ListInfo,
        at: datetime,
        now: datetime,
    ) -> RelayScan:
        refusal, ticket_id, signed_type = self.verify(snapshot, scan.qr)
        seen = self._read(
            session, client=client.key, nonce=None, list_id=info.rules.id, ticket_id=ticket_id
        )
        state = self._state(snapshot, info, ticket_id, signed_type, seen)
        gate = scan.gate or client.gate
        reason: ConflictReason | None = None
        other: uuid.UUID | None = None
        if scan.result in _ACCEPTED:
            if refusal is not None or state.ticket is None:
                reason = ConflictReason(refusal or ScanResult.not_found)
            else:
                result, write = decide(state, kind=scan.kind, now=at)
                if scan.kind == CheckinKind.exit:
                    if write is None:
                        reason = ConflictReason(result.value)
                    else:
                        self._write_presence(
                            session,
                            write=Write.exit,
                            list_id=info.rules.id,
                            ticket_id=state.ticket.id,
                            seen=seen.presence,
                            gate=gate,
                            now=at,
                        )
                else:
                    # An entry the gate let in: the holder is in, whatever the relay says.
                    if result != ScanResult.admitted:
                        reason = ConflictReason(result.value)
                    if seen.presence is None or not seen.presence.inside:
                        self._write_presence(
                            session,
                            write=Write.first_entry if seen.presence is None else Write.reentry,
                            list_id=info.rules.id,
                            ticket_id=state.ticket.id,
                            seen=seen.presence,
                            gate=gate,
                            now=at,
                        )
                    if reason == ConflictReason.already_admitted:
                        other = session.scalar(
                            select(RelayScan.id)
                            .where(
                                RelayScan.ticket_id == state.ticket.id,
                                RelayScan.list_id == info.rules.id,
                                RelayScan.result == ScanResult.admitted.value,
                            )
                            .order_by(RelayScan.conflict.is_not(None), RelayScan.scanned_at.desc())
                            .limit(1)
                        )
        row = RelayScan(
            id=uuid.uuid4(),
            client=client.key,
            client_nonce=scan.nonce,
            upload_nonce=uuid.uuid4().hex,
            qr_hash=payload_hash(scan.qr),
            qr=scan.qr,
            ticket_id=state.ticket.id if state.ticket is not None else None,
            list_id=info.rules.id,
            kind=scan.kind.value,
            result=scan.result.value,
            gate=gate,
            scanned_at=at,
            device_scanned_at=scan.scanned_at,
            received_at=now,
            offline=True,
            conflict=None if reason is None else reason.value,
            conflict_with_id=other,
        )
        session.add(row)
        session.flush()
        return row

    def _record(self, row: RelayScan) -> ScanRecord:
        client = next((c for c in self._devices.values() if c.key == row.client), None)
        return ScanRecord(
            checkin_id=row.id,
            result=ScanResult(row.result),
            kind=CheckinKind(row.kind),
            scanned_at=row.scanned_at,
            device_scanned_at=row.device_scanned_at,
            received_at=row.received_at,
            gate=row.gate,
            device_id=client.device_id if client is not None else None,
            device_name=client.name if client is not None else row.client,
            offline=row.offline,
        )

    def _conflict_view(
        self, session: Session, snapshot: Snapshot, row: RelayScan
    ) -> ScanConflict | None:
        if row.conflict is None:
            return None
        other = (
            session.scalar(select(RelayScan).where(RelayScan.id == row.conflict_with_id))
            if row.conflict_with_id is not None
            else None
        )
        holder = session.scalar(
            select(RelayTicket.holder_name).where(RelayTicket.id == row.ticket_id)
        )
        info = snapshot.lists.get(row.list_id)
        return ScanConflict(
            reason=ConflictReason(row.conflict),
            ticket_id=row.ticket_id,
            holder_name=holder,
            list_id=row.list_id,
            list_name=info.rules.name if info is not None else "",
            scan=self._record(row),
            other=self._record(other) if other is not None else None,
        )

    def _client_conflicts(
        self, session: Session, snapshot: Snapshot, client: Client
    ) -> list[ScanConflict]:
        mine = select(RelayScan.id).where(RelayScan.client == client.key).scalar_subquery()
        rows = session.scalars(
            select(RelayScan)
            .where(
                RelayScan.conflict.is_not(None),
                or_(RelayScan.client == client.key, RelayScan.conflict_with_id.in_(mine)),
            )
            .order_by(RelayScan.scanned_at.desc())
            .limit(DEVICE_CONFLICTS_SHOWN)
        ).all()
        return [view for row in rows if (view := self._conflict_view(session, snapshot, row))]

    # --- the upstream bundle, applied --------------------------------------------------

    def cursor(self) -> str | None:
        with self.database.session(write=False) as session:
            found = session.get(RelayMeta, "cursor")
            return None if found is None else str(json.loads(found.value))

    def apply_page(self, page: dict[str, Any]) -> None:
        """One page of upstream's bundle, applied in one write transaction with its
        cursor (a cut-off pull resumes from the last page applied). Tickets are upserts;
        a presence is taken from upstream unless the relay holds scans of that ticket
        and list not yet acknowledged (then the relay's own state is newer, and the next
        pull brings upstream's after the push)."""
        event_id = uuid.UUID(page["event"]["id"])
        if self.event_id is not None and event_id != self.event_id:
            raise RelayEventMismatch(token_event_id=str(event_id))
        small = {
            key: page[key]
            for key in ("event", "device", "public_key", "key_id", "lists", "ticket_types", "full")
        }
        with self._writing() as session:
            seq = self._next_seq(session)
            self._apply_tickets(session, page["tickets"], seq)
            queued: set[tuple[uuid.UUID, uuid.UUID]] = {
                (row[0], row[1])
                for row in session.execute(
                    select(RelayScan.list_id, RelayScan.ticket_id)
                    .where(RelayScan.upload_status.is_(None), RelayScan.ticket_id.is_not(None))
                    .distinct()
                )
                if row[1] is not None
            }
            self._apply_presences(session, page["presences"], queued, seq)
            for list_text, ticket_text in page.get("undone", []):
                key = (uuid.UUID(list_text), uuid.UUID(ticket_text))
                if key in queued:
                    continue
                session.execute(
                    delete(RelayPresence).where(
                        RelayPresence.list_id == key[0], RelayPresence.ticket_id == key[1]
                    )
                )
                session.merge(RelayUndone(list_id=key[0], ticket_id=key[1], seq=seq))
            # Devices revoked upstream: their tokens stop working here too.
            revoked = [uuid.UUID(text) for text in page.get("revoked_devices", [])]
            if revoked:
                session.execute(delete(RelayDevice).where(RelayDevice.device_id.in_(revoked)))
            self._put(session, "bundle", small)
            self._put(session, "cursor", page["cursor"])
            if page["complete"]:
                self._put(session, "last_pull_at", utcnow().isoformat())
        self._load()

    def _apply_tickets(self, session: Session, tickets: list[list[Any]], seq: int) -> None:
        if not tickets:
            return
        ids = [uuid.UUID(item[0]) for item in tickets]
        known = {
            row[0]: (row[1], row[2], row[3])
            for row in session.execute(
                select(
                    RelayTicket.id,
                    RelayTicket.ticket_type_id,
                    RelayTicket.holder_name,
                    RelayTicket.status,
                ).where(RelayTicket.id.in_(ids))
            )
        }
        changed = []
        for ticket_id, (_id_text, type_text, holder, status) in zip(ids, tickets, strict=True):
            values = (uuid.UUID(type_text), holder, status)
            if known.get(ticket_id) != values:
                changed.append(
                    {
                        "id": ticket_id,
                        "ticket_type_id": values[0],
                        "holder_name": holder,
                        "status": status,
                        "seq": seq,
                    }
                )
        if changed:
            session.execute(insert(RelayTicket).prefix_with("OR REPLACE"), changed)

    def _apply_presences(
        self,
        session: Session,
        presences: list[list[Any]],
        queued: set[tuple[uuid.UUID, uuid.UUID]],
        seq: int,
    ) -> None:
        rows = [
            (
                uuid.UUID(item[0]),
                uuid.UUID(item[1]),
                bool(item[2]),
                int(item[3]),
                item[4],
                item[5] if len(item) > 5 else None,  # the gate: upstreams since 0014
            )
            for item in presences
        ]
        rows = [row for row in rows if (row[0], row[1]) not in queued]
        if not rows:
            return
        known = {
            (row[0], row[1]): row
            for row in session.execute(
                select(
                    RelayPresence.list_id,
                    RelayPresence.ticket_id,
                    RelayPresence.inside,
                    RelayPresence.entries,
                    RelayPresence.first_entry_at,
                    RelayPresence.last_exit_at,
                    RelayPresence.last_gate,
                ).where(
                    tuple_(RelayPresence.list_id, RelayPresence.ticket_id).in_(
                        [(row[0], row[1]) for row in rows]
                    )
                )
            )
        }
        changed = []
        for list_id, ticket_id, inside, entries, last_entry, gate in rows:
            local = known.get((list_id, ticket_id))
            if local is not None and (bool(local.inside), local.entries) == (inside, entries):
                continue
            last_entry_at = datetime.fromisoformat(last_entry)
            changed.append(
                {
                    "list_id": list_id,
                    "ticket_id": ticket_id,
                    "inside": inside,
                    "entries": entries,
                    "exits": entries - (1 if inside else 0),
                    "first_entry_at": local.first_entry_at if local is not None else last_entry_at,
                    "last_entry_at": last_entry_at,
                    "last_exit_at": local.last_exit_at if local is not None else None,
                    "last_gate": gate or (local.last_gate if local is not None else None),
                    "seq": seq,
                }
            )
        if changed:
            session.execute(insert(RelayPresence).prefix_with("OR REPLACE"), changed)
            session.execute(
                delete(RelayUndone).where(
                    tuple_(RelayUndone.list_id, RelayUndone.ticket_id).in_(
                        [(item["list_id"], item["ticket_id"]) for item in changed]
                    )
                )
            )

    def _put(self, session: Session, key: str, value: Any) -> None:
        session.merge(RelayMeta(key=key, value=json.dumps(value)))

    def note(self, **values: Any) -> None:
        """Keep small values of the sync (last push, what upstream reported)."""
        with self._writing() as session:
            for key, value in values.items():
                self._put(session, key, value)

    def meta(self, key: str) -> Any:
        with self.database.session(write=False) as session:
            found = session.get(RelayMeta, key)
            return None if found is None else json.loads(found.value)

    # --- the queue -----------------------------------------------------------------------

    def queued(self, *, limit: int) -> list[QueuedScan]:
        """The oldest scans not yet acknowledged by upstream (refused ones are kept but
        not sent again: upstream would refuse them again)."""
        with self.database.session(write=False) as session:
            rows = session.execute(
                select(
                    RelayScan.upload_nonce,
                    RelayScan.qr,
                    RelayScan.list_id,
                    RelayScan.kind,
                    RelayScan.scanned_at,
                    RelayScan.result,
                    RelayScan.gate,
                )
                .where(RelayScan.upload_status.is_(None))
                .order_by(RelayScan.position)
                .limit(limit)
            ).all()
        return [QueuedScan(*row) for row in rows]

    def acknowledge(self, results: list[dict[str, Any]]) -> UploadReport:
        """Upstream's answers to a batch, by nonce: stored, already_stored and conflict
        leave the queue; refused stays, with its error, shown by ``status``."""
        report = UploadReport()
        now = utcnow()
        with self._writing() as session:
            for item in results:
                status = item["status"]
                error = item.get("error")
                checkin_id = item.get("checkin_id")
                session.execute(
                    update(RelayScan)
                    .where(
                        RelayScan.upload_nonce == item["nonce"], RelayScan.upload_status.is_(None)
                    )
                    .values(
                        upload_status=status,
                        uploaded_at=now,
                        upstream_checkin_id=uuid.UUID(checkin_id) if checkin_id else None,
                        upload_error=json.dumps(error) if error else None,
                    )
                )
                if status == UploadStatus.refused:
                    report.refused += 1
                else:
                    report.stored += 1
        return report

    def status(self) -> dict[str, Any]:
        with self.database.session(write=False) as session:
            queue = session.scalar(
                select(func.count()).select_from(RelayScan).where(RelayScan.upload_status.is_(None))
            )
            scans = session.scalar(select(func.count()).select_from(RelayScan))
            refused = session.execute(
                select(
                    RelayScan.upload_nonce,
                    RelayScan.gate,
                    RelayScan.kind,
                    RelayScan.result,
                    RelayScan.scanned_at,
                    RelayScan.upload_error,
                )
                .where(RelayScan.upload_status == UploadStatus.refused.value)
                .order_by(RelayScan.position)
                .limit(100)
            ).all()
            values = {row.key: json.loads(row.value) for row in session.scalars(select(RelayMeta))}
        snapshot = self._snapshot
        return {
            "event_id": None if snapshot is None else str(snapshot.event_id),
            "ready": snapshot is not None,
            "scans": scans,
            "queue": queue,
            "refused": [
                {
                    "nonce": row.upload_nonce,
                    "gate": row.gate,
                    "kind": row.kind,
                    "result": row.result,
                    "scanned_at": row.scanned_at.isoformat(),
                    "error": json.loads(row.upload_error) if row.upload_error else None,
                }
                for row in refused
            ],
            "last_pull_at": values.get("last_pull_at"),
            "last_push_at": values.get("last_push_at"),
            "conflicts": values.get("conflicts", []),
            "devices": len(self._devices),
        }

    # --- the relay's own bundle, for its gates ---------------------------------------

    def bundle_page(self, *, client: Client, cursor: str | None) -> dict[str, Any]:
        """A page of the relay's bundle for one of its gates, shaped as upstream's
        (``BundleOut``): what changed at the relay since the gate's last sync, by the
        relay's change sequence (tickets, then presences, then the presences dropped).
        The cursor is taken before the first page is read, so a change made meanwhile
        comes in the next sync."""
        snapshot = self.require_snapshot()
        with self.database.session(write=False) as session:
            if cursor is None:
                since, upto, phase, after = 0, self._seq(session), "tickets", None
            else:
                since, next_upto, phase, after = _decode_cursor(cursor, snapshot.event_id)
                # A new sync (the last one's final cursor) reads up to the changes now.
                upto = self._seq(session) if next_upto is None else next_upto
            page: dict[str, Any] = {
                "event": snapshot.event,
                "device": {"id": str(client.device_id), "name": client.name, "gate": client.gate},
                "public_key": snapshot.public_key_base64,
                "key_id": snapshot.key_id,
                "lists": [info.raw for info in snapshot.lists.values()],
                "ticket_types": [
                    {"id": str(type_id), "name": name}
                    for type_id, name in snapshot.ticket_types.items()
                ],
                "full": snapshot.full,
                "tickets": [],
                "presences": [],
                "undone": [],
                "server_time": utcnow().isoformat(),
                "complete": False,
            }
            if phase == "tickets":
                rows = session.execute(
                    select(
                        RelayTicket.id,
                        RelayTicket.ticket_type_id,
                        RelayTicket.holder_name,
                        RelayTicket.status,
                        RelayTicket.seq,
                    )
                    .where(
                        RelayTicket.seq > since,
                        RelayTicket.seq <= upto,
                        *_after((RelayTicket.seq, RelayTicket.id), after),
                    )
                    .order_by(RelayTicket.seq, RelayTicket.id)
                    .limit(BUNDLE_PAGE_SIZE + 1)
                ).all()
                page["tickets"] = [
                    [str(r.id), str(r.ticket_type_id), r.holder_name, r.status]
                    for r in rows[:BUNDLE_PAGE_SIZE]
                ]
                if len(rows) > BUNDLE_PAGE_SIZE:
                    last = rows[BUNDLE_PAGE_SIZE - 1]
                    page["cursor"] = _encode_cursor(
                        snapshot.event_id, since, upto, "tickets", [last.seq, str(last.id)]
                    )
                    return page
                phase, after = "presences", None
            presence_rows = session.execute(
                select(
                    RelayPresence.list_id,
                    RelayPresence.ticket_id,
                    RelayPresence.inside,
                    RelayPresence.entries,
                    RelayPresence.last_entry_at,
                    RelayPresence.last_gate,
                    RelayPresence.seq,
                )
                .where(
                    RelayPresence.seq > since,
                    RelayPresence.seq <= upto,
                    *_after(
                        (RelayPresence.seq, RelayPresence.list_id, RelayPresence.ticket_id), after
                    ),
                )
                .order_by(RelayPresence.seq, RelayPresence.list_id, RelayPresence.ticket_id)
                .limit(BUNDLE_PAGE_SIZE + 1)
            ).all()
            page["presences"] = [
                [
                    str(r.list_id),
                    str(r.ticket_id),
                    bool(r.inside),
                    r.entries,
                    r.last_entry_at.isoformat(),
                    r.last_gate,
                ]
                for r in presence_rows[:BUNDLE_PAGE_SIZE]
            ]
            if len(presence_rows) > BUNDLE_PAGE_SIZE:
                last_presence = presence_rows[BUNDLE_PAGE_SIZE - 1]
                page["cursor"] = _encode_cursor(
                    snapshot.event_id,
                    since,
                    upto,
                    "presences",
                    [last_presence.seq, str(last_presence.list_id), str(last_presence.ticket_id)],
                )
                return page
            if since:
                page["undone"] = [
                    [str(r[0]), str(r[1])]
                    for r in session.execute(
                        select(RelayUndone.list_id, RelayUndone.ticket_id).where(
                            RelayUndone.seq > since, RelayUndone.seq <= upto
                        )
                    )
                ]
            page["cursor"] = _encode_cursor(snapshot.event_id, upto, None, "tickets", None)
            page["complete"] = True
            return page

    def _seq(self, session: Session) -> int:
        return int(session.scalar(select(RelayCounter.seq).where(RelayCounter.id == 1)) or 0)


def _after(columns: tuple[Any, ...], after: list[Any] | None) -> list[Any]:
    """The keyset condition: rows after ``after`` in ``columns`` order (row values)."""
    if after is None:
        return []
    values = [after[0], *(uuid.UUID(text) for text in after[1:])]
    return [tuple_(*columns) > tuple_(*values)]


def _encode_cursor(
    event_id: uuid.UUID, since: int, upto: int | None, phase: str, after: list[Any] | None
) -> str:
    raw = {"e": str(event_id), "s": since, "u": upto, "p": phase, "a": after}
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


def _decode_cursor(text: str, event_id: uuid.UUID) -> tuple[int, int | None, str, list[Any] | None]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if raw["e"] != str(event_id) or raw["p"] not in ("tickets", "presences"):
            raise ValueError("cursor")
        since, upto = int(raw["s"]), None if raw["u"] is None else int(raw["u"])
        after = raw["a"]
        if after is not None:
            expected = 2 if raw["p"] == "tickets" else 3
            if not isinstance(after, list) or len(after) != expected:
                raise ValueError("after")
            after = [int(after[0]), *(str(uuid.UUID(str(part))) for part in after[1:])]
        return since, upto, raw["p"], after
    except (ValueError, KeyError, TypeError, IndexError, binascii.Error, UnicodeDecodeError):
        raise BundleCursorInvalid() from None
