from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from admitone.checkin.models import ScanResult
from admitone.checkin.service import CheckinStats, FoundTicket, ScanOutcome, UndoneAdmission
from admitone.schemas import InputModel
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


class ScanOut(BaseModel):
    result: ScanResult
    admitted: bool = Field(description="True only for the scan that let the holder in")
    message: str
    checkin_id: uuid.UUID
    scanned_at: datetime
    gate: str | None
    ticket: ScannedTicketOut | None
    first_admission: FirstAdmissionOut | None = Field(
        description="When and where the ticket was first admitted (already_admitted)"
    )
    replayed: bool = Field(description="True when this is the stored answer to a retried nonce")

    @classmethod
    def from_outcome(cls, outcome: ScanOutcome) -> ScanOut:
        ticket = outcome.ticket
        first = None
        if (
            outcome.result == ScanResult.already_admitted
            and ticket is not None
            and ticket.admitted_at is not None
        ):
            first = FirstAdmissionOut(
                at=ticket.admitted_at, gate=ticket.admitted_gate, by=ticket.admitted_by
            )
        return cls(
            result=outcome.result,
            admitted=outcome.admitted,
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
            replayed=outcome.replayed,
        )


class TypeStatsOut(BaseModel):
    ticket_type_id: uuid.UUID
    name: str
    admitted: int
    total: int


class CheckinStatsOut(BaseModel):
    admitted: int
    total: int = Field(description="Valid (not revoked) tickets")
    by_ticket_type: list[TypeStatsOut]

    @classmethod
    def from_stats(cls, stats: CheckinStats) -> CheckinStatsOut:
        return cls(
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
    admission: AdmissionOut | None = Field(description="The current admission, if any")

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
            checkin_id=undone.checkin_id,
            admitted_at=undone.admitted_at,
            admitted_gate=undone.admitted_gate,
            undone_at=undone.undone_at,
            undone_by_id=undone.undone_by_id,
        )
