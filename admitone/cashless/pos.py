"""The point of sale, online: charges at stands, their reversal, cash registers and
top-ups at a desk (docs/cashless.md, "The point of sale").

Each write runs under the caller's ``Idempotency-Key``: a journal entry made once per
key (``ledger.begin_entry``), whose stored ``answer`` a retry gets back, whatever has
changed since (a stock sold out, a wallet spent). A refusal stores nothing: the unit of
work rolls the entry back, and a retry is decided again.

Who may act: a member who may sell (``sell_at_stand``) and is assigned to the stand, or
an admin or owner (``authorization.checked_stand_access``); not a member of the stand's
organization is the caller's 404.

Lock order of a charge (docs/cashless.md): the entry's key, then the wallet's balance,
then the products' stock in id order, then the stand's sales shard. A reversal takes the
sale's entry first (one reversal at a time), then the same order. No two charges or
reversals wait on each other in a cycle: each holds at most one wallet, takes products
in one order and a shard last.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision
from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from admitone.accounts.models import User
from admitone.authorization import OrgAccess, Permission, checked_stand_access
from admitone.cashless import ledger, passes, topups, wallets
from admitone.cashless.errors import (
    BalanceLimitReached,
    EntryAlreadyReversed,
    IdempotencyKeyReused,
    InsufficientFunds,
    OutOfStock,
    ProductInactive,
    ProductNotFound,
    RegisterAlreadyOpen,
    RegisterClosed,
    RegisterNotFound,
    ReturnNotDeposit,
    ReversalWindowClosed,
    SaleNotFound,
    SaleTotalNotPositive,
    StandInactive,
    StandNotFound,
    StandNotTopupDesk,
    WalletBlocked,
)
from admitone.cashless.models import (
    AccountKind,
    CashlessSettings,
    CashRegister,
    EntryKind,
    EntryOrigin,
    JournalEntry,
    LedgerAccount,
    LedgerTransfer,
    Product,
    SaleLine,
    Stand,
    StandCashier,
    StandKind,
    TopupChannel,
    TopupStatus,
    Wallet,
    WalletStatus,
    WalletTopup,
)
from admitone.db import insert_once
from admitone.errors import DomainError, InvalidInput
from admitone.events.errors import EventCancelled
from admitone.events.models import Event, EventStatus
from admitone.organizations.models import Membership, Organization
from admitone.tickets.signing import KeyRing


@dataclass(frozen=True, slots=True)
class Answer:
    """What a point-of-sale write answers (JSON, as stored on its entry), and whether it
    is a retry's: the first call's answer given again."""

    data: dict[str, Any]
    replayed: bool


@dataclass(frozen=True, slots=True)
class LineRequest:
    product_id: uuid.UUID
    quantity: int  # negative: a deposit item given back


@dataclass(frozen=True, slots=True)
class Seller:
    """The caller selling at a stand of an event, for its organization."""

    stand: Stand
    event: Event
    access: OrgAccess
    cashless: CashlessSettings | None  # the event's settings, if it has any


def seller_at(
    session: Session,
    *,
    stand_id: uuid.UUID,
    user: User,
    not_found: type[DomainError] = StandNotFound,
) -> Seller:
    """The caller's right to sell at ``stand_id``, in one query (the stand, its event
    and organization, the caller's role there and assignment to the stand), checked by
    ``authorization.checked_stand_access``. The event's cashless settings come in the
    same query."""
    row = session.execute(
        select(Stand, Event, Organization, Membership.role, StandCashier.user_id, CashlessSettings)
        .join(Event, Event.id == Stand.event_id)
        .join(Organization, Organization.id == Event.organization_id)
        .outerjoin(CashlessSettings, CashlessSettings.event_id == Event.id)
        .outerjoin(
            Membership,
            (Membership.organization_id == Organization.id) & (Membership.user_id == user.id),
        )
        .outerjoin(
            StandCashier, (StandCashier.stand_id == Stand.id) & (StandCashier.user_id == user.id)
        )
        .where(Stand.id == stand_id)
    ).first()
    if row is None:
        raise not_found()
    stand, event, organization, member_role, assigned, cashless = row
    access = checked_stand_access(
        organization, member_role, user=user, assigned=assigned is not None, not_found=not_found
    )
    return Seller(stand=stand, event=event, access=access, cashless=cashless)


# --- money and VAT -----------------------------------------------------------------------


def vat_included(total_minor: int, rate_bp: int) -> int:
    """The VAT inside an amount that includes it: ``total x rate / (10000 + rate)``,
    rounded half up (away from zero for a returned deposit, so that a cup sold and
    given back nets to zero VAT). Integers only."""
    if total_minor < 0:
        return -vat_included(-total_minor, rate_bp)
    divisor = 10_000 + rate_bp
    return (2 * total_minor * rate_bp + divisor) // (2 * divisor)


def _money(amount_minor: int, currency: str) -> str:
    """``750, "EUR"`` -> ``7.50 EUR``: for messages (pages translate by the code)."""
    return f"{Decimal(amount_minor).scaleb(-get_currency_precision(currency))} {currency}"


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


# --- idempotency ---------------------------------------------------------------------------


def _begin(
    session: Session,
    *,
    event_id: uuid.UUID,
    idempotency_key: str,
    kind: EntryKind,
    request: Any,
    user: User,
    now: datetime,
    amount_minor: int = 0,
    **fields: Any,
) -> uuid.UUID | Answer:
    """The write's entry under the caller's key (``ledger.begin_entry``), or the answer
    the key's first call gave."""
    started = ledger.begin_entry(
        session,
        event_id=event_id,
        idempotency_key=idempotency_key,
        kind=kind,
        origin=EntryOrigin.online,
        amount_minor=amount_minor,
        request=request,
        operator_id=user.id,
        occurred_at=now,
        recorded_at=now,
        **fields,
    )
    if not isinstance(started, ledger.Replay):
        return started
    if started.answer is None:  # an entry made by another use case under this key
        raise IdempotencyKeyReused(idempotency_key=idempotency_key)
    return Answer(started.answer, replayed=True)


def _stored_answer(
    session: Session, *, event_id: uuid.UUID, idempotency_key: str, request: Any
) -> Answer | None:
    """The answer an earlier call with this key gave, for a use case that must find it
    before ``begin_entry`` (a top-up: ``wallets.credit`` begins its own entry)."""
    row = session.execute(
        select(JournalEntry.request_hash, JournalEntry.answer).where(
            JournalEntry.event_id == event_id, JournalEntry.idempotency_key == idempotency_key
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != ledger.request_hash(request) or row.answer is None:
        raise IdempotencyKeyReused(idempotency_key=idempotency_key)
    return Answer(row.answer, replayed=True)


def _open_stand(seller: Seller) -> None:
    """The stand sells now: it is open, and its event was not cancelled (a draft event
    may sell: an organizer tries the tills before the gates open)."""
    if seller.event.status == EventStatus.cancelled:
        raise EventCancelled()
    if not seller.stand.active:
        raise StandInactive(stand_id=str(seller.stand.id))


# --- stock ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StockMove:
    """``quantity`` of a product leaving its stock (negative: coming back)."""

    product_id: uuid.UUID
    name: str
    quantity: int


def move_stock(session: Session, moves: Iterable[StockMove]) -> None:
    """Take (or give back) stock, product by product in id order (one lock order for
    every sale). A take is the conditional ``stock = stock - q WHERE stock IS NULL OR
    stock >= q``: stock never goes below zero, and two sales racing for the last one
    sell it once (``OutOfStock``, naming the product)."""
    for move in sorted(moves, key=lambda move: move.product_id):
        statement = update(Product).where(Product.id == move.product_id)
        if move.quantity > 0:
            statement = statement.where(
                or_(Product.stock.is_(None), Product.stock >= move.quantity)
            )
        moved = session.execute(
            statement.values(stock=Product.stock - move.quantity)
            .returning(Product.id)
            .execution_options(synchronize_session=False)
        ).first()
        if moved is None:
            left = session.scalar(select(Product.stock).where(Product.id == move.product_id))
            raise OutOfStock(
                f"Not enough {move.name} left: {left} for {move.quantity} asked.",
                product_id=str(move.product_id),
                name=move.name,
                available=left,
                requested=move.quantity,
            )


# --- charges -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PricedLine:
    product: Product
    quantity: int
    total_minor: int
    vat_minor: int

    def answer(self) -> dict[str, Any]:
        return {
            "product_id": str(self.product.id),
            "name": self.product.name,
            "quantity": self.quantity,
            "unit_price_minor": self.product.price_minor,
            "vat_rate_bp": self.product.vat_rate_bp,
            "total_minor": self.total_minor,
            "vat_minor": self.vat_minor,
        }


def _priced_lines(
    session: Session, *, stand: Stand, lines: Sequence[LineRequest]
) -> list[PricedLine]:
    """The lines at today's prices: products of this stand, on sale; a negative quantity
    only for a deposit item. No lock: a price changed meanwhile is the price read."""
    ids = [line.product_id for line in lines]
    products = {
        product.id: product
        for product in session.scalars(
            select(Product).where(Product.id.in_(ids), Product.stand_id == stand.id)
        )
    }
    priced = []
    for line in lines:
        product = products.get(line.product_id)
        if product is None:
            raise ProductNotFound(product_id=str(line.product_id))
        named = {"product_id": str(product.id), "name": product.name}
        if not product.active:
            raise ProductInactive(f"{product.name} is not on sale now.", **named)
        if line.quantity < 0 and not product.deposit:
            raise ReturnNotDeposit(**named)
        total = line.quantity * product.price_minor
        priced.append(
            PricedLine(product, line.quantity, total, vat_included(total, product.vat_rate_bp))
        )
    return priced


def _check_funds(
    session: Session,
    *,
    wallet_id: uuid.UUID,
    wallet_account: ledger.AccountRef,
    amount_minor: int,
    currency: str,
) -> int:
    """Lock the wallet's balance and check it may pay ``amount_minor``; the balance
    after the sale. Its status is read after the lock, so a payout that blocks the
    wallet waits for this sale or stops it. The one step a negative control replaces
    (tests/cashless/test_pos_races.py)."""
    available = ledger.lock_balance(session, wallet_account)
    status = session.scalar(select(Wallet.status).where(Wallet.id == wallet_id))
    if status != WalletStatus.active:
        raise WalletBlocked(status=str(status))
    if available < amount_minor:
        missing = amount_minor - available
        raise InsufficientFunds(
            f"Not enough money in the wallet: {_money(missing, currency)} missing (the sale "
            f"is {_money(amount_minor, currency)}, the wallet holds "
            f"{_money(available, currency)}).",
            required_minor=amount_minor,
            available_minor=available,
            missing_minor=missing,
            currency=currency,
        )
    return available - amount_minor


def charge_request(
    *, stand_id: uuid.UUID, shown_pass: str, lines: Sequence[LineRequest]
) -> dict[str, Any]:
    """What a charge's idempotency key stands for (its entry keeps its digest): a sale
    queued offline after its online call timed out must describe itself the same way,
    so that its key finds the online sale instead of ``IDEMPOTENCY_KEY_REUSED``."""
    return {
        "op": "charge",
        "stand_id": str(stand_id),
        "pass": shown_pass,
        "lines": [[str(line.product_id), line.quantity] for line in lines],
    }


def charge(
    session: Session,
    *,
    user: User,
    keys: KeyRing,
    stand_id: uuid.UUID,
    shown_pass: str,
    lines: Sequence[LineRequest],
    idempotency_key: str,
    now: datetime,
) -> Answer:
    """Charge the wallet behind ``shown_pass`` for ``lines`` at a stand: one entry
    under ``idempotency_key`` moving the total from the wallet to the stand's sales
    shard, its lines (price and VAT as sold) and the stock. Refusals: the stand closed,
    a product not on sale or sold out, a blocked wallet, ``InsufficientFunds`` (what is
    missing). Locks: the wallet, the products in id order, the shard (module docstring).
    A QR pass is checked against the event's key (``keys``)."""
    seller = seller_at(session, stand_id=stand_id, user=user)
    event = seller.event
    request = charge_request(stand_id=stand_id, shown_pass=shown_pass, lines=lines)
    started = _begin(
        session,
        event_id=event.id,
        idempotency_key=idempotency_key,
        kind=EntryKind.sale,
        request=request,
        user=user,
        now=now,
        stand_id=stand_id,
    )
    if isinstance(started, Answer):
        return started
    cashless = wallets.enabled_cashless(seller.cashless)
    _open_stand(seller)
    wallet_pass, wallet = passes.find_pass(session, keys, event_id=event.id, shown=shown_pass)
    priced = _priced_lines(session, stand=seller.stand, lines=lines)
    amount = sum(line.total_minor for line in priced)
    if amount <= 0:
        raise SaleTotalNotPositive(total_minor=amount)
    # Only products counted in stock are touched: an unlimited one (the beer) is not a
    # row every sale would queue on. One whose stock is set meanwhile misses this sale.
    stock = [
        StockMove(line.product.id, line.product.name, line.quantity)
        for line in priced
        if line.product.stock is not None
    ]
    wallet_account, _debt = ledger.known_wallet_accounts(event_id=event.id, wallet_id=wallet.id)
    balance = _check_funds(
        session,
        wallet_id=wallet.id,
        wallet_account=wallet_account,
        amount_minor=amount,
        currency=event.currency,
    )
    move_stock(session, stock)
    session.execute(
        insert(SaleLine),
        [
            {
                "entry_id": started,
                "line_no": number,
                "product_id": line.product.id,
                "name": line.product.name,
                "quantity": line.quantity,
                "unit_price_minor": line.product.price_minor,
                "vat_rate_bp": line.product.vat_rate_bp,
                "total_minor": line.total_minor,
                "vat_minor": line.vat_minor,
            }
            for number, line in enumerate(priced, start=1)
        ],
    )
    answer = {
        "entry_id": str(started),
        "stand_id": str(stand_id),
        "amount_minor": amount,
        "balance_minor": balance,
        "currency": event.currency,
        "lines": [line.answer() for line in priced],
        "receipt": _receipt(
            seller, priced, amount=amount, balance=balance, unit_name=cashless.unit_name, now=now
        ),
    }
    ledger.set_entry(
        session,
        started,
        amount_minor=amount,
        wallet_id=wallet.id,
        pass_id=wallet_pass.id,
        answer=answer,
    )
    # The stand's shard last: its lock (the one other sales at the stand may wait on) is
    # held only for the transfer's insert and the commit.
    shard = ledger.sales_account(event_id=event.id, stand_id=stand_id, spread=started)
    ledger.post(session, entry_id=started, moves=[ledger.Move(wallet_account, shard, amount)])
    return Answer(answer, replayed=False)


def _receipt(
    seller: Seller,
    priced: Sequence[PricedLine],
    *,
    amount: int,
    balance: int,
    unit_name: str | None,
    now: datetime,
) -> dict[str, Any]:
    """What the attendee is shown (or handed): where and when, the total, the VAT it
    includes by rate, and what is left in the wallet. Never the pass's code."""
    rates: dict[int, list[int]] = {}
    for line in priced:
        total, vat = rates.setdefault(line.product.vat_rate_bp, [0, 0])
        rates[line.product.vat_rate_bp] = [total + line.total_minor, vat + line.vat_minor]
    return {
        "stand_name": seller.stand.name,
        "event_title": seller.event.title,
        "issued_at": now.isoformat(),
        "total_minor": amount,
        "vat_minor": sum(line.vat_minor for line in priced),
        "vat_by_rate": [
            {"vat_rate_bp": rate, "total_minor": total, "vat_minor": vat}
            for rate, (total, vat) in sorted(rates.items())
        ],
        "balance_minor": balance,
        "currency": seller.event.currency,
        "unit_name": unit_name,
    }


# --- reversal ------------------------------------------------------------------------------


def reverse_sale(
    session: Session,
    *,
    user: User,
    entry_id: uuid.UUID,
    idempotency_key: str,
    now: datetime,
    window: timedelta,
) -> Answer:
    """Undo a sale made less than ``window`` ago, by its stand's cashier (or an admin):
    a new entry (``reversal``) with the sale's transfers backwards, and its stock given
    back. At most one per sale: the sale's entry is locked while its reversal is looked
    for, so a second (with another key) gets ``EntryAlreadyReversed``; the unique
    ``reverses_entry_id`` is the net under it."""
    sale = session.scalar(
        select(JournalEntry).where(JournalEntry.id == entry_id, JournalEntry.kind == EntryKind.sale)
    )
    if sale is None or sale.stand_id is None:
        raise SaleNotFound()
    seller = seller_at(session, stand_id=sale.stand_id, user=user, not_found=SaleNotFound)
    # FOR NO KEY UPDATE: two reversals of one sale take turns (docs/locking.md on why not
    # FOR UPDATE); the second then finds the first's.
    session.execute(
        select(JournalEntry.id).where(JournalEntry.id == sale.id).with_for_update(key_share=True)
    )
    reversal = session.execute(
        select(JournalEntry.id, JournalEntry.idempotency_key).where(
            JournalEntry.reverses_entry_id == sale.id
        )
    ).first()
    if reversal is not None and reversal.idempotency_key != idempotency_key:
        raise EntryAlreadyReversed(reversal_entry_id=str(reversal.id))
    started = _begin(
        session,
        event_id=sale.event_id,
        idempotency_key=idempotency_key,
        kind=EntryKind.reversal,
        request={"op": "reverse", "entry_id": str(sale.id)},
        user=user,
        now=now,
        amount_minor=sale.amount_minor,
        reverses_entry_id=sale.id,
        stand_id=sale.stand_id,
        wallet_id=sale.wallet_id,
        pass_id=sale.pass_id,
    )
    if isinstance(started, Answer):
        return started
    if now - sale.recorded_at > window:
        minutes = int(window.total_seconds() // 60)
        raise ReversalWindowClosed(
            f"This sale is more than {minutes} minutes old: it cannot be reversed at the "
            "stand; ask the organizer.",
            minutes=minutes,
        )
    moves = _backwards(session, sale.id)
    # The attendee's accounts first (as post orders them), then the stock, then the rest.
    attendee = {AccountKind.wallet, AccountKind.wallet_debt}
    for ref in sorted(
        {ref for move in moves for ref in (move.source, move.target) if ref.kind in attendee},
        key=lambda ref: ref.rank,
    ):
        ledger.lock_balance(session, ref)
    move_stock(
        session,
        [
            StockMove(line.product_id, line.name, -line.quantity)
            for line in session.execute(
                select(SaleLine.product_id, SaleLine.name, SaleLine.quantity)
                .join(Product, Product.id == SaleLine.product_id)
                .where(SaleLine.entry_id == sale.id, Product.stock.is_not(None))
            )
        ],
    )
    after = ledger.post(session, entry_id=started, moves=moves)
    wallets_credited = [move.target.id for move in moves if move.target.kind == AccountKind.wallet]
    answer = {
        "entry_id": str(started),
        "reverses_entry_id": str(sale.id),
        "stand_id": str(sale.stand_id),
        "amount_minor": sale.amount_minor,
        "balance_minor": after[wallets_credited[0]] if wallets_credited else None,
        "currency": seller.event.currency,
    }
    ledger.set_entry(session, started, answer=answer)
    return Answer(answer, replayed=False)


def _backwards(session: Session, entry_id: uuid.UUID) -> list[ledger.Move]:
    """An entry's transfers, each the other way round."""
    transfers = session.execute(
        select(
            LedgerTransfer.source_account_id,
            LedgerTransfer.target_account_id,
            LedgerTransfer.amount_minor,
        ).where(LedgerTransfer.entry_id == entry_id)
    ).all()
    ids = {row.source_account_id for row in transfers} | {
        row.target_account_id for row in transfers
    }
    kinds = {
        row.id: row.kind
        for row in session.execute(
            select(LedgerAccount.id, LedgerAccount.kind).where(LedgerAccount.id.in_(ids))
        )
    }
    return [
        ledger.Move(
            ledger.AccountRef(row.target_account_id, kinds[row.target_account_id]),
            ledger.AccountRef(row.source_account_id, kinds[row.source_account_id]),
            row.amount_minor,
        )
        for row in transfers
    ]


# --- cash registers ------------------------------------------------------------------------


def _register_answer(register: CashRegister, currency: str, **closing: Any) -> dict[str, Any]:
    return {
        "id": str(register.id),
        "stand_id": str(register.stand_id),
        "cashier_id": str(register.cashier_id) if register.cashier_id else None,
        "opening_float_minor": register.opening_float_minor,
        "opened_at": _stamp(register.opened_at),
        "currency": currency,
        "closed_at": None,
        "expected_minor": None,
        "counted_minor": None,
        "difference_minor": None,
        "cash_taken_minor": None,
        "entry_id": None,
        **closing,
    }


def open_register(
    session: Session,
    *,
    user: User,
    stand_id: uuid.UUID,
    opening_float_minor: int,
    now: datetime,
) -> Answer:
    """Open the caller's cash register at a stand, with the cash put in the drawer to
    give change (the float: the organizer's cash, not booked). One open register per
    cashier and stand (the unique ``open_key``): opening it again with the same float
    answers it again (a retry), with another float is ``RegisterAlreadyOpen``."""
    seller = seller_at(session, stand_id=stand_id, user=user)
    wallets.enabled_cashless(seller.cashless)
    _open_stand(seller)
    open_key = f"{stand_id}:{user.id}"
    inserted = insert_once(
        session,
        CashRegister,
        {
            "id": uuid.uuid4(),
            "event_id": seller.event.id,
            "stand_id": stand_id,
            "cashier_id": user.id,
            "open_key": open_key,
            "opening_float_minor": opening_float_minor,
            "opened_at": now,
        },
    )
    register = session.scalar(select(CashRegister).where(CashRegister.open_key == open_key))
    assert register is not None
    if not inserted and register.opening_float_minor != opening_float_minor:
        raise RegisterAlreadyOpen(
            register_id=str(register.id), opening_float_minor=register.opening_float_minor
        )
    ledger.register_account(session, event_id=seller.event.id, cash_register_id=register.id)
    return Answer(_register_answer(register, seller.event.currency), replayed=not inserted)


def _register_to_close(
    session: Session, *, user: User, register_id: uuid.UUID
) -> tuple[CashRegister, Seller]:
    """A register the caller may close: their own at a stand they sell at, or anyone's
    for an admin or owner. ``RegisterNotFound`` otherwise (ids do not leak)."""
    register = session.scalar(select(CashRegister).where(CashRegister.id == register_id))
    if register is None:
        raise RegisterNotFound()
    seller = seller_at(session, stand_id=register.stand_id, user=user, not_found=RegisterNotFound)
    if register.cashier_id != user.id and not seller.access.allows(Permission.manage_events):
        raise RegisterNotFound()
    return register, seller


def close_register(
    session: Session,
    *,
    user: User,
    register_id: uuid.UUID,
    counted_minor: int,
    idempotency_key: str,
    now: datetime,
) -> Answer:
    """Close a register with the cash counted in its drawer (float included).

    Expected: the float plus the cash taken (minus the register account's balance).
    Booked in one entry (``register_close``): ``cash_vault -> cash_register`` the cash
    taken (the register ends at zero), and the difference counted - expected between
    ``cash_vault`` and ``cash_imbalance`` (more cash: ``cash_vault -> cash_imbalance``;
    less: the other way). Locks: the register's balance (a top-up into it waits, then
    finds it closed), then the conditional close (``open_key`` still set)."""
    register, seller = _register_to_close(session, user=user, register_id=register_id)
    event_id = seller.event.id
    started = _begin(
        session,
        event_id=event_id,
        idempotency_key=idempotency_key,
        kind=EntryKind.register_close,
        request={"op": "close_register", "register_id": str(register_id), "counted": counted_minor},
        user=user,
        now=now,
        stand_id=register.stand_id,
        cash_register_id=register.id,
    )
    if isinstance(started, Answer):
        return started
    drawer = ledger.register_account(session, event_id=event_id, cash_register_id=register.id)
    taken = -ledger.lock_balance(session, drawer)
    expected = register.opening_float_minor + taken
    difference = counted_minor - expected
    closed = session.execute(
        update(CashRegister)
        .where(CashRegister.id == register.id, CashRegister.open_key.is_not(None))
        .values(open_key=None, closed_at=now, expected_minor=expected, counted_minor=counted_minor)
        .returning(CashRegister.id)
        .execution_options(synchronize_session=False)
    ).first()
    if closed is None:
        raise RegisterClosed(register_id=str(register.id))
    vault = ledger.account(session, event_id=event_id, kind=AccountKind.cash_vault)
    imbalance = ledger.account(session, event_id=event_id, kind=AccountKind.cash_imbalance)
    moves = []
    if taken:
        moves.append(_between(vault, drawer, taken))
    if difference:
        moves.append(_between(imbalance, vault, -difference))
    if moves:
        ledger.post(session, entry_id=started, moves=moves)
    answer = _register_answer(
        register,
        seller.event.currency,
        closed_at=now.isoformat(),
        expected_minor=expected,
        counted_minor=counted_minor,
        difference_minor=difference,
        cash_taken_minor=taken,
        entry_id=str(started),
    )
    ledger.set_entry(session, started, amount_minor=abs(taken), answer=answer)
    return Answer(answer, replayed=False)


def _between(
    source: ledger.AccountRef, target: ledger.AccountRef, amount_minor: int
) -> ledger.Move:
    """``amount_minor`` from ``source`` to ``target``; a negative amount the other way."""
    if amount_minor < 0:
        return ledger.Move(target, source, -amount_minor)
    return ledger.Move(source, target, amount_minor)


# --- top-ups at a desk ---------------------------------------------------------------------


def desk_topup(
    session: Session,
    *,
    user: User,
    keys: KeyRing,
    stand_id: uuid.UUID,
    shown_pass: str,
    amount_minor: int,
    method: TopupChannel,
    register_id: uuid.UUID | None,
    idempotency_key: str,
    now: datetime,
) -> Answer:
    """Put cash or a card payment taken at a top-up desk into the wallet behind
    ``shown_pass``: a ``WalletTopup`` (credited) and ``wallets.credit`` from the
    cashier's open register (cash) or the event's card terminal account (card), which
    pays the wallet's debt first. Within the event's top-up minimum and maximum, and the
    wallet's balance after it within the maximum balance (checked on the balance the
    credit moved, under its lock). Locks: those of ``wallets.credit``; a cash top-up
    then checks its register is still open (a close waits for it, or it for the close), and
    the wallet's status again (a payout waits for it, or it for the payout)."""
    seller = seller_at(session, stand_id=stand_id, user=user)
    event = seller.event
    request = {
        "op": "topup",
        "stand_id": str(stand_id),
        "pass": shown_pass,
        "amount_minor": amount_minor,
        "method": str(method),
        "register_id": str(register_id) if register_id else None,
    }
    replay = _stored_answer(
        session, event_id=event.id, idempotency_key=idempotency_key, request=request
    )
    if replay is not None:
        return replay
    cashless = wallets.enabled_cashless(seller.cashless)
    _open_stand(seller)
    if seller.stand.kind != StandKind.topup_desk:
        raise StandNotTopupDesk(stand_id=str(stand_id))
    topups.check_amount(cashless, amount_minor)
    wallet_pass, wallet = passes.find_pass(session, keys, event_id=event.id, shown=shown_pass)
    _check_may_take_topups(wallet.status)
    source = _topup_source(
        session, user=user, seller=seller, method=method, register_id=register_id
    )
    credited = wallets.credit(
        session,
        wallet=wallet,
        amount_minor=amount_minor,
        source=source,
        idempotency_key=idempotency_key,
        origin=EntryOrigin.online,
        request=request,
        stand_id=stand_id,
        pass_id=wallet_pass.id,
        operator_id=user.id,
        cash_register_id=register_id if method == TopupChannel.cash else None,
        occurred_at=now,
        recorded_at=now,
    )
    if credited.replayed:  # the same key, racing: its first call has just committed
        found = _stored_answer(
            session, event_id=event.id, idempotency_key=idempotency_key, request=request
        )
        assert found is not None
        return found
    # Read again under the wallet's locks (the credit's): a payout that marked the wallet
    # since the read above has committed, and this top-up must not land in it.
    _check_may_take_topups(session.scalar(select(Wallet.status).where(Wallet.id == wallet.id)))
    if credited.balance_minor > cashless.balance_maximum_minor:
        excess = credited.balance_minor - cashless.balance_maximum_minor
        maximum = _money(cashless.balance_maximum_minor, event.currency)
        raise BalanceLimitReached(
            f"This top-up would take the wallet above its maximum of {maximum}: at most "
            f"{_money(max(amount_minor - excess, 0), event.currency)} can be added now.",
            balance_maximum_minor=cashless.balance_maximum_minor,
            room_minor=max(amount_minor - excess, 0),
        )
    if method == TopupChannel.cash:
        _check_still_open(session, register_id)
    topup = WalletTopup(
        wallet_id=wallet.id,
        event_id=event.id,
        channel=method,
        status=TopupStatus.credited,
        amount_minor=amount_minor,
        currency=event.currency,
        requested_by_id=user.id,
        entry_id=credited.entry_id,
        created_at=now,
        credited_at=now,
    )
    session.add(topup)
    session.flush()
    answer = {
        "entry_id": str(credited.entry_id),
        "topup_id": str(topup.id),
        "stand_id": str(stand_id),
        "method": str(method),
        "register_id": str(register_id) if method == TopupChannel.cash else None,
        "amount_minor": amount_minor,
        "debt_paid_minor": credited.debt_paid_minor,
        "balance_minor": credited.balance_minor,
        "debt_minor": credited.debt_minor,
        "currency": event.currency,
    }
    ledger.set_entry(session, credited.entry_id, answer=answer)
    return Answer(answer, replayed=False)


def _check_may_take_topups(status: WalletStatus | None) -> None:
    if status != WalletStatus.active:
        raise WalletBlocked(
            "This wallet is blocked or being paid back: it cannot be topped up.",
            status=str(status),
        )


def _topup_source(
    session: Session,
    *,
    user: User,
    seller: Seller,
    method: TopupChannel,
    register_id: uuid.UUID | None,
) -> ledger.AccountRef:
    event_id = seller.event.id
    if method == TopupChannel.card:
        return ledger.account(session, event_id=event_id, kind=AccountKind.card_terminal)
    if method != TopupChannel.cash:
        raise InvalidInput("A desk top-up is paid in cash or by card.", method=str(method))
    if register_id is None:
        raise InvalidInput(
            "A cash top-up names the register the cash goes into (register_id).",
            field="register_id",
        )
    # The cashier's own register at this desk: the cash goes into their drawer.
    register = session.scalar(
        select(CashRegister).where(
            CashRegister.id == register_id,
            CashRegister.stand_id == seller.stand.id,
            CashRegister.cashier_id == user.id,
        )
    )
    if register is None:
        raise RegisterNotFound()
    if register.open_key is None:
        raise RegisterClosed(register_id=str(register.id))
    return ledger.register_account(session, event_id=event_id, cash_register_id=register.id)


def _check_still_open(session: Session, register_id: uuid.UUID | None) -> None:
    still_open = session.scalar(select(CashRegister.open_key).where(CashRegister.id == register_id))
    if still_open is None:
        raise RegisterClosed(register_id=str(register_id))
