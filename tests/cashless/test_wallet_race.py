"""Two first looks at a wallet at the same instant open one wallet, on both databases;
the negative control shows that a plain read-then-insert really races (PostgreSQL)."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from admitone.cashless import wallets
from admitone.cashless.models import CashlessSettings, LedgerAccount, Wallet, WalletPass
from admitone.config import Settings
from admitone.db import Database, utcnow
from admitone.tickets.signing import EventKey, KeyRing
from tests.conftest import BACKEND
from tests.factories import make_shop, make_user

RACERS = 2


class KeysAfterEveryRead(KeyRing):
    """The event's keys, handed out only once every racer has read that it has no wallet:
    ``my_wallet`` asks for the key between that read and the opening, so the openings
    really overlap."""

    def __init__(self, barrier: threading.Barrier, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.barrier = barrier

    def get_or_create(self, session: Session, event_id: uuid.UUID) -> EventKey:
        self.barrier.wait(timeout=20)
        return super().get_or_create(session, event_id)


def _festival(database: Database, settings: Settings) -> uuid.UUID:
    shop = make_shop(database)
    with database.session() as session:
        session.add(
            CashlessSettings(
                event_id=shop.event_id,
                topup_minimum_minor=500,
                topup_maximum_minor=20_000,
                balance_maximum_minor=50_000,
                offline_wallet_cap_minor=3_000,
                offline_sale_cap_minor=1_500,
            )
        )
    with database.session(write=False) as session:
        KeyRing(settings=settings, database=database).get_or_create(session, shop.event_id)
    return shop.event_id


def test_two_first_looks_at_once_open_one_wallet(clean_database, settings):
    event_id = _festival(clean_database, settings)
    for _round in range(3):
        user_id = make_user(clean_database)
        keys = KeysAfterEveryRead(
            threading.Barrier(RACERS), settings=settings, database=clean_database
        )

        def look(keys: KeyRing = keys, user_id: uuid.UUID = user_id) -> tuple[str, str]:
            with clean_database.session(write=False) as session:
                card = wallets.my_wallet(
                    session,
                    database=clean_database,
                    keys=keys,
                    event_id=event_id,
                    user_id=user_id,
                    now=utcnow(),
                )
                assert card.current_pass is not None
                return str(card.summary.wallet.id), card.current_pass.code

        with ThreadPoolExecutor(RACERS) as pool:
            seen = [future.result() for future in [pool.submit(look) for _ in range(RACERS)]]
        assert len(set(seen)) == 1, seen  # the same wallet and pass for both
        with clean_database.session(write=False) as session:
            wallet_ids = session.scalars(select(Wallet.id).where(Wallet.user_id == user_id)).all()
            assert len(wallet_ids) == 1
            assert (
                session.scalar(
                    select(func.count())
                    .select_from(WalletPass)
                    .where(WalletPass.wallet_id == wallet_ids[0])
                )
                == 1
            )
            assert (
                session.scalar(
                    select(func.count())
                    .select_from(LedgerAccount)
                    .where(LedgerAccount.wallet_id == wallet_ids[0])
                )
                == 2
            )


@pytest.mark.skipif(
    BACKEND == "sqlite", reason="SQLite runs write transactions one at a time: no race there"
)
def test_negative_control_a_plain_read_then_insert_races(clean_database, settings):
    """Without ``insert_once``, two openings that both read "no wallet" collide: the
    second insert breaks the unique (event, user), so the race above is real."""
    event_id = _festival(clean_database, settings)
    user_id = make_user(clean_database)
    barrier = threading.Barrier(RACERS)

    def plain_open() -> str:
        try:
            with clean_database.session() as session:
                found = session.scalar(
                    select(Wallet.id).where(Wallet.event_id == event_id, Wallet.user_id == user_id)
                )
                barrier.wait(timeout=20)
                if found is None:
                    session.add(Wallet(event_id=event_id, user_id=user_id))
                    session.flush()
            return "opened"
        except IntegrityError:
            return "collided"

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = sorted(future.result() for future in [pool.submit(plain_open) for _ in range(2)])
    assert outcomes == ["collided", "opened"]
