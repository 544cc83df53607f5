from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from admitone.schemas import InputModel, OneLine, OutputModel
from admitone.tickets.models import TicketStatus
from admitone.tickets.service import HOLDER_NAME_MAX, TicketView

# Trimmed by InputModel; the service checks the same (tickets.service.checked_holder_name).
HolderName = Annotated[str, StringConstraints(min_length=1, max_length=HOLDER_NAME_MAX), OneLine]


class HolderNameIn(InputModel):
    holder_name: HolderName = Field(
        examples=["Grace Hopper"], description="The attendee's name, printed on the ticket"
    )


class TicketEventOut(OutputModel):
    id: uuid.UUID
    slug: str
    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    venue_name: str
    city: str
    ask_attendee_names: bool = Field(
        description="The organizer asks for each attendee's name: the buyer sets it per "
        "ticket (PATCH /orders/{order_id}/tickets/{ticket_id})"
    )


class TicketTypeRef(OutputModel):
    id: uuid.UUID
    name: str


class TicketOrderRef(OutputModel):
    id: uuid.UUID
    code: str


class TicketOut(BaseModel):
    id: uuid.UUID
    status: TicketStatus
    holder_name: str
    created_at: datetime
    revoked_at: datetime | None
    admitted_at: datetime | None = Field(
        description="The ticket's first entry on any of its event's check-in lists"
    )
    event: TicketEventOut
    ticket_type: TicketTypeRef
    order: TicketOrderRef
    qr_payload: str | None = Field(
        description="The signed text inside the QR code (null once revoked). "
        "Verifiable offline with the event's key from /events/{id}/checkin-key."
    )
    qr_svg_url: str | None
    qr_png_url: str | None

    @classmethod
    def from_view(cls, view: TicketView) -> TicketOut:
        """The ticket as the API shows it; ``admitted_at`` is the view's, so the view must
        have been read with it (``tickets.service``'s ``admitted_at``)."""
        ticket = view.ticket
        has_qr = view.qr_payload is not None
        base = f"/api/v1/tickets/{ticket.id}"
        return cls(
            id=ticket.id,
            status=ticket.status,
            holder_name=ticket.holder_name,
            created_at=ticket.created_at,
            revoked_at=ticket.revoked_at,
            admitted_at=view.admitted_at,
            event=TicketEventOut.model_validate(view.event),
            ticket_type=TicketTypeRef.model_validate(view.ticket_type),
            order=TicketOrderRef.model_validate(view.order),
            qr_payload=view.qr_payload,
            qr_svg_url=f"{base}/qr.svg" if has_qr else None,
            qr_png_url=f"{base}/qr.png" if has_qr else None,
        )


class TicketHolderOut(OutputModel):
    """A ticket's attendee name, as set. Without the QR (a write request signs nothing:
    ``KeyRing.get_or_create``); ``GET /tickets/{id}`` answers the whole ticket."""

    id: uuid.UUID
    order_id: uuid.UUID
    event_id: uuid.UUID
    ticket_type_id: uuid.UUID
    status: TicketStatus
    holder_name: str
