"""Check-in: scan a ticket's QR at a gate for one of the event's lists, entry or exit,
admit it exactly once per list (docs/gates.md), count who is in.

The scan path is built for speed (docs/hot-path.md): the QR is parsed and its signature
checked against the event's public key from the process cache before any query, so the
ticket's id is known; then ONE query reads the caller, the event and their role, the
list, the ticket and its presence on the list; ONE conditional statement writes the
presence, guarded by the state that was read (a write that matches nothing lost a race
and is explained by a re-read); one INSERT records the scan.
"""

from __future__ import annotations

import hashlib
import re
import string
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import (
    Integer,
    String,
    Table,
    Uuid,
    bindparam,
    delete,
    exists,
    func,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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
from admitone.checkin import lists
from admitone.checkin.errors import (
    CheckinEventNotFound,
    CheckinListNotFound,
    NonceReused,
    ScanInProgress,
    SearchTooShort,
    TicketNotAdmitted,
)
from admitone.checkin.models import (
    CheckIn,
    CheckinKind,
    CheckinList,
    CheckinListTicketType,
    CheckinPresence,
    CheckinUndo,
    ScanResult,
)
from admitone.db import UTCDateTime, insert_once, utcnow
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


# --- the scan ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Presence:
    """A ticket's state on one list (``CheckinPresence``), as read or as written."""

    inside: bool
    entries: int
    exits: int
    first_entry_at: datetime
    last_entry_at: datetime
    last_exit_at: datetime | None
    last_gate: str | None

    @classmethod
    def from_row(cls, row: Any) -> Presence:
        """From a row with the presence's columns (``checkin_presences``)."""
        return cls(
            inside=bool(row.inside),
            entries=row.entries,
            exits=row.exits,
            first_entry_at=row.first_entry_at,
            last_entry_at=row.last_entry_at,
            last_exit_at=row.last_exit_at,
            last_gate=row.last_gate,
        )


@dataclass(frozen=True)
class ListRules:
    id: uuid.UUID
    name: str
    all_ticket_types: bool
    allow_reentry: bool
    valid_from: datetime | None
    valid_until: datetime | None


@dataclass(frozen=True)
class ScannedTicket:
    id: uuid.UUID
    holder_name: str
    status: TicketStatus
    ticket_type_id: uuid.UUID
    ticket_type_name: str


@dataclass(frozen=True)
class ScanState:
    """What a scan decides from: the list (None: no such list, or no default list yet),
    the ticket of this event (None: no such ticket), its presence on the list (None:
    never entered there) and whether its type is on the list."""

    checkin_list: ListRules | None
    ticket: ScannedTicket | None
    presence: Presence | None
    type_on_list: bool


@dataclass(frozen=True)
class ScanOutcome:
    """The answer to a scan; ``replayed`` when it is the stored answer to a retried nonce.

    ``presence``: the ticket's state on the list after the scan (None: never entered).
    ``admitted_by``: for ``already_admitted``, the member who made the entry it repeats.
    """

    checkin_id: uuid.UUID
    result: ScanResult
    kind: CheckinKind
    list_id: uuid.UUID
    scanned_at: datetime
    gate: str | None
    ticket: ScannedTicket | None
    presence: Presence | None
    admitted_by: str | None = None
    replayed: bool = False

    @property
    def admitted(self) -> bool:
        return self.result == ScanResult.admitted

    @property
    def accepted(self) -> bool:
        """The entry or the exit was recorded (admitted, or exited)."""
        return self.result in (ScanResult.admitted, ScanResult.exited)


def payload_hash(qr: str) -> str:
    return hashlib.sha256(qr.encode("utf-8", "surrogatepass")).hexdigest()


_tickets = cast(Table, Ticket.__table__)  # a declarative model's table is a Table
_types = cast(Table, TicketType.__table__)
_lists = cast(Table, CheckinList.__table__)
_list_types = cast(Table, CheckinListTicketType.__table__)
_presences = cast(Table, CheckinPresence.__table__)
_checkins = cast(Table, CheckIn.__table__)
_users = cast(Table, User.__table__)

# What the scan reads besides the caller: the list's rules, the ticket, its presence.
_STATE_COLUMNS = (
    _lists.c.id.label("list_id"),
    _lists.c.name.label("list_name"),
    _lists.c.all_ticket_types,
    _lists.c.allow_reentry,
    _lists.c.valid_from,
    _lists.c.valid_until,
    or_(_lists.c.all_ticket_types, _list_types.c.list_id.is_not(None)).label("type_on_list"),
    _tickets.c.id.label("ticket_id"),
    _tickets.c.holder_name,
    _tickets.c.status,
    _tickets.c.ticket_type_id,
    _types.c.name.label("ticket_type_name"),
    _presences.c.inside,
    _presences.c.entries,
    _presences.c.exits,
    _presences.c.first_entry_at,
    _presences.c.last_entry_at,
    _presences.c.last_exit_at,
    _presences.c.last_gate,
)


def _with_state(statement: Any, event_id_column: Any, *, named_list: bool) -> Any:
    """``statement`` with the list, the ticket of the event and its presence outer-joined
    (each a probe by key: the list by id or by ``default_for_event_id``, the ticket by
    ``(event_id, id)``, the presence by ``(list_id, ticket_id)``)."""
    list_condition = (
        (_lists.c.id == bindparam("list_id", type_=Uuid())) & (_lists.c.event_id == event_id_column)
        if named_list
        else _lists.c.default_for_event_id == event_id_column
    )
    return (
        statement.add_columns(*_STATE_COLUMNS)
        .outerjoin(_lists, list_condition)
        .outerjoin(
            _tickets,
            (_tickets.c.id == bindparam("scanned_ticket_id", type_=Uuid()))
            & (_tickets.c.event_id == event_id_column),
        )
        .outerjoin(_types, _types.c.id == _tickets.c.ticket_type_id)
        .outerjoin(
            _presences,
            (_presences.c.list_id == _lists.c.id) & (_presences.c.ticket_id == _tickets.c.id),
        )
        .outerjoin(
            _list_types,
            (_list_types.c.list_id == _lists.c.id)
            & (_list_types.c.ticket_type_id == _tickets.c.ticket_type_id),
        )
    )


# The scan's one read: its caller (an open login of an active user, accounts' rule) with
# the event and their role in its organization, and the list, the ticket and its
# presence on the list. One round trip instead of two, then three (docs/hot-path.md).
_CALLER_EVENT_BASE = (
    ACTIVE_USER_OF_SESSION.add_columns(Event, Organization, Membership.role)
    .outerjoin(Event, Event.id == bindparam("event_id"))
    .outerjoin(Organization, Organization.id == Event.organization_id)
    .outerjoin(
        Membership,
        (Membership.organization_id == Event.organization_id) & (Membership.user_id == User.id),
    )
)
_CALLER_WITH_EVENT_ROLE = DirectLoad(_CALLER_EVENT_BASE)
_CALLER_WITH_SCAN_STATE = {
    named: DirectLoad(_with_state(_CALLER_EVENT_BASE, Event.id, named_list=named))
    for named in (False, True)
}
# The same state for a caller already checked (``scan_ticket``, the slow path's re-read).
_SCAN_STATE = {
    named: DirectStatement(
        _with_state(
            select(Event.id.label("found"))
            .select_from(Event)
            .where(Event.id == bindparam("event_id")),
            Event.id,
            named_list=named,
        )
    )
    for named in (False, True)
}

# The writes, each ONE statement guarded by the state the read saw. A write that
# matches nothing lost a race (or met a revocation) and is explained by a re-read.
#
# The ticket must still be valid when an entry is written: the statement re-checks
# ``status = 'valid'`` under a share lock of the ticket row (``FOR SHARE``; nothing on
# SQLite, whose write lock serialises writers). A revocation in flight holds that row's
# lock, so the entry waits for it and then finds the ticket revoked (docs/locking.md).
_VALID_TICKET = (
    select(_tickets.c.id)
    .where(
        _tickets.c.id == bindparam("scanned_ticket_id", type_=Uuid()),
        _tickets.c.event_id == bindparam("scanned_event_id", type_=Uuid()),
        _tickets.c.status == TicketStatus.valid,
    )
    .with_for_update(read=True)
)
_THIS_PRESENCE = (_presences.c.list_id == bindparam("scanned_list_id", type_=Uuid())) & (
    _presences.c.ticket_id == bindparam("scanned_ticket_id", type_=Uuid())
)


def _first_entry(dialect_insert: Any) -> Any:
    # INSERT ... SELECT FROM tickets WHERE valid FOR SHARE ON CONFLICT DO NOTHING: the
    # presence's key is the claim; a twin scan's insert waits on it, then does nothing.
    now = bindparam("now", type_=UTCDateTime())
    valid = _VALID_TICKET.add_columns(
        bindparam("scanned_list_id", type_=Uuid()),
        true(),
        literal_column("1", Integer()),
        literal_column("0", Integer()),
        now,
        now,
        bindparam("gate", type_=String()),
        now,
    )
    return (
        dialect_insert(_presences)
        .from_select(
            [
                "ticket_id",
                "list_id",
                "inside",
                "entries",
                "exits",
                "first_entry_at",
                "last_entry_at",
                "last_gate",
                "changed_at",
            ],
            valid,
        )
        .on_conflict_do_nothing()
        .returning(_presences.c.entries)
    )


_FIRST_ENTRY = {
    "postgresql": DirectStatement(_first_entry(postgresql_insert), dialects=("postgresql",)),
    "sqlite": DirectStatement(_first_entry(sqlite_insert), dialects=("sqlite",)),
}
# Back in after an exit, on a list that allows it: only from the state that was read.
_REENTRY = DirectStatement(
    update(_presences)
    .where(
        _THIS_PRESENCE,
        _presences.c.inside.is_(False),
        _presences.c.entries == bindparam("seen_entries", type_=Integer()),
        exists(_VALID_TICKET),
    )
    .values(
        inside=True,
        entries=_presences.c.entries + 1,
        last_entry_at=bindparam("now", type_=UTCDateTime()),
        last_gate=bindparam("gate", type_=String()),
        changed_at=bindparam("now", type_=UTCDateTime()),
    )
)
# Out: only when inside (a revoked ticket inside may still leave, and is counted out).
_EXIT = DirectStatement(
    update(_presences)
    .where(_THIS_PRESENCE, _presences.c.inside.is_(True))
    .values(
        inside=False,
        exits=_presences.c.exits + 1,
        last_exit_at=bindparam("now", type_=UTCDateTime()),
        last_gate=bindparam("gate", type_=String()),
        changed_at=bindparam("now", type_=UTCDateTime()),
    )
)

# Who made the entry a duplicate repeats: the member of the latest admitting entry on
# the list (read only to explain that refusal).
_ADMITTED_BY = DirectStatement(
    select(func.coalesce(func.nullif(_users.c.full_name, ""), _users.c.email))
    .select_from(_checkins.join(_users, _users.c.id == _checkins.c.scanned_by_id))
    .where(
        _checkins.c.ticket_id == bindparam("scanned_ticket_id", type_=Uuid()),
        _checkins.c.list_id == bindparam("scanned_list_id", type_=Uuid()),
        _checkins.c.result == bindparam("admitting_result", type_=_checkins.c.result.type),
    )
    .order_by(_checkins.c.scanned_at.desc())
    .limit(1)
)


class Write(StrEnum):
    """The presence write a scan's decision asks for."""

    first_entry = "first_entry"
    reentry = "reentry"
    exit = "exit"


def _state_from_row(row: Any) -> ScanState:
    rules = (
        None
        if row.list_id is None
        else ListRules(
            id=row.list_id,
            name=row.list_name,
            all_ticket_types=row.all_ticket_types,
            allow_reentry=row.allow_reentry,
            valid_from=row.valid_from,
            valid_until=row.valid_until,
        )
    )
    ticket = (
        None
        if row.ticket_id is None
        else ScannedTicket(
            id=row.ticket_id,
            holder_name=row.holder_name,
            status=row.status,
            ticket_type_id=row.ticket_type_id,
            ticket_type_name=row.ticket_type_name,
        )
    )
    presence = None if row.entries is None else Presence.from_row(row)
    return ScanState(
        checkin_list=rules, ticket=ticket, presence=presence, type_on_list=bool(row.type_on_list)
    )


def decide(
    state: ScanState, *, kind: CheckinKind, now: datetime
) -> tuple[ScanResult, Write | None]:
    """The rules of a scan, on the state read (pure: no database).

    Entry: refused for an unknown or revoked ticket, a type not on the list
    (``wrong_list``), outside the list's window (``outside_window``), or when the ticket
    is inside, or has entered and the list allows no re-entry (``already_admitted``);
    else a first entry or a re-entry. Exit: only when inside (``not_inside``), whatever
    the ticket's status or the time: people leave.
    """
    ticket, presence, rules = state.ticket, state.presence, state.checkin_list
    if ticket is None or rules is None:
        return ScanResult.not_found, None
    if kind == CheckinKind.exit:
        if presence is None or not presence.inside:
            return ScanResult.not_inside, None
        return ScanResult.exited, Write.exit
    if ticket.status == TicketStatus.revoked:
        return ScanResult.revoked, None
    if not state.type_on_list:
        return ScanResult.wrong_list, None
    if (rules.valid_from is not None and now < rules.valid_from) or (
        rules.valid_until is not None and now > rules.valid_until
    ):
        return ScanResult.outside_window, None
    if presence is None:
        return ScanResult.admitted, Write.first_entry
    if presence.inside or not rules.allow_reentry:
        return ScanResult.already_admitted, None
    return ScanResult.admitted, Write.reentry


def _write_presence(
    session: Session,
    *,
    write: Write,
    list_id: uuid.UUID,
    ticket_id: uuid.UUID,
    event_id: uuid.UUID,
    seen: Presence | None,
    gate: str | None,
    now: datetime,
) -> bool:
    """The presence write a decision asks for, as ONE statement guarded by the state
    read: True when it matched (this scan won), False when it lost a race or met a
    revocation. Never a read-then-write. (Tests swap this function for a racy one as a
    negative control.)"""
    parameters: dict[str, Any] = {
        "scanned_list_id": list_id,
        "scanned_ticket_id": ticket_id,
        "scanned_event_id": event_id,
        "now": now,
        "gate": gate,
    }
    if write == Write.first_entry:
        statement = _FIRST_ENTRY[session.get_bind().dialect.name]
        return execute_direct(session, statement, parameters).first() is not None
    if write == Write.reentry:
        assert seen is not None
        parameters["seen_entries"] = seen.entries
        return execute_direct(session, _REENTRY, parameters).rowcount == 1
    del parameters["scanned_event_id"]
    return execute_direct(session, _EXIT, parameters).rowcount == 1


def presence_after(
    write: Write, seen: Presence | None, *, gate: str | None, now: datetime
) -> Presence:
    """The presence a successful write leaves (what the statement wrote); the offline
    upload and the site relay apply the same transitions."""
    if write == Write.first_entry or seen is None:
        return Presence(True, 1, 0, now, now, None, gate)
    if write == Write.reentry:
        return replace(
            seen, inside=True, entries=seen.entries + 1, last_entry_at=now, last_gate=gate
        )
    return replace(seen, inside=False, exits=seen.exits + 1, last_exit_at=now, last_gate=gate)


def _give_back(
    session: Session,
    *,
    write: Write,
    list_id: uuid.UUID,
    ticket_id: uuid.UUID,
    seen: Presence | None,
) -> None:
    """Undo this transaction's own presence write (its nonce was stored first by a twin):
    the row is still locked by this transaction, so the state read is the one to put back."""
    this = (CheckinPresence.list_id == list_id) & (CheckinPresence.ticket_id == ticket_id)
    if write == Write.first_entry or seen is None:
        session.execute(delete(CheckinPresence).where(this))
        return
    session.execute(
        update(CheckinPresence)
        .where(this)
        .values(
            inside=seen.inside,
            entries=seen.entries,
            exits=seen.exits,
            last_entry_at=seen.last_entry_at,
            last_exit_at=seen.last_exit_at,
            last_gate=seen.last_gate,
        )
        .execution_options(synchronize_session=False)
    )


def read_state(
    session: Session,
    *,
    event_id: uuid.UUID,
    list_id: uuid.UUID | None,
    ticket_id: uuid.UUID | None,
) -> ScanState:
    """The scan state, read again (the slow path; a new snapshot on PostgreSQL)."""
    parameters: dict[str, Any] = {"event_id": event_id, "scanned_ticket_id": ticket_id}
    if list_id is not None:
        parameters["list_id"] = list_id
    row = execute_direct(session, _SCAN_STATE[list_id is not None], parameters).first()
    if row is None:
        raise CheckinEventNotFound()
    return _state_from_row(row)


# What people type from the text under the QR ("Ticket 3f2a…-…", "Billet …"): the
# ticket's id, in any case, with or without its label and the separators they add.
_CODE_LABEL = re.compile(r"^\s*(?:ticket|billet)\b\s*[:#]?", re.IGNORECASE)
_CODE_SEPARATORS = re.compile(r"[\s\-_.:/]+")
_HEX = frozenset(string.hexdigits.lower())
MAX_TYPED_CODE = 100


def parse_ticket_code(text: str) -> uuid.UUID | None:
    """The ticket id in a code typed at the gate, or None when it is not one.

    The id alone is no proof: it is as secret as the QR it is printed under (random,
    122 bits), and the admission stays the same exactly-once write on this event's
    ticket. A forged id names no ticket (``not_found``).
    """
    if len(text) > MAX_TYPED_CODE:
        return None
    cleaned = _CODE_SEPARATORS.sub("", _CODE_LABEL.sub("", text)).lower()
    if len(cleaned) != 32 or not _HEX.issuperset(cleaned):
        return None
    return uuid.UUID(hex=cleaned)


def _record_scan(session: Session, values: dict[str, Any]) -> bool:
    """Store the scan; False when its nonce was stored first (nothing inserted).

    INSERT ... ON CONFLICT DO NOTHING (``db.insert_once``): a concurrent request that
    stored the same nonce first makes this insert a no-op instead of an error that aborts
    the transaction."""
    return insert_once(session, CheckIn, values)


def verify_qr(
    session: Session, keys: KeyRing, event_id: uuid.UUID, qr: str
) -> tuple[ScanResult | None, uuid.UUID | None]:
    """Parse and verify, pure CPU against the cached keys: (a refusal, None), or (None,
    the ticket id) of a genuine ticket of this event or of a code typed at the gate."""
    claims = signing.parse_payload(qr)
    if claims is None:
        typed = parse_ticket_code(qr)  # the code printed under the QR, typed
        return (None, typed) if typed is not None else (ScanResult.invalid_signature, None)
    key = keys.find(session, event_id)
    if claims.event_id == event_id:
        if key is not None and signing.verify(key.public_key, claims):
            return None, claims.ticket_id
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
    list_id = stored.list_id
    assert list_id is not None  # every scan since 0013 names its list
    state = read_state(
        session, event_id=stored.event_id, list_id=list_id, ticket_id=stored.ticket_id
    )
    return ScanOutcome(
        checkin_id=stored.id,
        result=stored.result,
        kind=stored.kind,
        list_id=list_id,
        scanned_at=stored.scanned_at,
        gate=stored.gate,
        ticket=state.ticket,
        presence=state.presence,
        replayed=True,
    )


def scan_as_caller(
    session: Session,
    *,
    event_id: uuid.UUID,
    user_id: uuid.UUID,
    auth_session_id: uuid.UUID,
    keys: KeyRing,
    qr: str,
    gate: str | None = None,
    nonce: str | None = None,
    list_id: uuid.UUID | None = None,
    kind: CheckinKind = CheckinKind.entry,
) -> ScanOutcome:
    """The online scan for the caller of an access token's claims: ``scan_ticket`` with
    the caller's access checked in the scan's one read (docs/hot-path.md).

    The QR is verified first (CPU only), so the ticket's id is known; then one query
    reads the caller (the login closed or the user deactivated: InvalidToken, 401), the
    event and their role (the rules of ``authorization.checked_access``: 404 outside the
    organization, 403 without ``check_in``), the list, the ticket and its presence.
    """
    refusal, ticket_id = verify_qr(session, keys, event_id, qr)
    parameters: dict[str, Any] = {
        "user_id": user_id,
        "auth_session_id": auth_session_id,
        "event_id": event_id,
        "scanned_ticket_id": ticket_id,
    }
    if list_id is not None:
        parameters["list_id"] = list_id
    rows = load_direct(session, _CALLER_WITH_SCAN_STATE[list_id is not None], parameters)
    if not rows:
        raise InvalidToken()
    row = rows[0]
    user, event, organization, member_role = row[0], row[1], row[2], row[3]
    if event is None:
        raise CheckinEventNotFound()
    access = _event_access(
        event, organization, member_role, user=user, permission=Permission.check_in
    )
    state = _state_from_row(row)
    return _scan(
        session,
        access=access,
        state=state,
        refusal=refusal,
        ticket_id=ticket_id,
        qr=qr,
        gate=gate,
        nonce=nonce,
        list_id=list_id,
        kind=kind,
    )


def scan_ticket(
    session: Session,
    *,
    access: EventAccess,
    keys: KeyRing,
    qr: str,
    gate: str | None = None,
    nonce: str | None = None,
    list_id: uuid.UUID | None = None,
    kind: CheckinKind = CheckinKind.entry,
    device_id: uuid.UUID | None = None,
) -> ScanOutcome:
    """Scan a QR at a gate of ``access.event``, for a list (default: the event's default
    list) and a kind (entry or exit): decide, write, record the attempt, answer.

    Invariant: on one list a ticket is inside at most once; it enters again only after
    a recorded exit, where the list allows re-entry; even when gates scan it at the same
    instant (``_write_presence``: one statement guarded by the state read, docs/gates.md).
    Every attempt, refused or not, is stored as a CheckIn. ``qr`` is the QR's text, or
    the ticket code printed under it, typed (``parse_ticket_code``). Idempotent per
    ``nonce``: the CheckIn insert is the nonce's claim (unique ``(event_id, nonce)``),
    and a retry gets the stored answer; the same nonce with another QR is refused
    (NONCE_REUSED) and rolls back. Untrusted ``qr`` text only ever yields
    ``invalid_signature``. A ``list_id`` not of this event: CHECKIN_LIST_NOT_FOUND (404).
    ``device_id``: the gate device that scanned (a device's token, ``devices``).
    """
    refusal, ticket_id = verify_qr(session, keys, access.event.id, qr)
    state = read_state(session, event_id=access.event.id, list_id=list_id, ticket_id=ticket_id)
    return _scan(
        session,
        access=access,
        state=state,
        refusal=refusal,
        ticket_id=ticket_id,
        qr=qr,
        gate=gate,
        nonce=nonce,
        list_id=list_id,
        kind=kind,
        device_id=device_id,
    )


def _scan(
    session: Session,
    *,
    access: EventAccess,
    state: ScanState,
    refusal: ScanResult | None,
    ticket_id: uuid.UUID | None,
    qr: str,
    gate: str | None,
    nonce: str | None,
    list_id: uuid.UUID | None,
    kind: CheckinKind,
    device_id: uuid.UUID | None = None,
) -> ScanOutcome:
    event_id = access.event.id
    if state.checkin_list is None:
        if list_id is not None:
            raise CheckinListNotFound()
        # No default list yet (an event published before lists, or by other means):
        # make it, then read again. Once per event.
        lists.ensure_default_list(session, event_id=event_id)
        state = read_state(session, event_id=event_id, list_id=None, ticket_id=ticket_id)
    assert state.checkin_list is not None
    scanned_list = state.checkin_list.id
    now = utcnow()
    write: Write | None = None
    seen = state.presence
    if refusal is not None or ticket_id is None:
        result = refusal or ScanResult.invalid_signature
    else:
        result, write = decide(state, kind=kind, now=now)
        for attempt in range(2):
            if write is None or _write_presence(
                session,
                write=write,
                list_id=scanned_list,
                ticket_id=ticket_id,
                event_id=event_id,
                seen=seen,
                gate=gate,
                now=now,
            ):
                break
            # Lost a race (another gate wrote first) or met a revocation: read what
            # won and decide again; a second loss in a row asks the gate to retry.
            if attempt == 1:
                raise ScanInProgress(retry_after=1)
            state = read_state(
                session, event_id=event_id, list_id=scanned_list, ticket_id=ticket_id
            )
            seen = state.presence
            result, write = decide(state, kind=kind, now=now)
    ticket = state.ticket
    presence = presence_after(write, seen, gate=gate, now=now) if write is not None else seen
    admitted_by = None
    if result == ScanResult.already_admitted and ticket is not None:
        admitted_by = execute_direct(
            session,
            _ADMITTED_BY,
            {
                "scanned_ticket_id": ticket.id,
                "scanned_list_id": scanned_list,
                "admitting_result": ScanResult.admitted,
            },
        ).scalar()

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
            "payload_hash": payload_hash(qr),
            "list_id": scanned_list,
            "kind": kind,
            "device_id": device_id,
            "received_at": now,
        },
    )
    if not inserted:
        # This nonce was stored first (by an earlier try, or a twin request that
        # PostgreSQL made us wait for): answer as the first time, and give back the
        # presence write this try made: the retry must change nothing.
        stored = session.scalar(
            select(CheckIn).where(CheckIn.event_id == event_id, CheckIn.nonce == nonce)
        )
        if stored is None:
            raise ScanInProgress(retry_after=1)  # defensive: roll back and let it retry
        if write is not None and ticket is not None:
            _give_back(session, write=write, list_id=scanned_list, ticket_id=ticket.id, seen=seen)
        return _replay(session, stored, payload_hash(qr))
    count_after_commit(session, SCANS_BY_RESULT[result])
    return ScanOutcome(
        checkin_id=checkin_id,
        result=result,
        kind=kind,
        list_id=scanned_list,
        scanned_at=now,
        gate=gate,
        ticket=ticket,
        presence=presence,
        admitted_by=admitted_by,
    )


# --- counters, finding a ticket at the gate, undoing a mistaken admission ---------------


@dataclass(frozen=True)
class TypeStats:
    ticket_type_id: uuid.UUID
    name: str
    admitted: int
    total: int


@dataclass(frozen=True)
class CheckinStats:
    """Valid tickets of a list's types and how many of them are in, overall and per
    ticket type (``admitted``: tickets inside the list now)."""

    list_id: uuid.UUID | None
    admitted: int
    total: int
    by_ticket_type: list[TypeStats]


def _list_of_event(
    session: Session, *, event_id: uuid.UUID, list_id: uuid.UUID | None
) -> CheckinList | None:
    """The named list of the event (404 if not the event's), else its default list (None
    when it has none yet: nothing was scanned)."""
    if list_id is None:
        return session.scalar(
            select(CheckinList).where(CheckinList.default_for_event_id == event_id)
        )
    found = session.scalar(
        select(CheckinList).where(CheckinList.id == list_id, CheckinList.event_id == event_id)
    )
    if found is None:
        raise CheckinListNotFound()
    return found


def checkin_stats(
    session: Session, *, access: EventAccess, list_id: uuid.UUID | None = None
) -> CheckinStats:
    """Inside now and valid tickets of a list (default: the event's default list), by
    ticket type. Read-only aggregate queries, no lock (a snapshot is fine for a counter).
    """
    event_id = access.event.id
    found = _list_of_event(session, event_id=event_id, list_id=list_id)
    # An event without its default list yet has nobody in: count on a list admitting all.
    counted = found if found is not None else CheckinList(id=uuid.uuid4(), all_ticket_types=True)
    stats = lists.stats_of_list(session, event_id=event_id, checkin_list=counted)
    by_type = [
        TypeStats(
            ticket_type_id=item.ticket_type_id,
            name=item.name,
            admitted=item.inside,
            total=item.total,
        )
        for item in stats.by_ticket_type
    ]
    return CheckinStats(
        list_id=found.id if found is not None else None,
        admitted=stats.inside,
        total=stats.total,
        by_ticket_type=by_type,
    )


def first_entries(session: Session, *, ticket_ids: list[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    """Each ticket's first entry on any of its event's lists (tickets never admitted are
    left out): what a ticket shows as ``admitted_at``. Reaches the presences through
    the event's lists, so each probe uses the presences' key ``(list_id, ticket_id)``."""
    if not ticket_ids:
        return {}
    rows = session.execute(
        select(Ticket.id, func.min(CheckinPresence.first_entry_at))
        .join(CheckinList, CheckinList.event_id == Ticket.event_id)
        .join(
            CheckinPresence,
            (CheckinPresence.list_id == CheckinList.id) & (CheckinPresence.ticket_id == Ticket.id),
        )
        .where(Ticket.id.in_(ticket_ids))
        .group_by(Ticket.id)
    ).all()
    return {row[0]: row[1] for row in rows}


def first_entries_of_event(session: Session, *, event_id: uuid.UUID) -> dict[uuid.UUID, datetime]:
    """``first_entries`` of every ticket of an event (an export): one grouped query."""
    rows = session.execute(
        select(CheckinPresence.ticket_id, func.min(CheckinPresence.first_entry_at))
        .join(CheckinList, CheckinList.id == CheckinPresence.list_id)
        .where(CheckinList.event_id == event_id)
        .group_by(CheckinPresence.ticket_id)
    ).all()
    return {row[0]: row[1] for row in rows}


SEARCH_LIMIT = 20
MIN_SEARCH = 2


@dataclass(frozen=True)
class FoundTicket:
    id: uuid.UUID
    holder_name: str
    ticket_type_name: str
    order_code: str
    status: TicketStatus
    # Its presence on the list searched for (the default list unless named).
    inside: bool
    admitted_at: datetime | None  # the latest entry
    admitted_gate: str | None
    admitted_by: str | None


def find_tickets(
    session: Session, *, access: EventAccess, query: str, list_id: uuid.UUID | None = None
) -> list[FoundTicket]:
    """Tickets of ``access.event`` for a person at the gate without their QR, with their
    presence on a list (default: the event's default list).

    Matches a holder's or buyer's name containing the text, or exactly (any case) an
    order code, a buyer's e-mail or the ticket code printed under the QR. E-mails match
    whole, not in part, so the search cannot be used to read them letter by letter.
    At most ``SEARCH_LIMIT``, by holder name. Read-only, no lock.
    """
    text = " ".join(query.split())
    if len(text) < MIN_SEARCH:
        raise SearchTooShort(min_length=MIN_SEARCH)
    found_list = _list_of_event(session, event_id=access.event.id, list_id=list_id)
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
    searched_list = found_list.id if found_list is not None else uuid.UUID(int=0)
    admitted_by = (
        select(func.coalesce(func.nullif(User.full_name, ""), User.email))
        .select_from(CheckIn)
        .join(User, User.id == CheckIn.scanned_by_id)
        .where(
            CheckIn.ticket_id == Ticket.id,
            CheckIn.list_id == searched_list,
            CheckIn.result == ScanResult.admitted,
        )
        .order_by(CheckIn.scanned_at.desc())
        .limit(1)
        .scalar_subquery()
        .label("admitted_by")
    )
    rows = session.execute(
        select(
            Ticket.id,
            Ticket.holder_name,
            TicketType.name.label("ticket_type_name"),
            Order.code.label("order_code"),
            Ticket.status,
            CheckinPresence.inside,
            CheckinPresence.last_entry_at,
            CheckinPresence.last_gate,
            admitted_by,
        )
        .join(TicketType, TicketType.id == Ticket.ticket_type_id)
        .join(Order, Order.id == Ticket.order_id)
        .outerjoin(
            CheckinPresence,
            (CheckinPresence.list_id == searched_list) & (CheckinPresence.ticket_id == Ticket.id),
        )
        .where(Ticket.event_id == access.event.id, or_(*conditions))
        .order_by(Ticket.holder_name, Ticket.id)
        .limit(SEARCH_LIMIT)
    ).all()
    return [
        FoundTicket(
            id=row.id,
            holder_name=row.holder_name,
            ticket_type_name=row.ticket_type_name,
            order_code=row.order_code,
            status=row.status,
            inside=bool(row.inside),
            admitted_at=row.last_entry_at if row.inside else None,
            admitted_gate=row.last_gate if row.inside else None,
            admitted_by=row.admitted_by if row.inside else None,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class UndoneAdmission:
    ticket_id: uuid.UUID
    holder_name: str
    list_id: uuid.UUID
    checkin_id: uuid.UUID  # the admitting scan, kept
    admitted_at: datetime
    admitted_gate: str | None
    undone_at: datetime
    undone_by_id: uuid.UUID


def undo_admission(
    session: Session,
    *,
    access: EventAccess,
    ticket_id: uuid.UUID,
    list_id: uuid.UUID | None = None,
) -> UndoneAdmission:
    """Undo a ticket's current entry on a list (default: the event's default list), a
    supervisor's act (``undo_check_in``): the ticket is out again and may be admitted
    again; the admitting scan keeps its row and a CheckinUndo records who undid it.

    Lock: the presence row, ``SELECT ... FOR UPDATE`` (SQLite: the write transaction),
    the row a scan's entry or exit writes; then a write guarded by the state read. Two
    undos take turns: the second finds the ticket out (TICKET_NOT_ADMITTED); a scan
    before the undo is answered "already admitted", one after it admits.
    ``checkin_undos.checkin_id`` is unique besides.
    """
    if not access.org.allows(Permission.undo_check_in):
        raise PermissionDenied()
    event_id = access.event.id
    ticket = session.execute(
        select(Ticket.id, Ticket.holder_name).where(
            Ticket.id == ticket_id, Ticket.event_id == event_id
        )
    ).first()
    if ticket is None:
        raise TicketNotFound()
    found_list = _list_of_event(session, event_id=event_id, list_id=list_id)
    if found_list is None:
        raise TicketNotAdmitted()
    this = (CheckinPresence.list_id == found_list.id) & (CheckinPresence.ticket_id == ticket_id)
    presence = session.execute(
        select(CheckinPresence.inside, CheckinPresence.entries, CheckinPresence.first_entry_at)
        .where(this)
        .with_for_update()
    ).first()
    if presence is None or not presence.inside:
        raise TicketNotAdmitted()
    # The admitting scans on this list, newest first, that no one undid: the first is
    # the entry undone now, the second (if any) the entry before it.
    admissions = session.execute(
        select(CheckIn.id, CheckIn.scanned_at, CheckIn.gate)
        .outerjoin(CheckinUndo, CheckinUndo.checkin_id == CheckIn.id)
        .where(
            CheckIn.event_id == event_id,
            CheckIn.ticket_id == ticket_id,
            CheckIn.list_id == found_list.id,
            CheckIn.result == ScanResult.admitted,
            CheckinUndo.id.is_(None),
        )
        .order_by(CheckIn.scanned_at.desc())
        .limit(2)
    ).all()
    if not admissions:  # admitted outside the scanner: no scan to point at
        raise TicketNotAdmitted()
    admission = admissions[0]
    guard = this & CheckinPresence.inside.is_(True) & (CheckinPresence.entries == presence.entries)
    if presence.entries <= 1:
        changed = session.execute(delete(CheckinPresence).where(guard))
    else:
        # Back to the state before that entry: out, since the latest exit.
        last_exit = session.execute(
            select(CheckIn.gate)
            .where(
                CheckIn.ticket_id == ticket_id,
                CheckIn.list_id == found_list.id,
                CheckIn.result == ScanResult.exited,
            )
            .order_by(CheckIn.scanned_at.desc())
            .limit(1)
        ).first()
        changed = session.execute(
            update(CheckinPresence)
            .where(guard)
            .values(
                inside=False,
                entries=CheckinPresence.entries - 1,
                last_entry_at=admissions[1].scanned_at
                if len(admissions) > 1
                else presence.first_entry_at,
                last_gate=last_exit.gate if last_exit is not None else None,
            )
            .execution_options(synchronize_session=False)
        )
    if cast(Any, changed).rowcount != 1:  # pragma: no cover - the row is locked
        raise TicketNotAdmitted()
    now = utcnow()
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
        holder_name=ticket.holder_name,
        list_id=found_list.id,
        checkin_id=admission.id,
        admitted_at=admission.scanned_at,
        admitted_gate=admission.gate,
        undone_at=now,
        undone_by_id=access.org.user.id,
    )
