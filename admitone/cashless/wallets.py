"""Wallets: finding and opening them, crediting them (debt first), showing them to their
holder (balance, the pass signed now, the history), and the organizer's acts on them
(a new pass for a lost one, blocking, finding one).

``credit`` is the one way money enters a wallet, whatever brought it (an online payment,
cash or a card at a desk): the top-up lands in the wallet, then pays whatever debt the
wallet has (offline sales it could not cover), and a wallet whose debt is cleared may be
used offline again.

Opening from a read: the attendee's first look at a wallet (a GET) opens it. A read
request's unit of work writes nothing, so the wallet is opened in a short write unit of
work of its own, as ``KeyRing.get_or_create`` makes a missing key (and for the same
reason, never from a write unit of work: on SQLite the second writer would wait for the
first, which is itself). The card is then read in that unit of work: a SQLite read
transaction keeps the snapshot it began with and would not see the new wallet.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from admitone.accounts.models import User
from admitone.authorization import OrgAccess
from admitone.cashless import ledger
from admitone.cashless.errors import CashlessNotEnabled, WalletClosed, WalletNotFound
from admitone.cashless.models import (
    AccountKind,
    CashlessSettings,
    EntryKind,
    EntryOrigin,
    JournalEntry,
    LedgerAccount,
    LedgerTransfer,
    SaleLine,
    Stand,
    Wallet,
    WalletPass,
    WalletStatus,
)
from admitone.cashless.passes import display_code, new_code, normalize_code, sign_pass
from admitone.db import Database, insert_once, utcnow
from admitone.events import queries as event_queries
from admitone.events.errors import EventNotFound
from admitone.events.models import Event, EventStatus
from admitone.orders.models import Order, OrderStatus
from admitone.tickets.signing import EventKey, KeyRing


def cashless_of(session: Session, *, event_id: uuid.UUID) -> CashlessSettings:
    """The event's cashless settings; ``CashlessNotEnabled`` if it has none or is off."""
    return enabled_cashless(session.get(CashlessSettings, event_id))


def enabled_cashless(settings: CashlessSettings | None) -> CashlessSettings:
    """``settings`` (an event's, already read), if cashless is on for it."""
    if settings is None or not settings.enabled:
        raise CashlessNotEnabled()
    return settings


def wallet_of(session: Session, *, event_id: uuid.UUID, wallet_id: uuid.UUID) -> Wallet:
    wallet = session.scalar(
        select(Wallet).where(Wallet.id == wallet_id, Wallet.event_id == event_id)
    )
    if wallet is None:
        raise WalletNotFound()
    return wallet


def open_wallet(session: Session, *, event_id: uuid.UUID, user_id: uuid.UUID) -> Wallet:
    """The user's wallet for the event, opened (with its accounts and a first pass) the
    first time. Two first times at once open one: the insert does nothing on the unique
    ``(event_id, user_id)`` and both read the same row."""
    wallet = session.scalar(
        select(Wallet).where(Wallet.event_id == event_id, Wallet.user_id == user_id)
    )
    if wallet is not None:
        return wallet
    wallet_id = uuid.uuid4()
    now = utcnow()
    if insert_once(
        session,
        Wallet,
        {
            "id": wallet_id,
            "event_id": event_id,
            "user_id": user_id,
            "status": "active",
            "offline_blocked": False,
            "created_at": now,
            "changed_at": now,
        },
    ):
        ledger.wallet_accounts(session, event_id=event_id, wallet_id=wallet_id)
        issue_pass(session, wallet_id=wallet_id, event_id=event_id, issued_by_id=user_id)
    wallet = session.scalar(
        select(Wallet).where(Wallet.event_id == event_id, Wallet.user_id == user_id)
    )
    assert wallet is not None
    return wallet


def issue_pass(
    session: Session,
    *,
    wallet_id: uuid.UUID,
    event_id: uuid.UUID,
    issued_by_id: uuid.UUID | None,
) -> WalletPass:
    """A new pass for the wallet, with a printed code no other pass of the event has."""
    while True:
        code = new_code()
        taken = session.scalar(
            select(WalletPass.id).where(WalletPass.event_id == event_id, WalletPass.code == code)
        )
        if taken is None:
            break
    wallet_pass = WalletPass(
        wallet_id=wallet_id, event_id=event_id, code=code, issued_by_id=issued_by_id
    )
    session.add(wallet_pass)
    session.flush()
    return wallet_pass


@dataclass(frozen=True, slots=True)
class Credited:
    """A credit booked (or found again under its key): the entry, what paid the debt,
    and the wallet's balance and debt after it."""

    entry_id: uuid.UUID
    replayed: bool
    debt_paid_minor: int
    balance_minor: int
    debt_minor: int


def credit(
    session: Session,
    *,
    wallet: Wallet,
    amount_minor: int,
    source: ledger.AccountRef,
    idempotency_key: str,
    origin: EntryOrigin,
    request: Any = None,
    **entry_fields: Any,
) -> Credited:
    """Put ``amount_minor`` from ``source`` (the online payments, a cash register, a card
    terminal) into ``wallet``, then pay its debt from it: one entry, two transfers at
    most. A wallet whose debt reaches zero may be used offline again."""
    wallet_account, debt = ledger.wallet_accounts(
        session, event_id=wallet.event_id, wallet_id=wallet.id
    )
    started = ledger.begin_entry(
        session,
        event_id=wallet.event_id,
        idempotency_key=idempotency_key,
        kind=EntryKind.topup,
        origin=origin,
        amount_minor=amount_minor,
        request=request,
        wallet_id=wallet.id,
        **entry_fields,
    )
    if isinstance(started, ledger.Replay):
        now = ledger.balances(session, [wallet_account, debt])
        paid = int((started.answer or {}).get("debt_paid_minor", 0))
        return Credited(started.entry_id, True, paid, now[wallet_account.id], -now[debt.id])
    # Both of the wallet's rows locked in the ledger's order (by id), as every post and
    # offline batch takes them: locking the debt alone first could wait in a cycle.
    _account, _balance, _debt, debt_balance = ledger.lock_wallet_accounts(
        session, wallet_ids=[wallet.id]
    )[wallet.id]
    owed = -debt_balance
    paid = min(owed, amount_minor)
    moves = [ledger.Move(source, wallet_account, amount_minor)]
    if paid:
        moves.append(ledger.Move(wallet_account, debt, paid))
    after = ledger.post(session, entry_id=started, moves=moves)
    debt_after = -after.get(debt.id, -owed)
    ledger.set_entry(session, started, answer={"debt_paid_minor": paid})
    if owed and not debt_after and wallet.offline_blocked:
        session.execute(
            update(Wallet)
            .where(Wallet.id == wallet.id)
            .values(offline_blocked=False, changed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        wallet.offline_blocked = False
    return Credited(started, False, paid, after[wallet_account.id], debt_after)


# --- the holder's view: balance, the pass signed now, the history -------------------------

# What an event without settings (or with cashless switched off since) signs into a pass.
DEFAULT_PASS_VALIDITY_MINUTES = 360


@dataclass(frozen=True, slots=True)
class WalletSummary:
    """A wallet as its holder and the organizer see it: its event, its money (minor units
    of the event's currency) and its state. ``unit_name`` is shown beside the amounts,
    never instead of them."""

    wallet: Wallet
    event: Event
    settings: CashlessSettings | None
    balance_minor: int
    debt_minor: int  # what the holder owes (offline sales beyond the balance), >= 0

    @property
    def currency(self) -> str:
        return self.event.currency

    @property
    def unit_name(self) -> str | None:
        return self.settings.unit_name if self.settings else None

    @property
    def cashless_enabled(self) -> bool:
        return self.settings is not None and self.settings.enabled


@dataclass(frozen=True, slots=True)
class ShownPass:
    """The current pass as a phone shows it: the QR signed now (``not_after`` and the
    offline caps inside) and the printed code in its display form."""

    pass_id: uuid.UUID
    code: str
    qr: str
    not_after: datetime
    wallet_cap_minor: int
    sale_cap_minor: int


@dataclass(frozen=True, slots=True)
class WalletCard:
    summary: WalletSummary
    current_pass: ShownPass | None  # None only if every pass was revoked without a new one


def _summaries(session: Session, *conditions: ColumnElement[bool]) -> list[WalletSummary]:
    """Wallets with their event, settings and balances, in one query."""
    balance = aliased(LedgerAccount)
    debt = aliased(LedgerAccount)
    rows = session.execute(
        select(Wallet, Event, CashlessSettings, balance.balance_minor, debt.balance_minor)
        .join(Event, Event.id == Wallet.event_id)
        .outerjoin(CashlessSettings, CashlessSettings.event_id == Wallet.event_id)
        .outerjoin(
            balance, and_(balance.wallet_id == Wallet.id, balance.kind == AccountKind.wallet)
        )
        .outerjoin(debt, and_(debt.wallet_id == Wallet.id, debt.kind == AccountKind.wallet_debt))
        .where(*conditions)
        .order_by(Event.starts_at.desc(), Wallet.id)
    ).all()
    return [
        WalletSummary(wallet, event, settings, int(balance_minor or 0), -int(debt_minor or 0))
        for wallet, event, settings, balance_minor, debt_minor in rows
    ]


def _of_user(event_id: uuid.UUID, user_id: uuid.UUID) -> ColumnElement[bool]:
    return and_(Wallet.event_id == event_id, Wallet.user_id == user_id)


def check_openable(session: Session, *, event_id: uuid.UUID) -> None:
    """A wallet opens only for a published event with cashless on (EventNotFound for a
    draft, a cancelled or an unknown event; CashlessNotEnabled)."""
    status = session.scalar(select(Event.status).where(Event.id == event_id))
    if status != EventStatus.published:
        raise EventNotFound()
    cashless_of(session, event_id=event_id)


def pass_caps(summary: WalletSummary) -> tuple[int, int]:
    """(per device, per sale): what an offline device may accept on this wallet's pass.
    The settings' caps, never more than the wallet can pay (balance less debt, floored
    at zero); nothing for a wallet that may not spend or is blocked offline."""
    settings = summary.settings
    spendable = (
        settings is not None
        and settings.enabled
        and summary.wallet.status == WalletStatus.active
        and not summary.wallet.offline_blocked
    )
    if not spendable or settings is None:
        return 0, 0
    available = max(summary.balance_minor - summary.debt_minor, 0)
    wallet_cap = min(settings.offline_wallet_cap_minor, available)
    return wallet_cap, min(settings.offline_sale_cap_minor, wallet_cap)


def current_pass(session: Session, *, wallet_id: uuid.UUID) -> WalletPass | None:
    return session.scalar(
        select(WalletPass)
        .where(WalletPass.wallet_id == wallet_id, WalletPass.revoked_at.is_(None))
        .order_by(WalletPass.issued_at.desc(), WalletPass.id)
        .limit(1)
    )


def _card(
    session: Session, keys: KeyRing, key: EventKey, summary: WalletSummary, now: datetime
) -> WalletCard:
    wallet_pass = current_pass(session, wallet_id=summary.wallet.id)
    if wallet_pass is None:
        return WalletCard(summary, None)
    settings = summary.settings
    minutes = settings.pass_validity_minutes if settings else DEFAULT_PASS_VALIDITY_MINUTES
    # Whole seconds: what the QR carries is what the answer says.
    not_after = (now + timedelta(minutes=minutes)).replace(microsecond=0)
    wallet_cap, sale_cap = pass_caps(summary)
    qr = sign_pass(
        keys,
        key,
        pass_id=wallet_pass.id,
        not_after=not_after,
        wallet_cap_minor=wallet_cap,
        sale_cap_minor=sale_cap,
    )
    shown = ShownPass(
        pass_id=wallet_pass.id,
        code=display_code(wallet_pass.code),
        qr=qr,
        not_after=not_after,
        wallet_cap_minor=wallet_cap,
        sale_cap_minor=sale_cap,
    )
    return WalletCard(summary, shown)


def my_wallet(
    session: Session,
    *,
    database: Database,
    keys: KeyRing,
    event_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
) -> WalletCard:
    """The user's wallet for the event with its current pass signed now, opened the
    first time (a published event with cashless on).

    For a read unit of work only (see the module doc): a wallet to open is opened, and
    the event's key made if it has none, each in a short write unit of work of its own.
    Two first looks at once open one wallet (``open_wallet``)."""
    found = _summaries(session, _of_user(event_id, user_id))
    if not found:
        check_openable(session, event_id=event_id)
    # Before any write of ours: a missing key is made in its own unit of work.
    key = keys.get_or_create(session, event_id)
    if found:
        return _card(session, keys, key, found[0], now)
    with database.session() as write:
        open_wallet(write, event_id=event_id, user_id=user_id)
        return _card(write, keys, key, _summaries(write, _of_user(event_id, user_id))[0], now)


def _ticket_wallets_to_open(user_id: uuid.UUID) -> Select[uuid.UUID]:
    """The events whose organizer opens a wallet with every ticket (``wallet_with_ticket``)
    where the user paid an order and has no wallet yet."""
    return (
        select(Order.event_id)
        .join(Event, Event.id == Order.event_id)
        .join(CashlessSettings, CashlessSettings.event_id == Order.event_id)
        .where(
            Order.user_id == user_id,
            Order.status == OrderStatus.paid,
            Event.status == EventStatus.published,
            CashlessSettings.enabled.is_(True),
            CashlessSettings.wallet_with_ticket.is_(True),
            ~exists().where(Wallet.event_id == Order.event_id, Wallet.user_id == user_id),
        )
        .distinct()
    )


def my_wallets(session: Session, *, database: Database, user_id: uuid.UUID) -> list[WalletSummary]:
    """The user's wallets, the newest event first.

    A ticket buyer of an event with ``wallet_with_ticket`` has a wallet there without
    asking: it is opened here, the first time they look (docs/cashless.md says why
    here rather than when the order is paid), in a write unit of work of its own, as
    ``my_wallet`` does; so for a read unit of work only."""
    missing = session.scalars(_ticket_wallets_to_open(user_id)).all()
    if not missing:
        return _summaries(session, Wallet.user_id == user_id)
    with database.session() as write:
        for event_id in missing:
            open_wallet(write, event_id=event_id, user_id=user_id)
        return _summaries(write, Wallet.user_id == user_id)


@dataclass(frozen=True, slots=True)
class HistoryLine:
    name: str
    quantity: int
    unit_price_minor: int
    total_minor: int


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One movement of a wallet's money, as its holder reads it.

    ``amount_minor``: what it did to the holder's money (balance less debt), signed: a
    top-up +2000, a sale -750 (also when part of it became debt). ``debt_change_minor``:
    what it did to the debt: +250 for the part of an offline sale the balance could not
    cover, -300 for the debt a top-up paid."""

    entry_id: uuid.UUID
    kind: EntryKind
    origin: EntryOrigin
    amount_minor: int
    debt_change_minor: int
    stand_name: str | None
    lines: tuple[HistoryLine, ...]
    occurred_at: datetime


def wallet_history(
    session: Session, *, event_id: uuid.UUID, user_id: uuid.UUID, page: int, per_page: int
) -> tuple[list[HistoryEntry], int]:
    """The user's wallet's entries for the event, the newest first; (page, total). No
    wallet there, no entries (reading opens nothing). Read-only."""
    wallet_id = session.scalar(select(Wallet.id).where(_of_user(event_id, user_id)))
    if wallet_id is None:
        return [], 0
    return entries_of(session, wallet_id=wallet_id, page=page, per_page=per_page)


def entries_of(
    session: Session, *, wallet_id: uuid.UUID, page: int, per_page: int
) -> tuple[list[HistoryEntry], int]:
    """A wallet's entries, the newest first, with their stand, lines and effect on the
    wallet's two accounts; (page, total). Four queries whatever the page's size."""
    total = session.scalar(
        select(func.count()).select_from(JournalEntry).where(JournalEntry.wallet_id == wallet_id)
    )
    rows = session.execute(
        select(JournalEntry, Stand.name)
        .outerjoin(Stand, Stand.id == JournalEntry.stand_id)
        .where(JournalEntry.wallet_id == wallet_id)
        .order_by(JournalEntry.occurred_at.desc(), JournalEntry.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    entry_ids = [entry.id for entry, _name in rows]
    if not entry_ids:
        return [], int(total or 0)
    kinds = {
        account_id: kind
        for account_id, kind in session.execute(
            select(LedgerAccount.id, LedgerAccount.kind).where(LedgerAccount.wallet_id == wallet_id)
        )
    }
    effect: dict[uuid.UUID, int] = defaultdict(int)
    debt_effect: dict[uuid.UUID, int] = defaultdict(int)
    for entry_id, source, target, amount in session.execute(
        select(
            LedgerTransfer.entry_id,
            LedgerTransfer.source_account_id,
            LedgerTransfer.target_account_id,
            LedgerTransfer.amount_minor,
        ).where(
            LedgerTransfer.entry_id.in_(entry_ids),
            or_(
                LedgerTransfer.source_account_id.in_(list(kinds)),
                LedgerTransfer.target_account_id.in_(list(kinds)),
            ),
        )
    ):
        for account, sign in ((source, -1), (target, 1)):
            if account in kinds:
                effect[entry_id] += sign * amount
                if kinds[account] == AccountKind.wallet_debt:
                    # The debt account holds minus the debt: what it gains, the debt loses.
                    debt_effect[entry_id] -= sign * amount
    lines: dict[uuid.UUID, list[HistoryLine]] = defaultdict(list)
    for line in session.scalars(
        select(SaleLine)
        .where(SaleLine.entry_id.in_(entry_ids))
        .order_by(SaleLine.entry_id, SaleLine.line_no)
    ):
        lines[line.entry_id].append(
            HistoryLine(line.name, line.quantity, line.unit_price_minor, line.total_minor)
        )
    entries = [
        HistoryEntry(
            entry_id=entry.id,
            kind=entry.kind,
            origin=entry.origin,
            amount_minor=effect[entry.id],
            debt_change_minor=debt_effect[entry.id],
            stand_name=stand_name,
            lines=tuple(lines[entry.id]),
            occurred_at=entry.occurred_at,
        )
        for entry, stand_name in rows
    ]
    return entries, int(total or 0)


# --- the organizer's and the cashier's acts -----------------------------------------------


def wallets_of(organization_id: uuid.UUID, event_id: uuid.UUID) -> Select[Wallet]:
    """The scoped statement of an organization's wallets for one of its events: every
    organizer lookup of a wallet goes through it (another's wallet is not found)."""
    return (
        select(Wallet)
        .join(Event, Event.id == Wallet.event_id)
        .where(Event.organization_id == organization_id, Wallet.event_id == event_id)
    )


def _check_organizer_event(session: Session, access: OrgAccess, event_id: uuid.UUID) -> None:
    """EventNotFound unless the event is the organization's (ids do not leak)."""
    found = session.scalar(
        event_queries.events_of(access.organization.id)
        .where(Event.id == event_id)
        .with_only_columns(Event.id)
    )
    if found is None:
        raise EventNotFound()


def _organizer_wallet(
    session: Session, access: OrgAccess, event_id: uuid.UUID, wallet_id: uuid.UUID
) -> Wallet:
    """One of the event's wallets, its row locked (EventNotFound for another
    organization's event, WalletNotFound for a wallet of another event)."""
    _check_organizer_event(session, access, event_id)
    wallet = session.scalar(
        wallets_of(access.organization.id, event_id)
        .where(Wallet.id == wallet_id)
        .with_for_update(of=Wallet)
        .execution_options(populate_existing=True)
    )
    if wallet is None:
        raise WalletNotFound()
    return wallet


@dataclass(frozen=True, slots=True)
class ReplacedPass:
    wallet_id: uuid.UUID
    new_pass: WalletPass
    revoked: int  # passes revoked (one, or none if the wallet had no valid pass)


def replace_pass(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    wallet_id: uuid.UUID,
    reason: str,
    now: datetime,
) -> ReplacedPass:
    """A lost phone or wristband: revoke the wallet's valid pass (``PASS_REVOKED`` from
    now on, online and, at their next download, offline) and issue a new one. The money
    stays in the wallet. Lock: the wallet row, so two replacements at once leave one
    valid pass."""
    wallet = _organizer_wallet(session, access, event_id, wallet_id)
    revoked = session.execute(
        update(WalletPass)
        .where(WalletPass.wallet_id == wallet.id, WalletPass.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by_id=access.user.id, revoke_reason=reason, changed_at=now)
        .execution_options(synchronize_session=False)
    )
    new_pass = issue_pass(
        session, wallet_id=wallet.id, event_id=wallet.event_id, issued_by_id=access.user.id
    )
    return ReplacedPass(wallet.id, new_pass, int(getattr(revoked, "rowcount", 0) or 0))


def set_wallet_blocked(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    wallet_id: uuid.UUID,
    blocked: bool,
    now: datetime,
) -> WalletSummary:
    """Block a wallet (it cannot spend, online or offline) or unblock it. Blocking a
    blocked wallet, or unblocking an active one, changes nothing; a wallet being paid
    back or closed stays as it is (WalletClosed). Lock: the wallet row."""
    wallet = _organizer_wallet(session, access, event_id, wallet_id)
    target = WalletStatus.blocked if blocked else WalletStatus.active
    if wallet.status not in (WalletStatus.active, WalletStatus.blocked):
        raise WalletClosed(status=str(wallet.status))
    if wallet.status != target:
        wallet.status = target
        wallet.changed_at = now
        session.flush()
    return _summaries(session, Wallet.id == wallet.id)[0]


def find_wallets(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    search: str | None,
    page: int,
    per_page: int,
) -> tuple[list[tuple[WalletSummary, User | None, str | None]], int]:
    """The event's wallets, found by their holder's e-mail or name (a part of it, any
    case) or by a printed code (any of the wallet's passes, a lost one too); each with
    its holder and current code. Newest first; (page, total). Read-only."""
    _check_organizer_event(session, access, event_id)
    ids = wallets_of(access.organization.id, event_id).outerjoin(User, User.id == Wallet.user_id)
    text = (search or "").strip()
    if text:
        needle = text.lower()
        matches: list[ColumnElement[bool]] = [
            func.lower(User.email).contains(needle, autoescape=True),
            func.lower(User.full_name).contains(needle, autoescape=True),
        ]
        code = normalize_code(text)
        if code is not None:
            matches.append(
                Wallet.id.in_(
                    select(WalletPass.wallet_id).where(
                        WalletPass.event_id == event_id, WalletPass.code == code
                    )
                )
            )
        ids = ids.where(or_(*matches))
    total = session.scalar(ids.with_only_columns(func.count(Wallet.id)).order_by(None))
    page_ids = session.scalars(
        ids.with_only_columns(Wallet.id)
        .order_by(Wallet.created_at.desc(), Wallet.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    if not page_ids:
        return [], int(total or 0)
    summaries = {s.wallet.id: s for s in _summaries(session, Wallet.id.in_(page_ids))}
    holders = _holders(session, [s.wallet.user_id for s in summaries.values() if s.wallet.user_id])
    codes = {
        wallet_id: code
        for wallet_id, code in session.execute(
            select(WalletPass.wallet_id, WalletPass.code).where(
                WalletPass.wallet_id.in_(page_ids), WalletPass.revoked_at.is_(None)
            )
        )
    }
    found = []
    for wallet_id in page_ids:
        summary = summaries[wallet_id]
        code = codes.get(wallet_id)
        holder = holders.get(summary.wallet.user_id) if summary.wallet.user_id else None
        found.append((summary, holder, display_code(code) if code else None))
    return found, int(total or 0)


def _holders(session: Session, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, User]:
    if not user_ids:
        return {}
    return {user.id: user for user in session.scalars(select(User).where(User.id.in_(user_ids)))}
