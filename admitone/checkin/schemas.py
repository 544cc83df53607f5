from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from admitone.checkin.bundle import BundlePage
from admitone.checkin.lists import ListStats, ListView
from admitone.checkin.models import CheckinDevice, CheckinKind, ConflictReason, ScanResult
from admitone.checkin.offline import (
    MAX_BATCH,
    BatchAnswer,
    OfflineScan,
    ScanConflict,
    UnreadableScan,
    UploadResult,
    UploadStatus,
)
from admitone.checkin.service import (
    CheckinStats,
    FoundTicket,
    Presence,
    ScanOutcome,
    UndoneAdmission,
)
from admitone.errors import InvalidInput
from admitone.schemas import InputModel, validation_problems
from admitone.tickets.models import TicketStatus
from admitone.tickets.schemas import TicketTypeRef
from admitone.tickets.signing import ALGORITHM, ENCODED_LENGTH, PAYLOAD_FORMAT, EventKey

# The largest QR code holds 7,089 characters; anything longer was not scanned.
MAX_QR_TEXT = 8192

# Printable text only: PostgreSQL refuses NUL, and a gate name is shown on screens.
GateName = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
]
Nonce = Annotated[
    str, StringConstraints(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
]

MESSAGES = {
    ScanResult.admitted: "Welcome in.",
    ScanResult.already_admitted: "Already admitted.",
    ScanResult.invalid_signature: "Not a valid ticket.",
    ScanResult.wrong_event: "This ticket is for another event.",
    ScanResult.revoked: "This ticket was refunded or cancelled.",
    ScanResult.not_found: "Unknown ticket.",
    ScanResult.exited: "Goodbye: exit recorded.",
    ScanResult.wrong_list: "This ticket is not admitted through this list.",
    ScanResult.outside_window: "This list does not admit at this time.",
    ScanResult.not_inside: "This ticket is not inside: there is no entry to exit from.",
}


class ScanIn(InputModel):
    qr: str = Field(
        max_length=MAX_QR_TEXT,
        description="The text read from the QR code, as scanned; or the ticket code "
        "printed under it, typed (any case, with or without separators)",
        examples=["AEAAAAAAAAAAAAAAAAAAAAAAAA..."],
    )
    gate: GateName | None = Field(default=None, examples=["North gate"])
    nonce: Nonce | None = Field(
        default=None,
        description="A fresh random value per scan (a UUID): a retry with the same nonce "
        "gets the first answer instead of being scanned again",
    )
    list_id: uuid.UUID | None = Field(
        default=None,
        description="The check-in list scanned for (GET .../checkin-lists); default: the "
        "event's default list",
    )
    kind: CheckinKind = Field(default=CheckinKind.entry, description="`entry` (default) or `exit`")


class ScannedTicketOut(BaseModel):
    id: uuid.UUID
    holder_name: str
    status: TicketStatus
    ticket_type: TicketTypeRef


class FirstAdmissionOut(BaseModel):
    at: datetime
    gate: str | None
    by: str | None = Field(
        default=None, description="The member who admitted it (name, else e-mail)"
    )


class PresenceOut(BaseModel):
    inside: bool = Field(description="Inside now, on this list")
    entries: int
    exits: int
    first_entry_at: datetime
    last_entry_at: datetime
    last_exit_at: datetime | None
    last_gate: str | None

    @classmethod
    def from_presence(cls, presence: Presence) -> PresenceOut:
        return cls(
            inside=presence.inside,
            entries=presence.entries,
            exits=presence.exits,
            first_entry_at=presence.first_entry_at,
            last_entry_at=presence.last_entry_at,
            last_exit_at=presence.last_exit_at,
            last_gate=presence.last_gate,
        )


class ScanOut(BaseModel):
    result: ScanResult
    admitted: bool = Field(description="True only for the scan that let the holder in")
    accepted: bool = Field(description="True when the entry or the exit was recorded")
    kind: CheckinKind
    list_id: uuid.UUID = Field(description="The check-in list the scan was for")
    message: str
    checkin_id: uuid.UUID
    scanned_at: datetime
    gate: str | None
    ticket: ScannedTicketOut | None
    first_admission: FirstAdmissionOut | None = Field(
        description="already_admitted: the entry this scan repeats (when, where, by whom)"
    )
    presence: PresenceOut | None = Field(
        description="The ticket's state on the list after this scan (null: never entered)"
    )
    replayed: bool = Field(description="True when this is the stored answer to a retried nonce")

    @classmethod
    def from_outcome(cls, outcome: ScanOutcome) -> ScanOut:
        ticket = outcome.ticket
        presence = outcome.presence
        first = None
        if outcome.result == ScanResult.already_admitted and presence is not None:
            first = FirstAdmissionOut(
                at=presence.last_entry_at, gate=presence.last_gate, by=outcome.admitted_by
            )
        return cls(
            result=outcome.result,
            admitted=outcome.admitted,
            accepted=outcome.accepted,
            kind=outcome.kind,
            list_id=outcome.list_id,
            message=MESSAGES[outcome.result],
            checkin_id=outcome.checkin_id,
            scanned_at=outcome.scanned_at,
            gate=outcome.gate,
            ticket=None
            if ticket is None
            else ScannedTicketOut(
                id=ticket.id,
                holder_name=ticket.holder_name,
                status=ticket.status,
                ticket_type=TicketTypeRef(id=ticket.ticket_type_id, name=ticket.ticket_type_name),
            ),
            first_admission=first,
            presence=None if presence is None else PresenceOut.from_presence(presence),
            replayed=outcome.replayed,
        )


class TypeStatsOut(BaseModel):
    ticket_type_id: uuid.UUID
    name: str
    admitted: int
    total: int


class CheckinStatsOut(BaseModel):
    list_id: uuid.UUID | None = Field(
        description="The list counted (null: the event has no default list yet)"
    )
    admitted: int = Field(description="Tickets inside now, on the list")
    total: int = Field(description="Valid (not revoked) tickets of the list's types")
    by_ticket_type: list[TypeStatsOut]

    @classmethod
    def from_stats(cls, stats: CheckinStats) -> CheckinStatsOut:
        return cls(
            list_id=stats.list_id,
            admitted=stats.admitted,
            total=stats.total,
            by_ticket_type=[
                TypeStatsOut(
                    ticket_type_id=item.ticket_type_id,
                    name=item.name,
                    admitted=item.admitted,
                    total=item.total,
                )
                for item in stats.by_ticket_type
            ],
        )


class CheckinKeyOut(BaseModel):
    event_id: uuid.UUID
    algorithm: str = Field(examples=[ALGORITHM])
    key_id: str = Field(description="First 16 hex digits of SHA-256(public key)")
    public_key: str = Field(description="The raw 32-byte Ed25519 public key, base64")
    public_key_pem: str = Field(description="The same key as SubjectPublicKeyInfo PEM")
    payload_format: str = Field(examples=[PAYLOAD_FORMAT], description="See docs/ticket-signing.md")
    payload_length: int = Field(description="Characters in a QR payload of this format")
    created_at: datetime

    @classmethod
    def from_key(cls, key: EventKey) -> CheckinKeyOut:
        return cls(
            event_id=key.event_id,
            algorithm=ALGORITHM,
            key_id=key.key_id,
            public_key=key.public_key_base64,
            public_key_pem=key.public_key_pem,
            payload_format=PAYLOAD_FORMAT,
            payload_length=ENCODED_LENGTH,
            created_at=key.created_at,
        )


class AdmissionOut(BaseModel):
    at: datetime
    gate: str | None
    by: str | None


class FoundTicketOut(BaseModel):
    id: uuid.UUID = Field(description="Send it as `qr` to the scan to admit the ticket")
    holder_name: str
    ticket_type_name: str
    order_code: str
    status: TicketStatus
    admission: AdmissionOut | None = Field(
        description="The current admission on the list searched for (inside now), if any"
    )

    @classmethod
    def from_found(cls, found: FoundTicket) -> FoundTicketOut:
        return cls(
            id=found.id,
            holder_name=found.holder_name,
            ticket_type_name=found.ticket_type_name,
            order_code=found.order_code,
            status=found.status,
            admission=None
            if found.admitted_at is None
            else AdmissionOut(at=found.admitted_at, gate=found.admitted_gate, by=found.admitted_by),
        )


class UndoneAdmissionOut(BaseModel):
    ticket_id: uuid.UUID
    holder_name: str
    list_id: uuid.UUID
    checkin_id: uuid.UUID = Field(description="The admitting scan, which stays recorded")
    admitted_at: datetime
    admitted_gate: str | None
    undone_at: datetime
    undone_by_id: uuid.UUID

    @classmethod
    def from_undone(cls, undone: UndoneAdmission) -> UndoneAdmissionOut:
        return cls(
            ticket_id=undone.ticket_id,
            holder_name=undone.holder_name,
            list_id=undone.list_id,
            checkin_id=undone.checkin_id,
            admitted_at=undone.admitted_at,
            admitted_gate=undone.admitted_gate,
            undone_at=undone.undone_at,
            undone_by_id=undone.undone_by_id,
        )


# --- check-in lists ----------------------------------------------------------------------

ListName = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
]
# At most as many as an event can have ticket types, with room: a bound on the input.
TicketTypeIds = Annotated[list[uuid.UUID], Field(min_length=1, max_length=200)]


class CheckinListIn(InputModel):
    name: ListName = Field(examples=["VIP entrance"])
    ticket_type_ids: TicketTypeIds | None = Field(
        default=None,
        description="The event's ticket types this list admits; null or left out: all "
        "(also those added later)",
    )
    allow_reentry: bool = Field(
        default=False, description="Whether a ticket may enter again after a recorded exit"
    )
    valid_from: AwareDatetime | None = Field(
        default=None, description="Entries from this time on (ISO 8601 with an offset)"
    )
    valid_until: AwareDatetime | None = Field(
        default=None, description="Entries until this time (after valid_from)"
    )


class CheckinListPatch(InputModel):
    """A partial update: a field left out is unchanged. ``ticket_type_ids``,
    ``valid_from`` and ``valid_until`` take null (all types; no bound)."""

    name: ListName | None = None
    ticket_type_ids: TicketTypeIds | None = None
    allow_reentry: bool | None = None
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None

    @model_validator(mode="after")
    def _no_null_for_required(self) -> CheckinListPatch:
        for name in ("name", "allow_reentry"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class CheckinListOut(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    name: str
    is_default: bool = Field(description="The list a scan uses when it names none")
    ticket_type_ids: list[uuid.UUID] | None = Field(description="null: all ticket types")
    allow_reentry: bool
    valid_from: datetime | None
    valid_until: datetime | None
    created_at: datetime

    @classmethod
    def from_view(cls, view: ListView) -> CheckinListOut:
        item = view.checkin_list
        return cls(
            id=item.id,
            event_id=item.event_id,
            name=item.name,
            is_default=item.is_default,
            ticket_type_ids=view.ticket_type_ids,
            allow_reentry=item.allow_reentry,
            valid_from=item.valid_from,
            valid_until=item.valid_until,
            created_at=item.created_at,
        )


class ListTypeCountOut(BaseModel):
    ticket_type_id: uuid.UUID
    name: str
    inside: int
    admitted: int
    total: int = Field(description="Valid tickets of this type")


class GateCountOut(BaseModel):
    gate: str | None
    entries: int
    exits: int


class QuarterHourCountOut(BaseModel):
    starts_at: datetime = Field(description="Start of the quarter hour, UTC")
    entries: int
    exits: int


class ListStatsOut(BaseModel):
    list_id: uuid.UUID
    inside: int = Field(description="Tickets inside now")
    admitted: int = Field(description="Tickets with at least one entry on the list")
    total: int = Field(description="Valid tickets of the list's ticket types")
    by_ticket_type: list[ListTypeCountOut]
    by_gate: list[GateCountOut] = Field(
        description="Recorded entries and exits by gate (undone entries left out)"
    )
    by_quarter_hour: list[QuarterHourCountOut] = Field(
        description="Recorded entries and exits per 15 minutes, UTC, quarters with scans"
    )

    @classmethod
    def from_stats(cls, stats: ListStats) -> ListStatsOut:
        return cls(
            list_id=stats.list_id,
            inside=stats.inside,
            admitted=stats.admitted,
            total=stats.total,
            by_ticket_type=[ListTypeCountOut(**vars(item)) for item in stats.by_ticket_type],
            by_gate=[GateCountOut(**vars(item)) for item in stats.by_gate],
            by_quarter_hour=[QuarterHourCountOut(**vars(item)) for item in stats.by_quarter_hour],
        )


# --- gate devices, the offline bundle, batches of offline scans, conflicts ---------------


class DeviceIn(InputModel):
    name: GateName = Field(description="What the staff call this device", examples=["Phone 3"])
    gate: GateName = Field(description="Where it scans", examples=["North gate"])


class DeviceOut(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    name: str
    gate: str
    created_at: datetime
    last_seen_at: datetime | None = Field(description="Its last call with its token")
    clock_offset_ms: int | None = Field(
        description="The server's clock minus the device's, at its last upload"
    )
    revoked_at: datetime | None
    paired_by: str | None = Field(default=None, description="The member who paired it")
    scans: int = Field(default=0, description="Scans it made (online and offline)")

    @classmethod
    def from_device(
        cls, device: CheckinDevice, *, paired_by: str | None = None, scans: int = 0
    ) -> DeviceOut:
        return cls(
            id=device.id,
            event_id=device.event_id,
            name=device.name,
            gate=device.gate,
            created_at=device.created_at,
            last_seen_at=device.last_seen_at,
            clock_offset_ms=device.clock_offset_ms,
            revoked_at=device.revoked_at,
            paired_by=paired_by,
            scans=scans,
        )


class PairedDeviceOut(DeviceOut):
    token: str = Field(
        description="The device's bearer token for /scan/... and the online scan; "
        "given once, never again"
    )


class BundleEventOut(BaseModel):
    id: uuid.UUID
    name: str
    starts_at: datetime
    ends_at: datetime
    timezone: str


class BundleDeviceOut(BaseModel):
    id: uuid.UUID
    name: str
    gate: str


class TicketTypeNameOut(BaseModel):
    id: uuid.UUID
    name: str


class BundleOut(BaseModel):
    event: BundleEventOut
    device: BundleDeviceOut
    public_key: str = Field(description="The event's Ed25519 public key, raw 32 bytes, base64")
    key_id: str
    lists: list[CheckinListOut]
    ticket_types: list[TicketTypeNameOut]
    full: bool = Field(
        description="true: `tickets` holds every ticket of the event; false (an event above "
        "its offline ticket limit): only the revoked ones"
    )
    tickets: list[tuple[uuid.UUID, uuid.UUID, str, TicketStatus]] = Field(
        description="Changed since the cursor: [id, ticket type id, holder name, status]"
    )
    presences: list[tuple[uuid.UUID, uuid.UUID, bool, int, datetime, str | None]] = Field(
        description="Changed since the cursor: [list id, ticket id, inside, entries, last "
        "entry, last gate]"
    )
    undone: list[tuple[uuid.UUID, uuid.UUID]] = Field(
        description="[list id, ticket id] whose only entry was undone: no presence any more"
    )
    conflicts: list[ConflictOut] = Field(
        default_factory=list,
        description="On the last page (complete): the conflicts involving this device, "
        "newest first",
    )
    revoked_devices: list[uuid.UUID] = Field(
        default_factory=list,
        description="On the last page: the event's revoked devices (a site relay refuses them)",
    )
    server_time: datetime
    cursor: str = Field(description="Send it back: the next page, or the next sync when complete")
    complete: bool

    @classmethod
    def from_page(cls, page: BundlePage) -> BundleOut:
        event, device = page.device.event, page.device.device
        return cls(
            event=BundleEventOut(
                id=event.id,
                name=event.title,
                starts_at=event.starts_at,
                ends_at=event.ends_at,
                timezone=event.timezone,
            ),
            device=BundleDeviceOut(id=device.id, name=device.name, gate=device.gate),
            public_key=page.key.public_key_base64,
            key_id=page.key.key_id,
            lists=[CheckinListOut.from_view(view) for view in page.lists],
            ticket_types=[TicketTypeNameOut(id=i, name=n) for i, n in page.ticket_types],
            full=page.full,
            tickets=page.tickets,
            presences=page.presences,
            undone=page.undone,
            conflicts=[ConflictOut.from_conflict(item) for item in page.conflicts],
            revoked_devices=page.revoked_devices,
            server_time=page.server_time,
            cursor=page.cursor,
            complete=page.complete,
        )


class OfflineScanIn(InputModel):
    nonce: Nonce = Field(description="Unique per scan of this device (a UUID)")
    qr: str = Field(max_length=MAX_QR_TEXT, description="The scanned or typed text")
    list_id: uuid.UUID
    kind: CheckinKind
    scanned_at: AwareDatetime = Field(description="The device's clock at the scan")
    result: ScanResult = Field(
        description="What the device showed: `admitted` or `exited` when it let the holder "
        "through, else its refusal"
    )
    gate: GateName | None = Field(
        default=None,
        description="Where it was scanned, when not at the device's gate (a site relay's gates)",
    )


class BatchIn(InputModel):
    device_time: AwareDatetime = Field(description="The device's clock when sending")
    # Each item is read on its own (``read_scans``): one with a wrong field is refused
    # alone, so one bad item never holds back the device's whole queue.
    scans: list[Any] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="Each an OfflineScanIn (nonce, qr, list_id, kind, scanned_at, result, "
        "gate); an item with a wrong field is answered `refused` (VALIDATION_ERROR), the "
        "others are stored",
    )

    def read_scans(self) -> list[OfflineScan | UnreadableScan]:
        read: list[OfflineScan | UnreadableScan] = []
        for raw in self.scans:
            try:
                item = OfflineScanIn.model_validate(raw)
            except ValidationError as exc:
                nonce = raw.get("nonce") if isinstance(raw, dict) else None
                problems = validation_problems(exc)
                read.append(
                    UnreadableScan(
                        nonce=nonce if isinstance(nonce, str) else "",
                        error=InvalidInput(errors=problems),
                    )
                )
                continue
            read.append(
                OfflineScan(
                    nonce=item.nonce,
                    qr=item.qr,
                    list_id=item.list_id,
                    kind=item.kind,
                    scanned_at=item.scanned_at,
                    result=item.result,
                    gate=item.gate,
                )
            )
        return read


class ScanRecordOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from offline.ScanRecord

    checkin_id: uuid.UUID
    result: ScanResult
    kind: CheckinKind
    scanned_at: datetime = Field(description="Corrected by the device's clock offset")
    device_scanned_at: datetime | None = Field(description="The device's own clock")
    received_at: datetime | None
    gate: str | None
    device_id: uuid.UUID | None
    device_name: str | None
    offline: bool


class ConflictOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from offline.ScanConflict

    reason: ConflictReason
    ticket_id: uuid.UUID | None
    holder_name: str | None
    list_id: uuid.UUID
    list_name: str
    scan: ScanRecordOut = Field(description="The offline scan the server would have refused")
    other: ScanRecordOut | None = Field(
        description="already_admitted: the entry it repeats (when, which gate, which device)"
    )

    @classmethod
    def from_conflict(cls, conflict: ScanConflict) -> ConflictOut:
        return cls.model_validate(conflict)


class UploadErrorOut(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class UploadResultOut(BaseModel):
    nonce: str
    status: UploadStatus = Field(
        description="stored, already_stored, conflict (stored, with the reason the server "
        "would have refused it), or refused (not stored: keep it and show it)"
    )
    checkin_id: uuid.UUID | None
    conflict: ConflictOut | None
    error: UploadErrorOut | None

    @classmethod
    def from_result(cls, result: UploadResult) -> UploadResultOut:
        return cls(
            nonce=result.nonce,
            status=result.status,
            checkin_id=result.checkin_id,
            conflict=None
            if result.conflict is None
            else ConflictOut.from_conflict(result.conflict),
            error=None
            if result.error is None
            else UploadErrorOut(
                code=result.error.code, message=result.error.message, details=result.error.details
            ),
        )


class BatchOut(BaseModel):
    results: list[UploadResultOut] = Field(description="One per scan sent, in the same order")
    conflicts: list[ConflictOut] = Field(
        description="The conflicts involving this device, newest first"
    )
    clock_offset_ms: int

    @classmethod
    def from_answer(cls, answer: BatchAnswer) -> BatchOut:
        return cls(
            results=[UploadResultOut.from_result(item) for item in answer.results],
            conflicts=[ConflictOut.from_conflict(item) for item in answer.conflicts],
            clock_offset_ms=answer.clock_offset_ms,
        )
