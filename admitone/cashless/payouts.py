"""Leftover refunds (payouts) and the event's cashless close (issue 17, point 7).

After the event ends and within its refund window, an attendee asks for what is left in
their wallet (``request_refund``). Under the wallet's locks the wallet moves to
``payout_pending`` (it spends no more), its debt is settled from the balance, the
event's fee is kept, and the rest is paid back: first to the cards that paid its online
top-ups (through the provider, newest payment first, never beyond what each payment has
left to refund), the rest by bank transfer to the IBAN the attendee gives. One ledger
entry of kind ``payout`` under the key ``payout:<wallet id>`` books it all, and one
``wallet_payouts`` row (unique per wallet) records it: a wallet is paid back once.

The organizer lists the payouts, exports the bank ones not yet exported as a SEPA credit
transfer file (pain.001, ``sepaxml``; each payout in one file only), and once the refund
window is over closes the event's cashless (``close_cashless``): balances left go to the
``unclaimed`` account (kept or donated, as the settings say), debts are written off
against ``offline_loss``, every wallet is closed. A second close books nothing more.

Lock order of a refund request: the wallet's succeeded top-up payments (by id), then the
wallet's two accounts (the ledger's rank 0, by id), then the wallet row (its status, by a
conditional update), then the event's shared accounts (``ledger.post``). A charge locks
the wallet's account and then reads the status, so it either lands before the payout
reads the balance or sees ``payout_pending`` and is refused. A refund made in the
provider's dashboard locks the top-up, then its payment, then the wallet's account: the
same order, so the two never wait on each other in a cycle.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sepaxml import SepaTransfer
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from admitone.accounts.models import User
from admitone.authorization import OrgAccess
from admitone.cashless import ledger
from admitone.cashless.errors import (
    BankAccountRequired,
    BicInvalid,
    CashlessCloseTooEarly,
    CashlessNotEnabled,
    IbanInvalid,
    NothingToExport,
    NothingToRefund,
    PayoutExportNotFound,
    RefundBelowMinimum,
    RefundWindowClosed,
    RefundWindowNotOpen,
    SepaEuroOnly,
    WalletBlocked,
    WalletClosed,
    WalletNotFound,
)
from admitone.cashless.models import (
    AccountKind,
    CashlessSettings,
    EntryKind,
    EntryOrigin,
    LedgerAccount,
    PayoutExport,
    PayoutStatus,
    TopupStatus,
    Wallet,
    WalletPayout,
    WalletStatus,
    WalletTopup,
)
from admitone.cashless.topups import TOPUP_PURPOSE
from admitone.config import Settings
from admitone.errors import DomainError
from admitone.events import queries as event_queries
from admitone.events.errors import EventNotFound
from admitone.events.models import Event, EventStatus
from admitone.payments import refunds as payment_refunds
from admitone.payments.models import Payment, PaymentStatus

# The reason given to the provider with each card refund of a leftover.
REFUND_REASON = "wallet_leftover"
# SEPA's limit on a name (pain.001 ``Nm``).
HOLDER_MAX = 70


# --- the bank account --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BankAccount:
    """An IBAN (compact form), its holder and its BIC (optional: SEPA needs none)."""

    holder: str
    iban: str
    bic: str | None


def checked_bank_account(
    *, holder: str | None, iban: str | None, bic: str | None, prefix: str = ""
) -> BankAccount | None:
    """The account given, validated (``schwifty``: the checksum, the country's length
    and format, the SEPA zone); None if no IBAN was given. ``IbanInvalid`` /
    ``BicInvalid`` name the field (``prefix`` + "iban"); ``BankAccountRequired`` when
    the IBAN comes without its holder."""
    iban = (iban or "").strip()
    holder = " ".join((holder or "").split())
    bic = (bic or "").strip() or None
    if not iban:
        return None
    try:
        parsed = IBAN(iban)
    except SchwiftyException as exc:
        raise IbanInvalid(field=f"{prefix}iban", reason=str(exc)) from exc
    if not parsed.in_sepa_zone:
        raise IbanInvalid(
            "This IBAN is not of a SEPA country.", field=f"{prefix}iban", reason="not_sepa"
        )
    if bic is not None:
        try:
            bic = str(BIC(bic).compact)
        except SchwiftyException as exc:
            raise BicInvalid(field=f"{prefix}bic", reason=str(exc)) from exc
    if not holder:
        raise BankAccountRequired(field=f"{prefix}account_holder")
    return BankAccount(holder=holder[:HOLDER_MAX], iban=str(parsed.compact), bic=bic)


# --- the split ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CardPart:
    payment_id: uuid.UUID
    amount_minor: int


@dataclass(frozen=True, slots=True)
class Split:
    """What a wallet's leftover becomes: the debt settled from the balance, the fee kept,
    the rest (``amount_minor``) to the cards (``card_parts``) and the bank."""

    balance_minor: int
    debt_minor: int
    debt_settled_minor: int
    fee_minor: int
    amount_minor: int
    card_parts: tuple[CardPart, ...]
    bank_minor: int

    @property
    def card_minor(self) -> int:
        return sum(part.amount_minor for part in self.card_parts)


def split_leftover(
    *,
    balance_minor: int,
    debt_minor: int,
    fee_minor: int,
    minimum_minor: int,
    refundable: Sequence[tuple[uuid.UUID, int]],
) -> Split:
    """The split of a wallet's leftover. ``refundable``: the wallet's top-up payments
    and what each may still refund, in the order they are used (newest first).
    ``NothingToRefund`` if nothing is left once the debt is settled;
    ``RefundBelowMinimum`` if what would be paid back (after the fee) is below the
    event's minimum or nothing."""
    settled = min(balance_minor, debt_minor)
    left = balance_minor - settled
    if left <= 0:
        raise NothingToRefund(balance_minor=balance_minor, debt_minor=debt_minor)
    amount = left - fee_minor
    if amount <= 0 or amount < minimum_minor:
        raise RefundBelowMinimum(
            refundable_minor=max(amount, 0), minimum_minor=minimum_minor, fee_minor=fee_minor
        )
    parts = []
    rest = amount
    for payment_id, remaining in refundable:
        if rest == 0:
            break
        taken = min(rest, remaining)
        if taken > 0:
            parts.append(CardPart(payment_id, taken))
            rest -= taken
    return Split(
        balance_minor=balance_minor,
        debt_minor=debt_minor,
        debt_settled_minor=settled,
        fee_minor=fee_minor,
        amount_minor=amount,
        card_parts=tuple(parts),
        bank_minor=rest,
    )


def _refundable_payments(wallet_id: uuid.UUID) -> Select[uuid.UUID, int]:
    """The succeeded payments of the wallet's credited online top-ups with what each may
    still refund, the newest first (the card most likely still valid)."""
    refundable = (Payment.amount_minor - Payment.refunded_minor).label("refundable")
    statement: Select[uuid.UUID, int] = (
        select(Payment.id, refundable)
        .join(
            WalletTopup,
            (Payment.purpose == TOPUP_PURPOSE) & (Payment.purpose_id == WalletTopup.id),
        )
        .where(
            WalletTopup.wallet_id == wallet_id,
            WalletTopup.status == TopupStatus.credited,
            Payment.status == PaymentStatus.succeeded,
            Payment.refunded_minor < Payment.amount_minor,
        )
    )
    return statement


def _newest_first(
    rows: Sequence[Any], succeeded: dict[uuid.UUID, Any]
) -> list[tuple[uuid.UUID, int]]:
    ordered = sorted(
        rows, key=lambda row: (succeeded.get(row[0]) or datetime.min, row[0]), reverse=True
    )
    return [(row[0], int(row[1])) for row in ordered]


def _read_refundable(
    session: Session, wallet_id: uuid.UUID, *, lock: bool
) -> list[tuple[uuid.UUID, int]]:
    statement = (
        _refundable_payments(wallet_id).add_columns(Payment.succeeded_at).order_by(Payment.id)
    )
    if lock:
        # By id, as every lock of payment rows is taken; the order of use is sorted here.
        statement = statement.with_for_update(of=Payment)
    rows = session.execute(statement).all()
    return _newest_first(rows, {row[0]: row[2] for row in rows})


# --- the window --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    opens_at: datetime
    closes_at: datetime

    def state(self, now: datetime) -> str:
        """ "before", "open" or "closed"."""
        if now < self.opens_at:
            return "before"
        return "open" if now <= self.closes_at else "closed"


def refund_window(event: Event, settings: CashlessSettings) -> Window:
    """From the event's end to ``refund_window_days`` after it."""
    return Window(event.ends_at, event.ends_at + timedelta(days=settings.refund_window_days))


def _check_window(window: Window, now: datetime) -> None:
    state = window.state(now)
    if state == "before":
        raise RefundWindowNotOpen(opens_at=window.opens_at.isoformat())
    if state == "closed":
        raise RefundWindowClosed(closed_at=window.closes_at.isoformat())


def _event_and_settings(session: Session, event_id: uuid.UUID) -> tuple[Event, CashlessSettings]:
    """An event that ran (not a draft) and its cashless settings. Switched off since
    does not matter here: the money in the wallets is still owed."""
    event = session.get(Event, event_id)
    if event is None or event.status == EventStatus.draft:
        raise EventNotFound()
    settings = session.get(CashlessSettings, event_id)
    if settings is None:
        raise CashlessNotEnabled()
    return event, settings


def _payout_of(session: Session, wallet_id: uuid.UUID) -> WalletPayout | None:
    return session.scalar(
        select(WalletPayout)
        .where(WalletPayout.wallet_id == wallet_id)
        .execution_options(populate_existing=True)
    )


# --- the attendee's: a quote, and the request --------------------------------------------


@dataclass(frozen=True, slots=True)
class RefundQuote:
    """What asking now would give (``split``), or why it would be refused
    (``refusal``), or the payout already made (``payout``). For the page and the API."""

    event: Event
    window: Window
    window_state: str
    wallet: Wallet | None
    split: Split | None
    refusal: DomainError | None
    payout: WalletPayout | None

    @property
    def needs_bank_account(self) -> bool:
        return self.split is not None and self.split.bank_minor > 0


def refund_quote(
    session: Session, *, event_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> RefundQuote:
    """The user's refund for the event as it stands now. Read-only, no lock: the request
    decides again under its locks."""
    event, settings = _event_and_settings(session, event_id)
    window = refund_window(event, settings)
    wallet = session.scalar(
        select(Wallet).where(Wallet.event_id == event_id, Wallet.user_id == user_id)
    )
    if wallet is None:
        raise WalletNotFound()
    payout = _payout_of(session, wallet.id)
    split: Split | None = None
    refusal: DomainError | None = None
    if payout is None:
        try:
            _check_window(window, now)
            _check_status(wallet.status)
            account, debt = ledger.wallet_accounts(session, event_id=event_id, wallet_id=wallet.id)
            held = ledger.balances(session, [account, debt])
            split = split_leftover(
                balance_minor=held[account.id],
                debt_minor=-held[debt.id],
                fee_minor=settings.refund_fee_minor,
                minimum_minor=settings.refund_minimum_minor,
                refundable=_read_refundable(session, wallet.id, lock=False),
            )
        except DomainError as exc:
            refusal = exc
    return RefundQuote(event, window, window.state(now), wallet, split, refusal, payout)


def _check_status(status: WalletStatus) -> None:
    if status == WalletStatus.blocked:
        raise WalletBlocked()
    if status != WalletStatus.active:
        raise WalletClosed(status=str(status))


@dataclass(frozen=True, slots=True)
class RequestedPayout:
    payout: WalletPayout
    replayed: bool  # the payout an earlier request made


@dataclass(frozen=True, slots=True)
class Claimed:
    """The wallet's accounts and balances read under their locks, the wallet claimed."""

    account: ledger.AccountRef
    balance_minor: int
    debt_account: ledger.AccountRef
    debt_minor: int


def _claim_wallet(session: Session, wallet_id: uuid.UUID, now: datetime) -> Claimed | None:
    """Lock the wallet's two accounts (rank 0, by id) and read them, then move the wallet
    active -> payout_pending by a conditional update; None if it was not active any
    more (another request claimed it first). The one step the race test's negative
    control replaces (tests/cashless/test_payouts.py)."""
    account, balance, debt, debt_balance = ledger.lock_wallet_accounts(
        session, wallet_ids=[wallet_id]
    )[wallet_id]
    moved = session.execute(
        update(Wallet)
        .where(Wallet.id == wallet_id, Wallet.status == WalletStatus.active)
        .values(status=WalletStatus.payout_pending, changed_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(moved, "rowcount", 0) != 1:
        return None
    return Claimed(account, balance, debt, -debt_balance)


def request_refund(
    session: Session,
    *,
    event_id: uuid.UUID,
    user_id: uuid.UUID,
    holder: str | None,
    iban: str | None,
    bic: str | None,
    now: datetime,
    settings: Settings,
) -> RequestedPayout:
    """Pay back the user's wallet for the event: the debt settled first, the fee kept,
    the rest to the cards of its online top-ups (refunded through the provider now) and
    the bank account given. Once per wallet: a second request answers the first payout
    (``replayed``), also when two arrive at once (the wallet's status moves by a
    conditional update under its accounts' locks; the entry's key ``payout:<wallet>``
    and the unique ``wallet_payouts.wallet_id`` are the nets under it).

    Refused, nothing changed: outside the window (409 ``REFUND_WINDOW_NOT_OPEN`` /
    ``REFUND_WINDOW_CLOSED``), a blocked or closed wallet, nothing left or below the
    minimum, a bank part without a valid IBAN and holder (422). Locks: see the module.
    The provider is called inside the unit of work: if it fails, all is rolled back and
    a retry sends the provider the same idempotency keys (``payments.refunds``)."""
    bank = checked_bank_account(holder=holder, iban=iban, bic=bic)
    event, cashless = _event_and_settings(session, event_id)
    wallet = session.scalar(
        select(Wallet).where(Wallet.event_id == event_id, Wallet.user_id == user_id)
    )
    if wallet is None:
        raise WalletNotFound()
    found = _payout_of(session, wallet.id)
    if found is not None:
        return RequestedPayout(found, replayed=True)
    _check_window(refund_window(event, cashless), now)
    _check_status(wallet.status)
    refundable = _read_refundable(session, wallet.id, lock=True)
    claimed = _claim_wallet(session, wallet.id, now)
    if claimed is None:
        found = _payout_of(session, wallet.id)
        if found is not None:
            return RequestedPayout(found, replayed=True)
        status = session.scalar(select(Wallet.status).where(Wallet.id == wallet.id))
        _check_status(WalletStatus(status or WalletStatus.closed))
        raise WalletClosed()  # pragma: no cover - _check_status raised
    split = split_leftover(
        balance_minor=claimed.balance_minor,
        debt_minor=claimed.debt_minor,
        fee_minor=cashless.refund_fee_minor,
        minimum_minor=cashless.refund_minimum_minor,
        refundable=refundable,
    )
    if split.bank_minor and bank is None:
        raise BankAccountRequired(field="iban", bank_minor=split.bank_minor)
    started = ledger.begin_entry(
        session,
        event_id=event_id,
        idempotency_key=f"payout:{wallet.id}",
        kind=EntryKind.payout,
        origin=EntryOrigin.online,
        amount_minor=split.amount_minor,
        wallet_id=wallet.id,
        operator_id=user_id,
        occurred_at=now,
        recorded_at=now,
    )
    if isinstance(started, ledger.Replay):  # pragma: no cover - the claim came first
        found = _payout_of(session, wallet.id)
        assert found is not None
        return RequestedPayout(found, replayed=True)
    moves = []
    if split.debt_settled_minor:
        moves.append(ledger.Move(claimed.account, claimed.debt_account, split.debt_settled_minor))
    if split.card_minor:
        online = ledger.account(session, event_id=event_id, kind=AccountKind.online_payments)
        moves.append(ledger.Move(claimed.account, online, split.card_minor))
    if split.bank_minor:
        bank_payouts = ledger.account(session, event_id=event_id, kind=AccountKind.bank_payouts)
        moves.append(ledger.Move(claimed.account, bank_payouts, split.bank_minor))
    if split.fee_minor:
        fees = ledger.account(session, event_id=event_id, kind=AccountKind.fees)
        moves.append(ledger.Move(claimed.account, fees, split.fee_minor))
    ledger.post(session, entry_id=started, moves=moves)
    card_refunds = []
    for part in split.card_parts:
        refund = payment_refunds.refund_payment_amount(
            session,
            payment_id=part.payment_id,
            amount_minor=part.amount_minor,
            reason=REFUND_REASON,
            now=now,
            settings=settings,
        )
        card_refunds.append(
            {
                "payment_id": str(part.payment_id),
                "refund_id": str(refund.id),
                "amount_minor": part.amount_minor,
            }
        )
    payout = WalletPayout(
        id=uuid.uuid4(),
        event_id=event_id,
        wallet_id=wallet.id,
        requested_by_id=user_id,
        status=PayoutStatus.pending if split.bank_minor else PayoutStatus.completed,
        currency=event.currency,
        amount_minor=split.amount_minor,
        card_minor=split.card_minor,
        bank_minor=split.bank_minor,
        fee_minor=split.fee_minor,
        debt_settled_minor=split.debt_settled_minor,
        card_refunds=card_refunds,
        account_holder=bank.holder if bank and split.bank_minor else None,
        iban=bank.iban if bank and split.bank_minor else None,
        bic=bank.bic if bank and split.bank_minor else None,
        entry_id=started,
        requested_at=now,
    )
    session.add(payout)
    session.flush()
    ledger.set_entry(session, started, answer={"payout_id": str(payout.id)})
    return RequestedPayout(payout, replayed=False)


# --- the organizer's: the list, the SEPA export ------------------------------------------


def _organizer_event(session: Session, access: OrgAccess, event_id: uuid.UUID) -> Event:
    event = session.scalar(
        event_queries.events_of(access.organization.id).where(Event.id == event_id)
    )
    if event is None:
        raise EventNotFound()
    return event


@dataclass(frozen=True, slots=True)
class PayoutRow:
    payout: WalletPayout
    holder_email: str | None


def list_payouts(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    status: PayoutStatus | None,
    page: int,
    per_page: int | None,
) -> tuple[Event, list[PayoutRow], int]:
    """The event's payouts, the newest first, with their holder's e-mail; (event, page,
    total); every one with no ``per_page`` (an export). Read-only."""
    event = _organizer_event(session, access, event_id)
    conditions = [WalletPayout.event_id == event.id]
    if status is not None:
        conditions.append(WalletPayout.status == status)
    total = session.scalar(select(func.count()).select_from(WalletPayout).where(*conditions))
    statement = (
        select(WalletPayout, User.email)
        .join(Wallet, Wallet.id == WalletPayout.wallet_id)
        .outerjoin(User, User.id == Wallet.user_id)
        .where(*conditions)
        .order_by(WalletPayout.requested_at.desc(), WalletPayout.id)
    )
    if per_page is not None:
        statement = statement.offset((page - 1) * per_page).limit(per_page)
    rows = session.execute(statement).all()
    return event, [PayoutRow(payout, email) for payout, email in rows], int(total or 0)


CSV_COLUMNS = (
    "payout_id",
    "requested_at",
    "holder_email",
    "status",
    "currency",
    "amount",
    "card",
    "bank",
    "fee",
    "debt_settled",
    "account_holder",
    "iban",
    "export_id",
)


def _decimal(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def payouts_csv(rows: Sequence[PayoutRow]) -> str:
    """The payouts as CSV, amounts as decimals (two places)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        payout = row.payout
        writer.writerow(
            [
                payout.id,
                payout.requested_at.isoformat(),
                row.holder_email or "",
                payout.status.value,
                payout.currency,
                _decimal(payout.amount_minor),
                _decimal(payout.card_minor),
                _decimal(payout.bank_minor),
                _decimal(payout.fee_minor),
                _decimal(payout.debt_settled_minor),
                payout.account_holder or "",
                payout.iban or "",
                payout.export_id or "",
            ]
        )
    return out.getvalue()


def export_sepa(
    session: Session,
    *,
    access: OrgAccess,
    event_id: uuid.UUID,
    debtor_name: str,
    debtor_iban: str,
    debtor_bic: str | None,
    execution_date: date,
    now: datetime,
) -> PayoutExport:
    """A SEPA credit transfer file (pain.001.001.03, ``sepaxml``, checked against its
    schema) of every bank payout not yet exported, from the organizer's account given.
    Each payout is exported once: they are claimed by one conditional update
    (``status = pending``), so two exports at once share none; the file is kept
    (``PayoutExport``) to be downloaded again. 409 ``NOTHING_TO_EXPORT`` if none waits,
    ``SEPA_EURO_ONLY`` for an event in another currency."""
    event = _organizer_event(session, access, event_id)
    if event.currency != "EUR":
        raise SepaEuroOnly(currency=event.currency)
    debtor = checked_bank_account(
        holder=debtor_name, iban=debtor_iban, bic=debtor_bic, prefix="debtor_"
    )
    assert debtor is not None  # an IBAN is required by the schema
    export = PayoutExport(
        id=uuid.uuid4(),
        event_id=event.id,
        created_by_id=access.user.id,
        payouts=0,
        total_minor=0,
        xml="",
        created_at=now,
    )
    session.add(export)
    session.flush()
    claimed = session.scalars(
        update(WalletPayout)
        .where(
            WalletPayout.event_id == event.id,
            WalletPayout.status == PayoutStatus.pending,
            WalletPayout.bank_minor > 0,
        )
        .values(status=PayoutStatus.exported, export_id=export.id, exported_at=now)
        .returning(WalletPayout.id)
        .execution_options(synchronize_session=False)
    ).all()
    if not claimed:
        raise NothingToExport()
    payouts = session.scalars(
        select(WalletPayout)
        .where(WalletPayout.id.in_(claimed))
        .order_by(WalletPayout.requested_at, WalletPayout.id)
        .execution_options(populate_existing=True)
    ).all()
    config: dict[str, Any] = {
        "name": debtor.holder,
        "IBAN": debtor.iban,
        "batch": True,
        "currency": "EUR",
    }
    if debtor.bic:
        config["BIC"] = debtor.bic
    transfer = SepaTransfer(config, clean=True)
    for payout in payouts:
        assert payout.iban is not None and payout.account_holder is not None
        payment: dict[str, Any] = {
            "name": payout.account_holder,
            "IBAN": payout.iban,
            "amount": payout.bank_minor,
            "execution_date": execution_date,
            "description": f"Refund of your cashless wallet: {event.title}",
            "endtoend_id": payout.id.hex,
        }
        if payout.bic:
            payment["BIC"] = payout.bic
        transfer.add_payment(payment)
    xml = transfer.export(validate=True).decode("utf-8")
    export.payouts = len(payouts)
    export.total_minor = sum(payout.bank_minor for payout in payouts)
    export.xml = xml
    session.flush()
    return export


def get_export(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, export_id: uuid.UUID
) -> PayoutExport:
    event = _organizer_event(session, access, event_id)
    export = session.scalar(
        select(PayoutExport).where(PayoutExport.id == export_id, PayoutExport.event_id == event.id)
    )
    if export is None:
        raise PayoutExportNotFound()
    return export


# --- the close ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClosedCashless:
    """What a close did (zeros for a second one) and the event's totals after it."""

    wallets_closed: int
    unclaimed_minor: int
    written_off_minor: int
    unclaimed_total_minor: int
    written_off_total_minor: int


def close_cashless(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, now: datetime
) -> ClosedCashless:
    """Close the event's cashless once its refund window has ended (409
    ``CASHLESS_CLOSE_TOO_EARLY`` before): every wallet's balance left goes to the event's
    ``unclaimed`` account (entry ``unclaimed``, flagged with the policy: kept or
    donated), every debt is written off (``offline_loss -> wallet_debt``, entry
    ``write_off``), every wallet is closed. Whatever balance or debt there is now is
    booked, read under the wallets' accounts' locks (all, by id), so a second close, or
    two at once, book nothing more; a sale uploaded later by an offline device is
    booked as debt and written off by closing again. Card refunds are made when the
    payout is asked (``request_refund``), so none is left pending here."""
    event = _organizer_event(session, access, event_id)
    cashless = session.get(CashlessSettings, event.id)
    if cashless is None:
        raise CashlessNotEnabled()
    window = refund_window(event, cashless)
    if now <= window.closes_at:
        raise CashlessCloseTooEarly(closes_at=window.closes_at.isoformat())
    rows = session.execute(
        select(
            LedgerAccount.id,
            LedgerAccount.kind,
            LedgerAccount.wallet_id,
            LedgerAccount.balance_minor,
        )
        .where(
            LedgerAccount.event_id == event.id,
            LedgerAccount.kind.in_([AccountKind.wallet, AccountKind.wallet_debt]),
        )
        .order_by(LedgerAccount.id)
        .with_for_update()
    ).all()
    unclaimed = ledger.account(session, event_id=event.id, kind=AccountKind.unclaimed)
    loss = ledger.account(session, event_id=event.id, kind=AccountKind.offline_loss)
    entries: list[tuple[uuid.UUID, Sequence[ledger.Move]]] = []
    unclaimed_minor = written_off_minor = 0
    for row in rows:
        kind = AccountKind(row.kind)
        ref = ledger.AccountRef(row.id, kind)
        amount = int(row.balance_minor) if kind == AccountKind.wallet else -int(row.balance_minor)
        if amount <= 0:
            continue
        entry_kind = EntryKind.unclaimed if kind == AccountKind.wallet else EntryKind.write_off
        started = ledger.begin_entry(
            session,
            event_id=event.id,
            idempotency_key=f"close:{entry_kind.value}:{row.wallet_id}:{uuid.uuid4().hex}",
            kind=entry_kind,
            origin=EntryOrigin.organizer,
            amount_minor=amount,
            wallet_id=row.wallet_id,
            operator_id=access.user.id,
            flag=cashless.unclaimed_policy.value if kind == AccountKind.wallet else None,
            occurred_at=now,
            recorded_at=now,
        )
        assert isinstance(started, uuid.UUID)  # a fresh key
        if kind == AccountKind.wallet:
            entries.append((started, [ledger.Move(ref, unclaimed, amount)]))
            unclaimed_minor += amount
        else:
            entries.append((started, [ledger.Move(loss, ref, amount)]))
            written_off_minor += amount
    if entries:
        ledger.post_entries(session, entries)
    closed = session.execute(
        update(Wallet)
        .where(Wallet.event_id == event.id, Wallet.status != WalletStatus.closed)
        .values(status=WalletStatus.closed, changed_at=now)
        .execution_options(synchronize_session=False)
    )
    totals = ledger.balances(session, [unclaimed, loss])
    return ClosedCashless(
        wallets_closed=int(getattr(closed, "rowcount", 0) or 0),
        unclaimed_minor=unclaimed_minor,
        written_off_minor=written_off_minor,
        unclaimed_total_minor=totals[unclaimed.id],
        written_off_total_minor=-totals[loss.id],
    )
