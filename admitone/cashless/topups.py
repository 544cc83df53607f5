"""Online top-ups: the attendee pays a payment provider, the wallet is credited.

``start_topup`` records a pending ``WalletTopup`` (channel online) and opens a payment of
purpose "wallet_topup" for it, through the same machinery as ticket orders
(``payments.checkout``: the test provider or Stripe Checkout, the same webhook inbox).
The purpose's handler, registered here (``TopupPayments``), is called by payments in its
unit of work:

* ``payment_succeeded``: the wallet is credited (``wallets.credit``: from the event's
  ``online_payments`` account, under the key ``topup:<top-up id>``, debt paid first)
  and the top-up marked credited. A wallet that can no longer take it (being paid back
  or closed, or past the event's maximum balance because two top-ups were paid at
  once) is not credited: the payment is refunded (``payments.refunds``), never kept,
  and the top-up marked failed.
* ``payment_failed``: the top-up is marked failed (a later success still credits it:
  payments may move a failed payment to succeeded).
* ``refunded_at_provider``: a refund made in the Stripe dashboard leaves the wallet as
  far as its balance allows (``wallet -> online_payments``); what the attendee already
  spent is booked to the event's ``provider_refunds`` account, the organizer's loss
  (``provider_refunds -> online_payments``), so the provider's side stays true; the
  entry is a ``payout`` flagged ``provider_refund``, its ``shortfall_minor`` the part
  the wallet could not cover (docs/cashless.md).
* ``sold_for_event``: the event's top-ups, for the payout summary.

Only the wallet's holder may press the test provider's buttons (PaymentNotFound for
anyone else, checked on the row each step reads anyway). Lock order: the payment row
(payments moved it), then the wallet's accounts (rank order, ``ledger``), then the
event's shared account.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from admitone.accounts.models import User
from admitone.authorization import BuyerProof
from admitone.cashless import ledger, wallets
from admitone.cashless.errors import (
    BalanceLimitReached,
    TopupAboveMaximum,
    TopupBelowMinimum,
    WalletBlocked,
    WalletClosed,
)
from admitone.cashless.models import (
    AccountKind,
    CashlessSettings,
    EntryKind,
    EntryOrigin,
    TopupChannel,
    TopupStatus,
    Wallet,
    WalletStatus,
    WalletTopup,
)
from admitone.config import Settings
from admitone.errors import IdempotencyKeyReused
from admitone.events.models import Event
from admitone.orders.idempotency import claim_idempotency_key
from admitone.organizations.models import Organization
from admitone.payments import checkout
from admitone.payments import refunds as payment_refunds
from admitone.payments.errors import PaymentNotFound
from admitone.payments.models import Payment, Refund
from admitone.payments.providers import CheckoutLine, CheckoutRequest
from admitone.payments.purposes import Fulfilment, PaidFor, register_purpose

# The purpose under which payments pay for top-ups (payments.purpose).
TOPUP_PURPOSE = "wallet_topup"
# How long the provider's checkout page stays open (Stripe clamps it to 30 min..24 h).
CHECKOUT_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class StartedTopup:
    """A top-up and the payment that pays it; ``replayed`` when an earlier request with
    the same idempotency key made them."""

    topup: WalletTopup
    payment: Payment
    replayed: bool


def _fingerprint(event_id: uuid.UUID, amount_minor: int) -> str:
    return hashlib.sha256(f"{event_id}:{amount_minor}".encode()).hexdigest()


def _replay(session: Session, topup_id: uuid.UUID) -> StartedTopup:
    row = session.execute(
        select(WalletTopup, Payment)
        .join(Payment, Payment.purpose_id == WalletTopup.id)
        .where(WalletTopup.id == topup_id, Payment.purpose == TOPUP_PURPOSE)
    ).first()
    assert row is not None  # top-ups and payments are never deleted
    topup, payment = row
    return StartedTopup(topup, payment, replayed=True)


def room_for(settings: CashlessSettings, *, balance_minor: int, debt_minor: int) -> int:
    """What a wallet may still take before the event's maximum balance: a top-up pays the
    debt first, so the debt is room too."""
    return max(settings.balance_maximum_minor - balance_minor + debt_minor, 0)


def check_amount(settings: CashlessSettings, amount_minor: int) -> None:
    """A top-up's amount within the event's minimum and maximum, online or at a desk."""
    if amount_minor < settings.topup_minimum_minor:
        raise TopupBelowMinimum(minimum_minor=settings.topup_minimum_minor)
    if amount_minor > settings.topup_maximum_minor:
        raise TopupAboveMaximum(maximum_minor=settings.topup_maximum_minor)


def start_topup(
    session: Session,
    *,
    event_id: uuid.UUID,
    user_id: uuid.UUID,
    amount_minor: int,
    idempotency_key: str | None,
    now: datetime,
    settings: Settings,
) -> StartedTopup:
    """Start an online top-up of the user's wallet for the event (opened here if it is
    their first act): a pending top-up and its payment with the configured provider,
    whose ``checkout_url`` the attendee goes to.

    Checked now: cashless on, the event's top-up minimum and maximum (422), the wallet
    active (409 ``WALLET_BLOCKED``, ``WALLET_CLOSED``) and its room under the maximum
    balance (409 ``BALANCE_LIMIT_REACHED``), which is checked again when the payment
    succeeds. With an idempotency key, a retry answers the same top-up and payment; the
    key with another amount is refused (422). No lock: the success decides.
    """
    topup_id = uuid.uuid4()
    if idempotency_key is not None:
        fingerprint = _fingerprint(event_id, amount_minor)
        record = claim_idempotency_key(
            session,
            scope=f"cashless.topup:{user_id}",
            key=idempotency_key,
            fingerprint=fingerprint,
            record_id=uuid.uuid4(),
            order_id=topup_id,
            now=now,
        )
        if record is not None:
            if record.request_hash != fingerprint:
                raise IdempotencyKeyReused()
            return _replay(session, record.resource_id)
    wallets.check_openable(session, event_id=event_id)
    cashless = wallets.cashless_of(session, event_id=event_id)
    check_amount(cashless, amount_minor)
    wallet = wallets.open_wallet(session, event_id=event_id, user_id=user_id)
    if wallet.status == WalletStatus.blocked:
        raise WalletBlocked()
    if wallet.status != WalletStatus.active:
        raise WalletClosed(status=str(wallet.status))
    account, debt = ledger.wallet_accounts(session, event_id=event_id, wallet_id=wallet.id)
    held = ledger.balances(session, [account, debt])
    room = room_for(cashless, balance_minor=held[account.id], debt_minor=-held[debt.id])
    if amount_minor > room:
        raise BalanceLimitReached(
            balance_maximum_minor=cashless.balance_maximum_minor, room_minor=room
        )
    row = session.execute(
        select(Event.title, Event.currency, Organization.stripe_account_id, User.email)
        .join(Organization, Organization.id == Event.organization_id)
        .join(User, User.id == user_id)
        .where(Event.id == event_id)
    ).one()
    topup = WalletTopup(
        id=topup_id,
        wallet_id=wallet.id,
        event_id=event_id,
        channel=TopupChannel.online,
        status=TopupStatus.pending,
        amount_minor=amount_minor,
        currency=row.currency,
        requested_by_id=user_id,
        created_at=now,
    )
    session.add(topup)
    session.flush()
    payment, _created = checkout.create_payment(
        session,
        purpose=TOPUP_PURPOSE,
        purpose_id=topup.id,
        amount_minor=amount_minor,
        currency=row.currency,
        request=CheckoutRequest(
            lines=[
                CheckoutLine(
                    name=f"Wallet top-up: {row.title}", quantity=1, unit_price_minor=amount_minor
                )
            ],
            customer_email=row.email,
            expires_at=now + CHECKOUT_LIFETIME,
            return_path=f"/wallets/{event_id}",
            metadata={
                "topup_id": str(topup.id),
                "wallet_id": str(wallet.id),
                "event_id": str(event_id),
            },
        ),
        transfer_destination=row.stripe_account_id,
        open_checkout_id=None,
        settings=settings,
    )
    return StartedTopup(topup, payment, replayed=False)


# --- the purpose's handler ----------------------------------------------------------------


def _topup_and_wallet(session: Session, topup_id: uuid.UUID) -> tuple[WalletTopup, Wallet]:
    row = session.execute(
        select(WalletTopup, Wallet)
        .join(Wallet, Wallet.id == WalletTopup.wallet_id)
        .where(WalletTopup.id == topup_id)
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise PaymentNotFound()  # a payment of this purpose always has its top-up
    topup, wallet = row
    return topup, wallet


def _require_holder(wallet: Wallet, payer: BuyerProof | None) -> None:
    """PaymentNotFound unless ``payer`` is the wallet's holder (no check when None: a
    provider's verified notification). The unit of work then rolls back."""
    if payer is not None and (payer.user_id is None or payer.user_id != wallet.user_id):
        raise PaymentNotFound()


def _paid_for(topup: WalletTopup) -> PaidFor:
    return PaidFor(title="Wallet top-up", status=str(topup.status))


def _move_topup(
    session: Session, topup: WalletTopup, target: TopupStatus, **values: object
) -> bool:
    """pending|failed -> ``target``, guarded; True if this call moved it."""
    moved = session.execute(
        update(WalletTopup)
        .where(
            WalletTopup.id == topup.id,
            WalletTopup.status.in_([TopupStatus.pending, TopupStatus.failed]),
        )
        .values(status=target, **values)
        .execution_options(synchronize_session=False)
    )
    if getattr(moved, "rowcount", 0) != 1:
        return False
    topup.status = target
    for name, value in values.items():
        setattr(topup, name, value)
    return True


@dataclass(frozen=True, slots=True)
class TopupCheckout:
    """A top-up as the test provider's page shows it to its payer."""

    topup: WalletTopup
    event_id: uuid.UUID
    event_title: str


def topup_checkout(session: Session, *, payment: Payment, payer: BuyerProof) -> TopupCheckout:
    """The top-up ``payment`` pays, for its payer only (PaymentNotFound otherwise)."""
    if payment.purpose != TOPUP_PURPOSE:
        raise PaymentNotFound()
    topup, wallet = _topup_and_wallet(session, payment.purpose_id)
    _require_holder(wallet, payer)
    title = session.scalar(select(Event.title).where(Event.id == topup.event_id))
    return TopupCheckout(topup, topup.event_id, title or "")


class TopupPayments:
    """The handler of the "wallet_topup" purpose (``payments.purposes.PaymentPurpose``)."""

    def paid_for(self, session: Session, *, payment: Payment, payer: BuyerProof | None) -> PaidFor:
        topup, wallet = _topup_and_wallet(session, payment.purpose_id)
        _require_holder(wallet, payer)
        return _paid_for(topup)

    def payment_succeeded(
        self,
        session: Session,
        *,
        payment: Payment,
        payer: BuyerProof | None,
        now: datetime,
        settings: Settings,
    ) -> Fulfilment:
        topup, wallet = _topup_and_wallet(session, payment.purpose_id)
        _require_holder(wallet, payer)
        account, debt = ledger.wallet_accounts(
            session, event_id=wallet.event_id, wallet_id=wallet.id
        )
        # Both of the wallet's rows, in the ledger's lock order: the room read here stays
        # true until the credit is posted.
        held = {
            ref.id: ledger.lock_balance(session, ref)
            for ref in sorted((account, debt), key=lambda ref: ref.rank)
        }
        cashless = session.get(CashlessSettings, wallet.event_id)
        # Read after the locks: a payout claims the wallet (payout_pending) under them, so
        # a top-up paid while it runs is refunded, not left in a wallet paid back.
        status = session.scalar(select(Wallet.status).where(Wallet.id == wallet.id))
        refusal = None
        if status not in (WalletStatus.active, WalletStatus.blocked):
            refusal = "wallet_closed"
        elif cashless is not None and topup.amount_minor > room_for(
            cashless, balance_minor=held[account.id], debt_minor=-held[debt.id]
        ):
            refusal = "balance_limit_reached"
        if refusal is not None:
            _move_topup(session, topup, TopupStatus.failed)
            payment_refunds.refund_payment(
                session,
                payment=payment,
                reason=f"wallet_topup_{refusal}",
                now=now,
                settings=settings,
            )
            return Fulfilment(kept=False, paid_for=_paid_for(topup))
        credited = wallets.credit(
            session,
            wallet=wallet,
            amount_minor=topup.amount_minor,
            source=ledger.account(
                session, event_id=wallet.event_id, kind=AccountKind.online_payments
            ),
            idempotency_key=f"topup:{topup.id}",
            origin=EntryOrigin.provider,
            request={"topup_id": str(topup.id), "amount_minor": topup.amount_minor},
            occurred_at=now,
            recorded_at=now,
        )
        _move_topup(
            session, topup, TopupStatus.credited, entry_id=credited.entry_id, credited_at=now
        )
        return Fulfilment(kept=True, paid_for=_paid_for(topup))

    def payment_failed(
        self, session: Session, *, payment: Payment, payer: BuyerProof | None, now: datetime
    ) -> PaidFor:
        topup, wallet = _topup_and_wallet(session, payment.purpose_id)
        _require_holder(wallet, payer)
        session.execute(
            update(WalletTopup)
            .where(WalletTopup.id == topup.id, WalletTopup.status == TopupStatus.pending)
            .values(status=TopupStatus.failed)
            .execution_options(synchronize_session=False)
        )
        session.refresh(topup)
        return _paid_for(topup)

    def lock(self, session: Session, purpose_id: uuid.UUID) -> None:
        session.execute(
            select(WalletTopup.id).where(WalletTopup.id == purpose_id).with_for_update()
        ).first()

    def refunded_at_provider(
        self, session: Session, *, payment: Payment, refund: Refund, full: bool, now: datetime
    ) -> None:
        topup, wallet = _topup_and_wallet(session, payment.purpose_id)
        if topup.entry_id is None:
            return  # never credited (refused and refunded by us): the ledger never held it
        book_provider_refund(session, wallet=wallet, refund=refund, now=now)

    def sold_for_event(
        self, *, event_id: uuid.UUID, organization_id: uuid.UUID
    ) -> Select[uuid.UUID]:
        return (
            select(WalletTopup.id)
            .join(Event, Event.id == WalletTopup.event_id)
            .where(WalletTopup.event_id == event_id, Event.organization_id == organization_id)
        )


def book_provider_refund(
    session: Session, *, wallet: Wallet, refund: Refund, now: datetime
) -> None:
    """Book a refund made at the provider (``refund``, already recorded on its payment)
    out of the wallet: as much as its balance holds goes back to the online payments
    (``wallet -> online_payments``); the rest, money the attendee already spent, is the
    organizer's loss (``provider_refunds -> online_payments``). One entry under the key
    ``provider_refund:<refund id>`` (a redelivered event books nothing more), a
    ``payout`` flagged ``provider_refund`` whose ``shortfall_minor`` is that rest.
    Lock: the wallet's account, then the event's shared accounts."""
    account, _debt = ledger.wallet_accounts(session, event_id=wallet.event_id, wallet_id=wallet.id)
    held = ledger.lock_balance(session, account)
    taken = min(refund.amount_minor, max(held, 0))
    rest = refund.amount_minor - taken
    started = ledger.begin_entry(
        session,
        event_id=wallet.event_id,
        idempotency_key=f"provider_refund:{refund.id}",
        kind=EntryKind.payout,
        origin=EntryOrigin.provider,
        amount_minor=refund.amount_minor,
        wallet_id=wallet.id,
        flag="provider_refund",
        shortfall_minor=rest,
        occurred_at=now,
        recorded_at=now,
    )
    if isinstance(started, ledger.Replay):
        return
    online = ledger.account(session, event_id=wallet.event_id, kind=AccountKind.online_payments)
    moves = []
    if taken:
        moves.append(ledger.Move(account, online, taken))
    if rest:
        loss = ledger.account(session, event_id=wallet.event_id, kind=AccountKind.provider_refunds)
        moves.append(ledger.Move(loss, online, rest))
    ledger.post(session, entry_id=started, moves=moves)
    ledger.set_entry(session, started, answer={"from_wallet_minor": taken, "loss_minor": rest})


register_purpose(TOPUP_PURPOSE, TopupPayments())
