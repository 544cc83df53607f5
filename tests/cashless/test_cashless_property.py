"""The cashless ledger's promises as a Hypothesis state machine (issue 17, "How it is
checked"), through the services, each step its own unit of work as a request is, on the
test's database (SQLite or PostgreSQL).

Steps: top-ups, online sales (some refused: no money, a wallet paid back), an online sale
whose answer never reached the till queued offline under its key (booked once), sales
reversed, offline sales on several points of sale (each keeping its own caps, as
the device does), uploads duplicated, shuffled and split, lost passes replaced, leftover
refunds asked (and asked again) after the event, and the close after the refund window. After
every step: the ledger sums to zero and every cached balance equals its transfers; no
wallet is negative; one entry per key; debt comes from offline sales only and stays
within its bound, and a wallet in debt is blocked offline. At the end, once every device has uploaded: each wallet's balance
minus its debt is what was put in minus what was sold, whatever the order of uploads.
"""

from __future__ import annotations

import itertools
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select, update

from admitone.accounts.models import User
from admitone.authorization import Permission, resolve_access
from admitone.cashless import ledger, offline, passes, payouts, pos, pos_devices, wallets
from admitone.cashless.models import (
    AccountKind,
    EntryKind,
    EntryOrigin,
    JournalEntry,
    LedgerAccount,
    LedgerTransfer,
    Wallet,
    WalletPass,
    WalletPayout,
    WalletStatus,
)
from admitone.config import Settings
from admitone.db import Database, utcnow
from admitone.errors import DomainError
from admitone.events.models import Event
from tests.cashless.conftest import BEER, Festival, make_festival
from tests.factories import make_user

DEVICES = 2
WALLETS = 2
WALLET_CAP = 3000  # the festival's offline cap per pass and device (conftest)
SALE_CAP = 1500


@dataclass
class Till:
    """A point of sale as its page keeps it: a queue, its spend per pass since its last
    upload, and the passes its last download said to refuse."""

    token: str
    queue: list[offline.OfflineSale] = field(default_factory=list)
    spend: dict[uuid.UUID, int] = field(default_factory=lambda: defaultdict(int))
    refused: set[uuid.UUID] = field(default_factory=set)
    seq: int = 0


def test_the_ledger_keeps_its_promises(clean_database: Database, settings: Settings) -> None:
    database = clean_database

    class Cashless(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            owner_id = make_user(database)
            self.festival: Festival = make_festival(database, settings, owner_id=owner_id)
            with database.session() as session:
                owner = session.get(User, owner_id)
                assert owner is not None
                seller = pos.seller_at(session, stand_id=self.festival.stand_id, user=owner)
                self.tills = [
                    Till(
                        pos_devices.pair_pos_device(
                            session, seller=seller, user=owner, name=f"Till {n}"
                        ).token
                    )
                    for n in range(DEVICES)
                ]
            self.wallets: list[uuid.UUID] = []
            self.shown: dict[uuid.UUID, tuple[uuid.UUID, str]] = {}  # wallet -> (pass, qr)
            for _ in range(WALLETS):
                wallet_id, qr = self.festival.wallet(funded=0)
                self.wallets.append(wallet_id)
                self.shown[wallet_id] = (self._pass_of(wallet_id), qr)
            self.put_in: dict[uuid.UUID, int] = defaultdict(int)
            self.sold: dict[uuid.UUID, int] = defaultdict(int)
            # (pass, device) pairs that accepted a wallet's passes offline: its debt bound.
            self.accepted: dict[uuid.UUID, set[tuple[uuid.UUID, int]]] = defaultdict(set)
            self.keys_sent: set[str] = set()
            self.owner_id = owner_id
            with database.session(write=False) as session:
                ends_at = session.scalar(
                    select(Event.ends_at).where(Event.id == self.festival.event_id)
                )
            assert ends_at is not None
            self.ends_at = ends_at
            self.paid_back: dict[uuid.UUID, int] = defaultdict(int)  # amount + fee
            self.online_sales: list[tuple[uuid.UUID, uuid.UUID, int]] = []  # wallet, entry, amount
            self.booked_online: set[str] = set()  # keys of online sales queued again offline
            self.replays_seen = 0
            self.unclaimed = 0
            self.written_off = 0

        def _pass_of(self, wallet_id: uuid.UUID) -> uuid.UUID:
            with database.session(write=False) as session:
                found = session.scalar(
                    select(WalletPass.id).where(
                        WalletPass.wallet_id == wallet_id, WalletPass.revoked_at.is_(None)
                    )
                )
            assert found is not None
            return found

        @initialize(amounts=st.lists(st.integers(0, 4000), min_size=WALLETS, max_size=WALLETS))
        def fund(self, amounts: list[int]) -> None:
            """Wallets topped up before the gates open (or not: some stay empty)."""
            for wallet, amount in enumerate(amounts):
                if amount:
                    self.top_up(wallet, amount)

        @rule(wallet=st.integers(0, WALLETS - 1), amount=st.integers(100, 2000))
        def top_up(self, wallet: int, amount: int) -> None:
            wallet_id = self.wallets[wallet]
            with database.session() as session:
                found = session.get(Wallet, wallet_id)
                assert found is not None
                if found.status != WalletStatus.active:
                    return  # a wallet paid back or closed takes no top-up (refunded)
                debt_before = -ledger.balances(
                    session,
                    [
                        ledger.wallet_accounts(
                            session, event_id=found.event_id, wallet_id=wallet_id
                        )[1]
                    ],
                ).popitem()[1]
                credited = wallets.credit(
                    session,
                    wallet=found,
                    amount_minor=amount,
                    source=ledger.account(
                        session, event_id=found.event_id, kind=AccountKind.online_payments
                    ),
                    idempotency_key=f"topup:{uuid.uuid4()}",
                    origin=EntryOrigin.provider,
                )
            # Debt first.
            assert credited.debt_paid_minor == min(debt_before, amount)
            assert credited.debt_minor == max(0, debt_before - amount)
            self.put_in[wallet_id] += amount

        @rule(
            till=st.integers(0, DEVICES - 1),
            wallet=st.integers(0, WALLETS - 1),
            beers=st.integers(2, 3),
        )
        def sell_offline(self, till: int, wallet: int, beers: int) -> None:
            """The device's own checks, as the point-of-sale page makes them."""
            device = self.tills[till]
            wallet_id = self.wallets[wallet]
            pass_id, qr = self.shown[wallet_id]
            amount = beers * BEER
            if (
                pass_id in device.refused
                or amount > SALE_CAP
                or device.spend[pass_id] + amount > WALLET_CAP
            ):
                return
            device.seq += 1
            sale = self.festival.sale(qr, seq=device.seq, beers=beers)
            device.queue.append(sale)
            device.spend[pass_id] += amount
            self.accepted[wallet_id].add((pass_id, till))
            self.sold[wallet_id] += amount
            self.keys_sent.add(sale.idempotency_key)

        def _status(self, wallet_id: uuid.UUID) -> WalletStatus:
            with database.session(write=False) as session:
                status = session.scalar(select(Wallet.status).where(Wallet.id == wallet_id))
            assert status is not None
            return WalletStatus(status)

        @rule(
            till=st.integers(0, DEVICES - 1),
            wallet=st.integers(0, WALLETS - 1),
            beers=st.integers(1, 3),
            answer_lost=st.booleans(),
        )
        def sell_online(self, till: int, wallet: int, beers: int, answer_lost: bool) -> None:
            """A charge at the stand, refused when the wallet cannot pay or may not spend.
            One whose answer never reached the till (``answer_lost``: the call timed out)
            is queued offline under the same key, as the page does: booked once."""
            wallet_id = self.wallets[wallet]
            pass_id, qr = self.shown[wallet_id]
            amount = beers * BEER
            balance, _debt = self.festival.money(wallet_id)
            status = self._status(wallet_id)
            key = f"charge:{uuid.uuid4()}"
            try:
                with database.session() as session:
                    owner = session.get(User, self.owner_id)
                    assert owner is not None
                    answer = pos.charge(
                        session,
                        user=owner,
                        keys=self.festival.keys,
                        stand_id=self.festival.stand_id,
                        shown_pass=qr,
                        lines=[pos.LineRequest(self.festival.beer_id, beers)],
                        idempotency_key=key,
                        now=utcnow(),
                    )
            except DomainError as exc:
                assert exc.code in ("INSUFFICIENT_FUNDS", "WALLET_BLOCKED"), exc
                assert status != WalletStatus.active or balance < amount
                return
            assert status == WalletStatus.active and balance >= amount
            assert answer.data["balance_minor"] == balance - amount
            self.sold[wallet_id] += amount
            self.online_sales.append((wallet_id, uuid.UUID(answer.data["entry_id"]), amount))
            device = self.tills[till]
            if (
                answer_lost
                and pass_id not in device.refused
                and amount <= SALE_CAP
                and device.spend[pass_id] + amount <= WALLET_CAP
            ):
                device.seq += 1
                device.queue.append(self.festival.sale(qr, seq=device.seq, beers=beers, key=key))
                device.spend[pass_id] += amount
                self.booked_online.add(key)

        @rule(data=st.data())
        def reverse_a_sale(self, data: st.DataObject) -> None:
            """The cashier takes back an online sale at once (the wallet still spending)."""
            if not self.online_sales:
                return
            sale = data.draw(st.sampled_from(self.online_sales))
            self.online_sales.remove(sale)
            wallet_id, entry_id, amount = sale
            if self._status(wallet_id) != WalletStatus.active:
                return
            with database.session() as session:
                owner = session.get(User, self.owner_id)
                assert owner is not None
                pos.reverse_sale(
                    session,
                    user=owner,
                    entry_id=entry_id,
                    idempotency_key=f"reverse:{entry_id}",
                    now=utcnow(),
                    window=timedelta(minutes=10),
                )
            self.sold[wallet_id] -= amount

        @rule(till=st.integers(0, DEVICES - 1), data=st.data())
        def upload(self, till: int, data: st.DataObject) -> None:
            device = self.tills[till]
            if device.queue:
                extra = data.draw(st.lists(st.sampled_from(device.queue), max_size=3))
                sent = data.draw(st.permutations([*device.queue, *extra]))
                cuts = sorted(data.draw(st.sets(st.integers(1, len(sent)), max_size=2)))
                bounds = [0, *cuts, len(sent)]
                for low, high in itertools.pairwise(bounds):
                    if high > low:
                        self._send(till, sent[low:high])
                device.queue.clear()
                device.spend.clear()
            with database.session(write=False) as session:
                access = pos_devices.resolve_pos_device(
                    session, token=device.token, note_contact=False
                )
                bundle = pos_devices.pos_bundle(
                    session, device=access, keys=self.festival.keys, cursor=None
                )
            device.refused = {state.pass_id for state in bundle.passes if state.blocked}

        def _send(self, till: int, batch: list[offline.OfflineSale]) -> None:
            with database.session() as session:
                access = pos_devices.resolve_pos_device(session, token=self.tills[till].token)
                answer = offline.upload_sales(
                    session,
                    event_id=self.festival.event_id,
                    device_id=access.device.device.id,
                    operator_id=access.device.user.id,
                    keys=self.festival.keys,
                    device_time=utcnow(),
                    sales=batch,
                )
            assert [r.idempotency_key for r in answer.results] == [
                sale.idempotency_key for sale in batch
            ]
            assert all(r.status != offline.SaleStatus.refused for r in answer.results)
            # A sale booked online, then queued when its answer was lost: found, not booked.
            for result in answer.results:
                if result.idempotency_key in self.booked_online:
                    assert result.status == offline.SaleStatus.duplicate, result
                    self.replays_seen += 1

        @rule(wallet=st.integers(0, WALLETS - 1))
        def replace_lost_pass(self, wallet: int) -> None:
            wallet_id = self.wallets[wallet]
            with database.session() as session:
                session.execute(
                    update(WalletPass)
                    .where(WalletPass.wallet_id == wallet_id, WalletPass.revoked_at.is_(None))
                    .values(revoked_at=utcnow(), changed_at=utcnow())
                )
                wallets.issue_pass(
                    session, wallet_id=wallet_id, event_id=self.festival.event_id, issued_by_id=None
                )
            pass_id = self._pass_of(wallet_id)
            self.shown[wallet_id] = (pass_id, self._sign(pass_id))

        def _sign(self, pass_id: uuid.UUID) -> str:
            with database.session(write=False) as session:
                key = self.festival.keys.find(session, self.festival.event_id)
            assert key is not None
            return passes.sign_pass(
                self.festival.keys,
                key,
                pass_id=pass_id,
                not_after=utcnow() + timedelta(hours=6),
                wallet_cap_minor=WALLET_CAP,
                sale_cap_minor=SALE_CAP,
            )

        @rule(wallet=st.integers(0, WALLETS - 1))
        def ask_refund(self, wallet: int) -> None:
            """The holder asks for the leftover after the event (then asks again)."""
            wallet_id = self.wallets[wallet]
            with database.session(write=False) as session:
                user_id = session.scalar(select(Wallet.user_id).where(Wallet.id == wallet_id))
            assert user_id is not None
            answers = []
            for _attempt in range(2):
                try:
                    with database.session() as session:
                        answers.append(
                            payouts.request_refund(
                                session,
                                event_id=self.festival.event_id,
                                user_id=user_id,
                                holder="Ada",
                                iban="DE89370400440532013000",
                                bic=None,
                                now=self.ends_at + timedelta(hours=1),
                                settings=settings,
                            )
                        )
                except DomainError as exc:
                    assert exc.code in ("NOTHING_TO_REFUND", "WALLET_CLOSED"), exc
            if answers:
                first = answers[0]
                assert [a.payout.id for a in answers] == [first.payout.id] * 2
                assert answers[1].replayed
                if not first.replayed:
                    self.paid_back[wallet_id] += first.payout.amount_minor + first.payout.fee_minor

        @rule()
        def close(self) -> None:
            """The organizer closes the event's cashless after the refund window."""
            with database.session() as session:
                owner = session.get(User, self.owner_id)
                assert owner is not None
                access = resolve_access(
                    session,
                    slug=self.festival.org_slug,
                    user=owner,
                    permission=Permission.refund_orders,
                )
                closed = payouts.close_cashless(
                    session,
                    access=access,
                    event_id=self.festival.event_id,
                    now=self.ends_at + timedelta(days=30),
                )
            self.unclaimed += closed.unclaimed_minor
            self.written_off += closed.written_off_minor
            assert closed.unclaimed_total_minor == self.unclaimed
            assert closed.written_off_total_minor == self.written_off

        @invariant()
        def paid_back_once(self) -> None:
            with database.session(write=False) as session:
                per_wallet = session.execute(
                    select(JournalEntry.wallet_id, func.count())
                    .where(
                        JournalEntry.event_id == self.festival.event_id,
                        JournalEntry.kind == EntryKind.payout,
                    )
                    .group_by(JournalEntry.wallet_id)
                ).all()
                payout_rows = session.execute(
                    select(WalletPayout.wallet_id, func.count())
                    .where(WalletPayout.event_id == self.festival.event_id)
                    .group_by(WalletPayout.wallet_id)
                ).all()
            assert all(count == 1 for _wallet, count in per_wallet)
            assert all(count == 1 for _wallet, count in payout_rows)
            assert {w for w, _c in per_wallet} == {w for w, _c in payout_rows}

        @invariant()
        def ledger_balances(self) -> None:
            with database.session(write=False) as session:
                trial = ledger.trial_balance(session, event_id=self.festival.event_id)
                assert trial.balanced, trial
                wallet_rows = session.execute(
                    select(
                        LedgerAccount.kind, LedgerAccount.wallet_id, LedgerAccount.balance_minor
                    ).where(
                        LedgerAccount.event_id == self.festival.event_id,
                        LedgerAccount.wallet_id.is_not(None),
                    )
                ).all()
                # Debt comes from offline sales only.
                debt_sources = session.scalars(
                    select(func.distinct(JournalEntry.origin))
                    .join(LedgerTransfer, LedgerTransfer.entry_id == JournalEntry.id)
                    .join(LedgerAccount, LedgerAccount.id == LedgerTransfer.source_account_id)
                    .where(LedgerAccount.kind == AccountKind.wallet_debt)
                ).all()
                blocked = {
                    row.id: row.offline_blocked
                    for row in session.execute(
                        select(Wallet.id, Wallet.offline_blocked).where(
                            Wallet.event_id == self.festival.event_id
                        )
                    )
                }
                entries, keys = session.execute(
                    select(
                        func.count(), func.count(func.distinct(JournalEntry.idempotency_key))
                    ).where(JournalEntry.event_id == self.festival.event_id)
                ).one()
            assert set(debt_sources) <= {EntryOrigin.offline}
            assert entries == keys
            for kind, wallet_id, balance in wallet_rows:
                if kind == AccountKind.wallet:
                    assert balance >= 0
                else:
                    debt = -balance
                    assert 0 <= debt <= WALLET_CAP * len(self.accepted[wallet_id])
                    # A wallet in debt is refused offline until a top-up clears it.
                    assert blocked[wallet_id] or debt == 0

        def teardown(self) -> None:
            for till in range(DEVICES):
                if self.tills[till].queue:
                    self._send(till, self.tills[till].queue)
            held = 0
            with database.session(write=False) as session:
                for wallet_id in self.wallets:
                    account, debt = ledger.wallet_accounts(
                        session, event_id=self.festival.event_id, wallet_id=wallet_id
                    )
                    found = ledger.balances(session, [account, debt])
                    net = found[account.id] + found[debt.id]
                    if not self.unclaimed and not self.written_off:
                        assert net == (
                            self.put_in[wallet_id]
                            - self.sold[wallet_id]
                            - self.paid_back[wallet_id]
                        )
                    held += net
                booked = set(
                    session.scalars(
                        select(JournalEntry.idempotency_key).where(
                            JournalEntry.event_id == self.festival.event_id,
                            JournalEntry.origin == EntryOrigin.offline,
                        )
                    )
                )
            assert booked == self.keys_sent
            # Across the wallets (the close books per wallet what it finds).
            assert held == (
                sum(self.put_in.values())
                - sum(self.sold.values())
                - sum(self.paid_back.values())
                - self.unclaimed
                + self.written_off
            )

    run_state_machine_as_test(Cashless, settings=MACHINE_SETTINGS)


MACHINE_SETTINGS = hypothesis_settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
