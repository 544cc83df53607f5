"""Tickets: issued when an order is paid, revoked when it is refunded, shown with a QR.

The QR payload is not stored: it is signed on demand from the ticket's ids and its
event's key (deterministic Ed25519, so always the same text). A database copy therefore
holds no usable ticket; see docs/ticket-signing.md.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, TypeAlias, cast

import segno
from sqlalchemy import ColumnElement, CursorResult, Row, Select, func, null, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from admitone.accounts.models import User
from admitone.authorization import BuyerProof, hash_order_token
from admitone.db import utcnow
from admitone.db_direct import insert_untracked
from admitone.errors import Conflict, DomainError, InvalidInput
from admitone.events.errors import EventCancelled
from admitone.events.models import Event, EventStatus, TicketType
from admitone.orders.models import Order
from admitone.schemas import one_line
from admitone.tickets import queries
from admitone.tickets.errors import (
    AttendeeNamesNotAsked,
    EventEnded,
    TicketAlreadyAdmitted,
    TicketNotFound,
    TicketRevoked,
)
from admitone.tickets.models import Ticket, TicketStatus
from admitone.tickets.signing import KeyRing

# Error-correction level M (15 % of the symbol may be damaged); segno raises it for free
# when the data still fits the same version.
QR_ERROR = "m"
QR_SVG_SCALE = 4  # user units per module; SVG scales without loss anyway
QR_PNG_SCALE = 8  # pixels per module: about 450 px for a version-8 code with its border
QR_BORDER = 4  # the quiet zone the QR standard asks for


class OrderLineSeats(Protocol):
    """What issuing needs of an order line: an ``OrderItem``, or a row of these columns."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def ticket_type_id(self) -> uuid.UUID: ...
    @property
    def quantity(self) -> int: ...


def issue_tickets(
    session: Session, *, order: Order, items: Sequence[OrderLineSeats]
) -> list[Ticket]:
    """One ticket per seat of a paid order; called once per order.

    Once: the caller won the order's transition to paid (a conditional UPDATE that only
    one transaction ever matches), and an order is never paid twice. No lock is taken
    here, and nothing is signed: payloads are computed when a ticket is shown.
    """
    tickets = [
        Ticket(
            order_id=order.id,
            order_item_id=item.id,
            event_id=order.event_id,
            ticket_type_id=item.ticket_type_id,
            holder_name=order.buyer_name,
        )
        for item in items
        for _seat in range(item.quantity)
    ]
    insert_untracked(session, tickets)
    return tickets


def revoke_tickets(
    session: Session, *, order_id: uuid.UUID, ticket_ids: list[uuid.UUID] | None = None
) -> int:
    """Revoke an order's valid tickets (all, or the given ones); returns how many.

    Idempotent: a conditional ``UPDATE ... WHERE status = 'valid'``, which row-locks the
    tickets, so a scan running at the same moment either admits before the revocation or
    sees ``revoked`` after it. A revoked ticket's payload still verifies offline, so
    scanners must also hold the revocation list.
    """
    statement = (
        update(Ticket)
        .where(Ticket.order_id == order_id, Ticket.status == TicketStatus.valid)
        .values(status=TicketStatus.revoked, revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if ticket_ids is not None:
        statement = statement.where(Ticket.id.in_(ticket_ids))
    return cast(CursorResult[Any], session.execute(statement)).rowcount


# --- the attendee's name ----------------------------------------------------------------

# The column's length (tickets.holder_name); the API's body says the same.
HOLDER_NAME_MAX = 200


def checked_holder_name(value: str) -> str:
    """An attendee's name as stored: trimmed, 1 to 200 characters, on one line (it is
    printed on the ticket and shown at the gate). Otherwise InvalidInput naming the
    ``holder_name`` field, with the type of the problem as the API's validation gives it
    (``string_too_short``, ``string_too_long``, ``value_error``)."""
    name = value.strip()
    problem = None
    if not name:
        problem = ("string_too_short", "String should have at least 1 character")
    elif len(name) > HOLDER_NAME_MAX:
        problem = ("string_too_long", f"String should have at most {HOLDER_NAME_MAX} characters")
    else:
        try:
            one_line(name)
        except ValueError as exc:
            problem = ("value_error", str(exc))
    if problem is not None:
        kind, message = problem
        raise InvalidInput(errors=[{"field": "holder_name", "message": message, "type": kind}])
    return name


def holder_name_refusal(
    ticket: Ticket, event: Event, *, admitted: bool, now: datetime
) -> DomainError | None:
    """Why the buyer may not set this ticket's attendee name now; None when they may.

    Only when the event asks for names, on a valid ticket not yet admitted, until the
    event ends (and not once it is cancelled: its tickets are being refunded). The
    order page asks it to decide which tickets get a field; ``set_holder_name`` raises it.
    """
    if not event.ask_attendee_names:
        return AttendeeNamesNotAsked()
    if event.status == EventStatus.cancelled:
        return EventCancelled()
    if ticket.status != TicketStatus.valid:
        return TicketRevoked(
            "This ticket was refunded or cancelled; its name can no longer change."
        )
    if admitted:
        return TicketAlreadyAdmitted()
    if event.ends_at <= now:
        return EventEnded()
    return None


def set_holder_name(
    session: Session,
    *,
    order_id: uuid.UUID,
    ticket_id: uuid.UUID,
    proof: BuyerProof,
    holder_name: str,
    now: datetime,
    admitted: ColumnElement[bool],
) -> Ticket:
    """The order's buyer (account or order token) sets the attendee name of one of its
    tickets; anyone else gets 404 (``queries.buyer_ticket``). Refused, nothing changes:
    422 for a bad name, 409 with the reason's code (``holder_name_refusal``).

    ``admitted`` says whether the statement's ``Ticket`` was admitted, as SQL correlated
    to it: check-in owns that state, and the caller passes its condition
    (``checkin.queries.ticket_admitted()``), so that this module names nothing of it.

    The name is not part of the signed QR payload, so nothing is re-signed. No lock is
    taken first: the write is ``UPDATE ... WHERE status = 'valid' AND NOT admitted`` (an
    entry on a list), so a refund or an admission committed before it refuses it. (A
    first entry committing during this very statement may be missed on PostgreSQL,
    whose subquery reads the statement's snapshot: the name then changes just after the
    entry, which admits the same person with the same QR.)
    """
    name = checked_holder_name(holder_name)
    row = session.execute(
        queries.buyer_tickets(
            order_id=order_id, user_id=proof.user_id, order_token_hash=proof.order_token_hash
        )
        .add_columns(admitted.label("admitted"))
        .where(Ticket.id == ticket_id)
    ).first()
    if row is None:
        raise TicketNotFound()
    ticket, event, _ticket_type, was_admitted = row
    refusal = holder_name_refusal(ticket, event, admitted=was_admitted, now=now)
    if refusal is not None:
        raise refusal
    renamed = cast(
        CursorResult[Any],
        session.execute(
            update(Ticket)
            .where(
                Ticket.id == ticket.id,
                Ticket.status == TicketStatus.valid,
                ~admitted,
            )
            .values(holder_name=name)
            .execution_options(synchronize_session=False)
        ),
    )
    if renamed.rowcount != 1:
        # Admitted or revoked since it was read: say which.
        session.refresh(ticket)
        now_admitted = bool(session.scalar(select(admitted).where(Ticket.id == ticket.id)))
        raise holder_name_refusal(ticket, event, admitted=now_admitted, now=now) or Conflict()
    set_committed_value(ticket, "holder_name", name)
    return ticket


def buyer_order_tickets(
    session: Session, *, order_id: uuid.UUID, proof: BuyerProof, admitted: ColumnElement[bool]
) -> list[tuple[Ticket, Event, TicketType, bool]]:
    """The tickets of an order as its buyer alone reaches them (``queries.buyer_tickets``;
    empty for anyone else), in the order page's order, each with whether it was admitted
    (``admitted``, as ``set_holder_name`` takes it). Nothing is signed, so a write
    request may call it (signing may create the event's key in a unit of work of its
    own, which must not wait behind the caller's SQLite write: ``KeyRing.get_or_create``).
    """
    statement = (
        queries.buyer_tickets(
            order_id=order_id, user_id=proof.user_id, order_token_hash=proof.order_token_hash
        )
        .add_columns(admitted.label("admitted"))
        .order_by(Ticket.ticket_type_id, Ticket.created_at, Ticket.id)
    )
    return [
        (ticket, event, ticket_type, bool(was_admitted))
        for ticket, event, ticket_type, was_admitted in session.execute(statement)
    ]


@dataclass(frozen=True)
class TicketView:
    """A ticket with what its page shows; ``qr_payload`` is None once revoked;
    ``admitted_at`` its first entry, read only when the caller passed ``admitted_at``
    (else None)."""

    ticket: Ticket
    order: Order
    event: Event
    ticket_type: TicketType
    qr_payload: str | None
    admitted_at: datetime | None = None


# Check-in owns when a ticket entered; a caller that shows it passes check-in's
# ``checkin.queries.first_entry_at()``: a column correlated to ``Ticket``, read in the
# same statement as the tickets (one round trip), without this module naming check-in.
AdmittedAt = ColumnElement[datetime]  # NULL for a ticket never admitted
# A row of ``ticket_rows()`` and that column, which unpacks as a typed tuple (SQLAlchemy
# 2.1). Quoted: Row is subscripted this way only since 2.1, and it is not needed at run time.
ViewRow: TypeAlias = "Row[Ticket, Order, Event, TicketType, datetime | None]"


def _with_admitted_at(
    statement: Select[Ticket, Order, Event, TicketType], admitted_at: AdmittedAt | None
) -> Select[Ticket, Order, Event, TicketType, datetime | None]:
    column = null() if admitted_at is None else admitted_at
    return statement.add_columns(column)


def _views(session: Session, keys: KeyRing, rows: Sequence[ViewRow]) -> list[TicketView]:
    event_keys = {}
    views = []
    for ticket, order, event, ticket_type, admitted_at in rows:
        payload = None
        if ticket.status == TicketStatus.valid:
            if ticket.event_id not in event_keys:
                event_keys[ticket.event_id] = keys.get_or_create(session, ticket.event_id)
            payload = keys.sign_ticket(
                event_keys[ticket.event_id],
                ticket_id=ticket.id,
                ticket_type_id=ticket.ticket_type_id,
            )
        views.append(TicketView(ticket, order, event, ticket_type, payload, admitted_at))
    return views


def ticket_payload(session: Session, *, ticket: Ticket, keys: KeyRing) -> str:
    """The signed QR text of a valid ticket (for e-mails, PDFs and pages).

    May create the event's signing key in its own short unit of work (KeyRing.get_or_create).
    """
    if ticket.status != TicketStatus.valid:
        raise TicketRevoked()
    key = keys.get_or_create(session, ticket.event_id)
    return keys.sign_ticket(key, ticket_id=ticket.id, ticket_type_id=ticket.ticket_type_id)


def get_ticket(
    session: Session,
    *,
    ticket_id: uuid.UUID,
    user: User | None,
    order_token: str | None,
    keys: KeyRing,
    admitted_at: AdmittedAt | None = None,
) -> TicketView:
    """One ticket, if the caller may read it (queries.readable_tickets); else 404. With
    its first entry when given ``admitted_at`` (``AdmittedAt``), in the same statement.

    Read-only; may create the event's signing key in its own short unit of work.
    """
    statement = _with_admitted_at(
        queries.readable_tickets(
            user=user, order_token_hash=hash_order_token(order_token) if order_token else None
        ).where(Ticket.id == ticket_id),
        admitted_at,
    )
    row = session.execute(statement).first()
    if row is None:
        raise TicketNotFound()
    return _views(session, keys, [row])[0]


def list_order_tickets(
    session: Session,
    *,
    order_id: uuid.UUID,
    user: User | None,
    order_token: str | None,
    keys: KeyRing,
    admitted_at: AdmittedAt | None = None,
) -> list[TicketView]:
    """An order's tickets that the caller may read (empty if none or not allowed). With
    their first entries when given ``admitted_at`` (``AdmittedAt``), in the same statement.

    Read-only; may create the event's signing key in its own short unit of work.
    """
    statement = _with_admitted_at(
        queries.readable_tickets(
            user=user, order_token_hash=hash_order_token(order_token) if order_token else None
        )
        .where(Ticket.order_id == order_id)
        .order_by(TicketType.position, Ticket.created_at, Ticket.id),
        admitted_at,
    )
    return _views(session, keys, session.execute(statement).all())


def list_user_tickets(
    session: Session,
    *,
    user: User,
    keys: KeyRing,
    page: int,
    per_page: int,
    admitted_at: AdmittedAt | None = None,
) -> tuple[list[TicketView], int]:
    """The tickets of the caller's own orders, by event date; and their total count.
    With their first entries when given ``admitted_at`` (``AdmittedAt``)."""
    statement = queries.tickets_of_user(user.id)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.execute(
        _with_admitted_at(statement, admitted_at)
        .order_by(Event.starts_at, Ticket.created_at, Ticket.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return _views(session, keys, rows), total


def qr_image(view: TicketView, *, kind: Literal["svg", "png"]) -> bytes:
    """The ticket's QR code as an SVG or PNG document."""
    if view.qr_payload is None:
        raise TicketRevoked()
    qr = segno.make(view.qr_payload, error=QR_ERROR, micro=False)
    buffer = io.BytesIO()
    if kind == "svg":
        qr.save(
            buffer,
            kind="svg",
            scale=QR_SVG_SCALE,
            border=QR_BORDER,
            xmldecl=False,
            title=f"Ticket {view.ticket.id}",
        )
    else:
        qr.save(buffer, kind="png", scale=QR_PNG_SCALE, border=QR_BORDER)
    return buffer.getvalue()
