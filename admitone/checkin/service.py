"""Check-in: scan a ticket's QR at a gate, admit it exactly once, count who is in.

The scan path is built for speed (docs/ticket-signing.md): the QR is parsed and its
signature checked against the event's public key from the process cache before any
ticket query; then one conditional UPDATE decides the admission (and returns the
ticket), one INSERT records the scan, and only a refusal needs a SELECT to explain it.
"""

from __future__ import annotations

import hashlib
import re
import string
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, func, null, or_, select, update
from sqlalchemy.orm import Session

from admitone import metrics
from admitone.accounts.models import User
from admitone.accounts.service import ACTIVE_USER_OF_SESSION
from admitone.authorization import (
    OrgAccess,
    Permission,
    acting_role,
    checked_access,
    role_allows,
)
from admitone.checkin.errors import (
    CheckinEventNotFound,
    NonceReused,
    ScanInProgress,
    SearchTooShort,
    TicketNotAdmitted,
)
from admitone.checkin.models import CheckIn, CheckinUndo, ScanResult
from admitone.db import insert_once, utcnow
from admitone.db_direct import DirectLoad, DirectStatement, execute_direct, load_direct
from admitone.errors import InvalidToken, PermissionDenied
from admitone.events.models import Event, EventStatus, TicketType
from admitone.metrics import count_after_commit
from admitone.orders.models import Order
from admitone.organizations.models import Membership, Organization, Role
from admitone.tickets import signing
from admitone.tickets.errors import TicketNotFound
from admitone.tickets.models import Ticket, TicketStatus
from admitone.tickets.signing import EventKey, KeyRing

# One metrics child per result, made once: the scan path only looks one up in a dict.
SCANS_BY_RESULT = {result: metrics.SCANS.labels(result=result.value) for result in ScanResult}


@dataclass(frozen=True)
class EventAccess:
    """The caller acting on an event for the organization that runs it."""

    event: Event
    org: OrgAccess


# The scan path's statements are built once (docs/hot-path.md): at a
# gate they run hundreds of times a second, and building one costs more than running it.
_EVENT_WITH_ORGANIZATION = (
    select(Event, Organization)
    .join(Organization, Organization.id == Event.organization_id)
    .where(Event.id == bindparam("event_id"))
)
_EVENT_WITH_CALLER_ROLE = _EVENT_WITH_ORGANIZATION.add_columns(Membership.role).outerjoin(
    Membership,
    (Membership.organization_id == Event.organization_id)
    & (Membership.user_id == bindparam("user_id")),
)
# The scan's caller (an open login of an active user, accounts' rule) with the event and
# their role in its organization: one round trip to the database instead of two.
_CALLER_WITH_EVENT_ROLE = DirectLoad(
    ACTIVE_USER_OF_SESSION.add_columns(Event, Organization, Membership.role)
    .outerjoin(Event, Event.id == bindparam("event_id"))
    .outerjoin(Organization, Organization.id == Event.organization_id)
    .outerjoin(
        Membership,
        (Membership.organization_id == Event.organization_id) & (Membership.user_id == User.id),
    )
)


def _event_with_role(
    session: Session, *, event_id: uuid.UUID, user: User | None
) -> tuple[Event, Organization, Role | None] | None:
    if user is None:
        row = session.execute(_EVENT_WITH_ORGANIZATION, {"event_id": event_id}).first()
        return None if row is None else (row[0], row[1], None)
    with_role = session.execute(
        _EVENT_WITH_CALLER_ROLE, {"event_id": event_id, "user_id": user.id}
    ).first()
    return None if with_role is None else (with_role[0], with_role[1], with_role[2])


def resolve_event_access(
    session: Session, *, event_id: uuid.UUID, user: User, permission: Permission
) -> EventAccess:
    """The caller's access to an event through its organization, checked for ``permission``.

    The rules of ``authorization.checked_access``, reached from an event id in one
    query: not a member of the event's organization (or no such event) is a 404, a
    member without the permission a 403, platform admins act as owners.
    """
    found = _event_with_role(session, event_id=event_id, user=user)
    if found is None:
        raise CheckinEventNotFound()
    event, organization, member_role = found
    return _event_access(event, organization, member_role, user=user, permission=permission)


def resolve_caller_event_access(
    session: Session,
    *,
    event_id: uuid.UUID,
    user_id: uuid.UUID,
    auth_session_id: uuid.UUID,
    permission: Permission,
) -> EventAccess:
    """``resolve_event_access`` for the caller of an access token's claims
    (``accounts.service.access_token_claims``), found with the event in one query.

    The login closed or the user deactivated: InvalidToken (401), as for any route.
    """
    rows = load_direct(
        session,
        _CALLER_WITH_EVENT_ROLE,
        {"user_id": user_id, "auth_session_id": auth_session_id, "event_id": event_id},
    )
    if not rows:
        raise InvalidToken()
    user, event, organization, member_role = rows[0]
    if event is None:
        raise CheckinEventNotFound()
    return _event_access(event, organization, member_role, user=user, permission=permission)


def _event_access(
    event: Event,
    organization: Organization,
    member_role: Role | None,
    *,
    user: User,
    permission: Permission,
) -> EventAccess:
    # Not a member: the event does not exist for them.
    access = checked_access(
        organization, member_role, user=user, permission=permission, not_found=CheckinEventNotFound
    )
    return EventAccess(event=event, org=access)


def get_checkin_key(
    session: Session, *, event_id: uuid.UUID, user: User | None, keys: KeyRing
) -> EventKey:
    """The event's public verification key, for scanners.

    Anyone may fetch it once the event is published; before that only members who may
    check in. Read-only; may create the key pair in its own unit of work.
    """
    found = _event_with_role(session, event_id=event_id, user=user)
    if found is None:
        raise CheckinEventNotFound()
    event, _organization, member_role = found
    role = None if user is None else acting_role(user, member_role)
    member_may_scan = role is not None and role_allows(role, Permission.check_in)
    if event.status != EventStatus.published and not member_may_scan:
        raise CheckinEventNotFound()
    return keys.get_or_create(session, event_id)


@dataclass(frozen=True)
class ScannedTicket:
    id: uuid.UUID
    holder_name: str
    status: TicketStatus
    ticket_type_id: uuid.UUID
    ticket_type_name: str
    admitted_at: datetime | None
    admitted_gate: str | None
    # Who made the current admission (name, else e-mail), read only to explain a refusal.
    admitted_by: str | None = None


@dataclass(frozen=True)
class ScanOutcome:
    """The answer to a scan; ``replayed`` when it is the stored answer to a retried nonce."""

    checkin_id: uuid.UUID
    result: ScanResult
    scanned_at: datetime
    gate: str | None
    ticket: ScannedTicket | None
    replayed: bool = False

    @property
    def admitted(self) -> bool:
        return self.result == ScanResult.admitted


def payload_hash(qr: str) -> str:
    return hashlib.sha256(qr.encode("utf-8", "surrogatepass")).hexdigest()


# What a scan shows about a ticket; RETURNING gives the same columns as a SELECT.
_tickets = cast(Table, Ticket.__table__)  # a declarative model's table is a Table
_TICKET_COLUMNS = (
    _tickets.c.id,
    _tickets.c.holder_name,
    _tickets.c.status,
    _tickets.c.admitted_at,
    _tickets.c.admitted_gate,
    _tickets.c.ticket_type_id,
    select(TicketType.__table__.c.name)
    .where(TicketType.__table__.c.id == _tickets.c.ticket_type_id)
    .scalar_subquery()
    .label("ticket_type_name"),
)
# (Not named after columns: an UPDATE reserves those names for its SET clause.)
_THIS_TICKET = (_tickets.c.id == bindparam("scanned_ticket_id")) & (
    _tickets.c.event_id == bindparam("scanned_event_id")
)
# The admission itself: admits a valid ticket not yet in, else matches no row.
_ADMIT_TICKET = DirectStatement(
    update(_tickets)
    .where(
        _THIS_TICKET,
        _tickets.c.status == TicketStatus.valid,
        _tickets.c.admitted_at.is_(None),
    )
    .values(admitted_at=bindparam("now"), admitted_gate=bindparam("gate"))
    .returning(*_TICKET_COLUMNS)
)
# Who made a ticket's current admission: the member who made its latest admitting scan
# (an undone one is older than the admission that followed it).
_checkins = cast(Table, CheckIn.__table__)
_users = cast(Table, User.__table__)
_ADMITTED_BY = (
    select(func.coalesce(func.nullif(_users.c.full_name, ""), _users.c.email))
    .select_from(_checkins.join(_users, _users.c.id == _checkins.c.scanned_by_id))
    .where(
        _checkins.c.ticket_id == _tickets.c.id,
        _checkins.c.result
        == bindparam("admitting_result", ScanResult.admitted, type_=_checkins.c.result.type),
    )
    .order_by(_checkins.c.scanned_at.desc())
    .limit(1)
    .scalar_subquery()
    .label("admitted_by")
)
# A refusal's explanation: the ticket, and who admitted it (one statement, as before).
_SCANNED_TICKET = DirectStatement(select(*_TICKET_COLUMNS, _ADMITTED_BY).where(_THIS_TICKET))
# A scan that lost its nonce to a twin gives back the admission it had just made.
_RELEASE_ADMISSION = DirectStatement(
    update(_tickets)
    .where(
        _THIS_TICKET,
        _tickets.c.admitted_at == bindparam("claimed_at", type_=_tickets.c.admitted_at.type),
    )
    .values(admitted_at=null(), admitted_gate=null())
)


def _ticket_from_row(row: Any) -> ScannedTicket:
    admitted_by = getattr(row, "admitted_by", None)
    return ScannedTicket(
        id=row.id,
        holder_name=row.holder_name,
        status=row.status,
        ticket_type_id=row.ticket_type_id,
        ticket_type_name=row.ticket_type_name,
        admitted_at=row.admitted_at,
        admitted_gate=row.admitted_gate,
        admitted_by=admitted_by if row.admitted_at is not None else None,
    )


# What people type from the text under the QR ("Ticket 3f2a…-…", "Billet …"): the
# ticket's id, in any case, with or without its label and the separators they add.
_CODE_LABEL = re.compile(r"^\s*(?:ticket|billet)\b\s*[:#]?", re.IGNORECASE)
_CODE_SEPARATORS = re.compile(r"[\s\-_.:/]+")
_HEX = frozenset(string.hexdigits.lower())
MAX_TYPED_CODE = 100


def parse_ticket_code(text: str) -> uuid.UUID | None:
    """The ticket id in a code typed at the gate, or None when it is not one.

    The id alone is no proof: it is as secret as the QR it is printed under (random,
    122 bits), and the admission stays the same exactly-once UPDATE on this event's
    ticket. A forged id names no ticket (``not_found``).
    """
    if len(text) > MAX_TYPED_CODE:
        return None
    cleaned = _CODE_SEPARATORS.sub("", _CODE_LABEL.sub("", text)).lower()
    if len(cleaned) != 32 or not _HEX.issuperset(cleaned):
        return None
    return uuid.UUID(hex=cleaned)


def _claim_admission(
    session: Session,
    *,
    ticket_id: uuid.UUID,
    event_id: uuid.UUID,
    gate: str | None,
    now: datetime,
) -> ScannedTicket | None:
    """The admission itself: the ticket for the one scan that admits it, else None.

    One conditional UPDATE: the row lock (PostgreSQL) or the write lock (SQLite) makes
    a concurrent scan wait and then find ``admitted_at`` set, so it matches no row. Never
    a read-then-write. RETURNING saves a query on the common path. (Tests swap this
    function for a racy one as a negative control.)
    """
    row = execute_direct(
        session,
        _ADMIT_TICKET,
        {"scanned_ticket_id": ticket_id, "scanned_event_id": event_id, "now": now, "gate": gate},
    ).first()
    return None if row is None else _ticket_from_row(row)


def _scanned_ticket(
    session: Session, *, ticket_id: uuid.UUID, event_id: uuid.UUID
) -> ScannedTicket | None:
    row = execute_direct(
        session,
        _SCANNED_TICKET,
        {
            "scanned_ticket_id": ticket_id,
            "scanned_event_id": event_id,
            "admitting_result": ScanResult.admitted,
        },
    ).first()
    return None if row is None else _ticket_from_row(row)


def _record_scan(session: Session, values: dict[str, Any]) -> bool:
    """Store the scan; False when its nonce was stored first (nothing inserted).

    INSERT ... ON CONFLICT DO NOTHING (``db.insert_once``): a concurrent request that
    stored the same nonce first makes this insert a no-op instead of an error that aborts
    the transaction."""
    return insert_once(session, CheckIn, values)


def _verify(
    session: Session, keys: KeyRing, event_id: uuid.UUID, qr: str
) -> tuple[ScanResult | None, signing.TicketClaims | None]:
    """Parse and verify: (a refusal, None) or (None, claims of a genuine ticket of ours)."""
    claims = signing.parse_payload(qr)
    if claims is None:
        return ScanResult.invalid_signature, None
    key = keys.find(session, event_id)
    if claims.event_id == event_id:
        if key is not None and signing.verify(key.public_key, claims):
            return None, claims
        return ScanResult.invalid_signature, None
    # Another event's id: only a ticket genuinely signed for that event is "wrong
    # event"; a forged or tampered one stays "invalid signature".
    other = keys.find(session, claims.event_id)
    if other is not None and signing.verify(other.public_key, claims):
        return ScanResult.wrong_event, None
    return ScanResult.invalid_signature, None


def _replay(session: Session, stored: CheckIn, qr_hash: str) -> ScanOutcome:
    if stored.payload_hash != qr_hash:
        raise NonceReused(nonce=stored.nonce)
    ticket = (
        _scanned_ticket(session, ticket_id=stored.ticket_id, event_id=stored.event_id)
        if stored.ticket_id is not None
        else None
    )
    return ScanOutcome(
        checkin_id=stored.id,
        result=stored.result,
        scanned_at=stored.scanned_at,
        gate=stored.gate,
        ticket=ticket,
        replayed=True,
    )


def scan_ticket(
    session: Session,
    *,
    access: EventAccess,
    keys: KeyRing,
    qr: str,
    gate: str | None = None,
    nonce: str | None = None,
) -> ScanOutcome:
    """Scan a QR at a gate of ``access.event``: decide, record the attempt, answer.

    Invariant: a ticket is admitted at most once, even when gates scan it at the same
    instant (``_claim_admission``: a conditional UPDATE on the ticket row, which is the
    only lock taken; SQLite's write lock serialises the whole request anyway). Every
    attempt, refused or not, is stored as a CheckIn. ``qr`` is the QR's text, or the
    ticket code printed under it, typed (``parse_ticket_code``). Idempotent per ``nonce``: the
    CheckIn insert is the nonce's claim (unique ``(event_id, nonce)``), and a retry gets
    the stored answer; the same nonce with another QR is refused (NONCE_REUSED) and
    rolls back. Untrusted ``qr`` text only ever yields ``invalid_signature``.
    Common path: two statements (the UPDATE and the INSERT), after an in-memory
    signature check.
    """
    event_id = access.event.id
    qr_hash = payload_hash(qr)
    # Signature first: pure CPU against the cached key, before any ticket query.
    refusal, claims = _verify(session, keys, event_id, qr)
    ticket_id = None if claims is None else claims.ticket_id
    if claims is None and refusal == ScanResult.invalid_signature:
        ticket_id = parse_ticket_code(qr)  # the code printed under the QR, typed
    now = utcnow()
    ticket: ScannedTicket | None = None
    if ticket_id is None:
        result = refusal or ScanResult.invalid_signature
    else:
        ticket = _claim_admission(
            session, ticket_id=ticket_id, event_id=event_id, gate=gate, now=now
        )
        if ticket is not None:
            result = ScanResult.admitted
        else:
            ticket = _scanned_ticket(session, ticket_id=ticket_id, event_id=event_id)
            if ticket is None:
                result = ScanResult.not_found
            elif ticket.status == TicketStatus.revoked:
                result = ScanResult.revoked
            else:
                result = ScanResult.already_admitted

    checkin_id = uuid.uuid4()
    inserted = _record_scan(
        session,
        {
            "id": checkin_id,
            "event_id": event_id,
            "ticket_id": ticket.id if ticket is not None else None,
            "result": result,
            "gate": gate,
            "scanned_at": now,
            "scanned_by_id": access.org.user.id,
            "nonce": nonce,
            "payload_hash": qr_hash,
        },
    )
    if not inserted:
        # This nonce was stored first (by an earlier try, or a twin request that
        # PostgreSQL made us wait for): answer as the first time. If this try admitted
        # the ticket (its first admission was undone since), give that admission back:
        # the retry must change nothing.
        stored = session.scalar(
            select(CheckIn).where(CheckIn.event_id == event_id, CheckIn.nonce == nonce)
        )
        if stored is None:
            raise ScanInProgress(retry_after=1)  # defensive: roll back and let it retry
        if result == ScanResult.admitted and ticket is not None:
            execute_direct(
                session,
                _RELEASE_ADMISSION,
                {"scanned_ticket_id": ticket.id, "scanned_event_id": event_id, "claimed_at": now},
            )
        return _replay(session, stored, qr_hash)
    count_after_commit(session, SCANS_BY_RESULT[result])
    return ScanOutcome(
        checkin_id=checkin_id, result=result, scanned_at=now, gate=gate, ticket=ticket
    )


@dataclass(frozen=True)
class TypeStats:
    ticket_type_id: uuid.UUID
    name: str
    admitted: int
    total: int


@dataclass(frozen=True)
class CheckinStats:
    """Valid tickets and how many of them are in, overall and per ticket type."""

    admitted: int
    total: int
    by_ticket_type: list[TypeStats]


def checkin_stats(session: Session, *, access: EventAccess) -> CheckinStats:
    """Admitted and total valid tickets of the event, overall and by ticket type.

    One aggregate query; no lock (a snapshot is fine for a counter).
    """
    valid = Ticket.status == TicketStatus.valid
    admitted = valid & Ticket.admitted_at.is_not(None)
    rows = session.execute(
        select(
            TicketType.id,
            TicketType.name,
            func.coalesce(func.sum(case((admitted, 1), else_=0)), 0).label("admitted"),
            func.coalesce(func.sum(case((valid, 1), else_=0)), 0).label("total"),
        )
        .select_from(TicketType)
        .outerjoin(Ticket, Ticket.ticket_type_id == TicketType.id)
        .where(TicketType.event_id == access.event.id)
        .group_by(TicketType.id, TicketType.name, TicketType.position, TicketType.created_at)
        .order_by(TicketType.position, TicketType.created_at, TicketType.id)
    ).all()
    by_type = [
        TypeStats(ticket_type_id=row.id, name=row.name, admitted=row.admitted, total=row.total)
        for row in rows
    ]
    return CheckinStats(
        admitted=sum(item.admitted for item in by_type),
        total=sum(item.total for item in by_type),
        by_ticket_type=by_type,
    )


# --- finding a ticket at the gate, and undoing a mistaken admission -------------------

SEARCH_LIMIT = 20
MIN_SEARCH = 2


@dataclass(frozen=True)
class FoundTicket:
    id: uuid.UUID
    holder_name: str
    ticket_type_name: str
    order_code: str
    status: TicketStatus
    admitted_at: datetime | None
    admitted_gate: str | None
    admitted_by: str | None


def find_tickets(session: Session, *, access: EventAccess, query: str) -> list[FoundTicket]:
    """Tickets of ``access.event`` for a person at the gate without their QR.

    Matches a holder's or buyer's name containing the text, or exactly (any case) an
    order code, a buyer's e-mail or the ticket code printed under the QR. E-mails match
    whole, not in part, so the search cannot be used to read them letter by letter.
    At most ``SEARCH_LIMIT``, by holder name. Read-only, no lock.
    """
    text = " ".join(query.split())
    if len(text) < MIN_SEARCH:
        raise SearchTooShort(min_length=MIN_SEARCH)
    lowered = text.lower()
    conditions = [
        func.lower(Ticket.holder_name).contains(lowered, autoescape=True),
        func.lower(Order.buyer_name).contains(lowered, autoescape=True),
        func.lower(Order.buyer_email) == lowered,
        Order.code == _CODE_SEPARATORS.sub("", text).upper(),
    ]
    typed_id = parse_ticket_code(text)
    if typed_id is not None:
        conditions.append(Ticket.id == typed_id)
    rows = session.execute(
        select(
            Ticket.id,
            Ticket.holder_name,
            TicketType.name.label("ticket_type_name"),
            Order.code.label("order_code"),
            Ticket.status,
            Ticket.admitted_at,
            Ticket.admitted_gate,
            _ADMITTED_BY,
        )
        .join(TicketType, TicketType.id == Ticket.ticket_type_id)
        .join(Order, Order.id == Ticket.order_id)
        .where(Ticket.event_id == access.event.id, or_(*conditions))
        .order_by(Ticket.holder_name, Ticket.id)
        .limit(SEARCH_LIMIT),
        {"admitting_result": ScanResult.admitted},
    ).all()
    return [
        FoundTicket(
            id=row.id,
            holder_name=row.holder_name,
            ticket_type_name=row.ticket_type_name,
            order_code=row.order_code,
            status=row.status,
            admitted_at=row.admitted_at,
            admitted_gate=row.admitted_gate,
            admitted_by=row.admitted_by if row.admitted_at is not None else None,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class UndoneAdmission:
    ticket_id: uuid.UUID
    holder_name: str
    checkin_id: uuid.UUID  # the admitting scan, kept
    admitted_at: datetime
    admitted_gate: str | None
    undone_at: datetime
    undone_by_id: uuid.UUID


def undo_admission(
    session: Session, *, access: EventAccess, ticket_id: uuid.UUID
) -> UndoneAdmission:
    """Undo a ticket's current admission (a supervisor's act, ``undo_check_in``): the
    ticket may be admitted again; the admitting scan keeps its row and a CheckinUndo
    records who undid it and when.

    Lock: the conditional UPDATE of the ticket row (``WHERE admitted_at IS NOT NULL``),
    the row a scan's admission updates: two undos, or an undo and a scan, take turns on
    it (SQLite: the write transaction). The second of two undos matches no row
    (TICKET_NOT_ADMITTED); a scan after an undo admits, one before it is answered
    "already admitted". ``checkin_undos.checkin_id`` is unique besides.
    """
    if not access.org.allows(Permission.undo_check_in):
        raise PermissionDenied()
    event_id = access.event.id
    now = utcnow()
    cleared = session.execute(
        update(_tickets)
        .where(
            _tickets.c.id == ticket_id,
            _tickets.c.event_id == event_id,
            _tickets.c.admitted_at.is_not(None),
        )
        .values(admitted_at=None, admitted_gate=None)
        .returning(_tickets.c.holder_name)
    ).first()
    if cleared is None:
        exists = session.scalar(
            select(Ticket.id).where(Ticket.id == ticket_id, Ticket.event_id == event_id)
        )
        if exists is None:
            raise TicketNotFound()
        raise TicketNotAdmitted()
    # Read under the ticket's lock (a new snapshot per statement on PostgreSQL): the
    # admission just cleared is the ticket's latest admitting scan.
    admission = session.execute(
        select(CheckIn.id, CheckIn.scanned_at, CheckIn.gate)
        .where(
            CheckIn.event_id == event_id,
            CheckIn.ticket_id == ticket_id,
            CheckIn.result == ScanResult.admitted,
        )
        .order_by(CheckIn.scanned_at.desc())
        .limit(1)
    ).first()
    if admission is None:  # admitted outside the scanner: no scan to point at
        raise TicketNotAdmitted()
    session.add(
        CheckinUndo(
            checkin_id=admission.id,
            event_id=event_id,
            ticket_id=ticket_id,
            undone_at=now,
            undone_by_id=access.org.user.id,
        )
    )
    session.flush()
    return UndoneAdmission(
        ticket_id=ticket_id,
        holder_name=cleared.holder_name,
        checkin_id=admission.id,
        admitted_at=admission.scanned_at,
        admitted_gate=admission.gate,
        undone_at=now,
        undone_by_id=access.org.user.id,
    )
