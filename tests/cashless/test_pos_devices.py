"""Point-of-sale devices: paired for a stand by who may sell there, checked on every call,
and the bundle they sell offline with (on SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, select, update

from admitone.accounts.models import User
from admitone.authorization import Role
from admitone.cashless import ledger, pos, pos_devices, wallets
from admitone.cashless.models import (
    EntryKind,
    EntryOrigin,
    Product,
    Stand,
    StandCashier,
    StandKind,
    Wallet,
    WalletPass,
)
from admitone.checkin import devices
from admitone.checkin.errors import BundleCursorInvalid, DeviceTokenInvalid
from admitone.checkin.models import CheckinDevice
from admitone.db import utcnow
from admitone.errors import PermissionDenied
from admitone.events.models import Event
from admitone.organizations.models import Membership
from tests.cashless.conftest import Festival
from tests.factories import make_user


def _member(festival: Festival, role: Role, *, assigned: bool) -> uuid.UUID:
    user_id = make_user(festival.database)
    with festival.database.session() as session:
        event = session.get(Event, festival.event_id)
        assert event is not None
        session.add(Membership(organization_id=event.organization_id, user_id=user_id, role=role))
        if assigned:
            session.add(StandCashier(stand_id=festival.stand_id, user_id=user_id))
    return user_id


def _pair(festival: Festival, user_id: uuid.UUID, stand_id: uuid.UUID | None = None) -> str:
    with festival.database.session() as session:
        user = session.get(User, user_id)
        assert user is not None
        seller = pos.seller_at(session, stand_id=stand_id or festival.stand_id, user=user)
        return pos_devices.pair_pos_device(
            session, seller=seller, user=user, name="Till by the stage"
        ).token


def _resolve(festival: Festival, token: str) -> pos_devices.PosDeviceAccess:
    with festival.database.session() as session:
        return pos_devices.resolve_pos_device(session, token=token)


def test_a_cashier_pairs_a_till_for_their_stand_only(festival: Festival) -> None:
    cashier = _member(festival, Role.cashier, assigned=True)
    token = _pair(festival, cashier)
    access = _resolve(festival, token)
    assert access.stand.id == festival.stand_id and access.device.device.gate == "Main bar"
    with festival.database.session() as session:
        other = Stand(event_id=festival.event_id, name="Food truck", kind=StandKind.food)
        session.add(other)
        session.flush()
        other_id = other.id
    with pytest.raises(PermissionDenied):
        _pair(festival, cashier, stand_id=other_id)
    # An admin sells everywhere, assigned or not.
    admin = _member(festival, Role.admin, assigned=False)
    assert _resolve(festival, _pair(festival, admin, stand_id=other_id)).stand.id == (other_id)


def test_a_till_stops_when_its_cashier_may_no_longer_sell_there(festival: Festival) -> None:
    cashier = _member(festival, Role.cashier, assigned=True)
    token = _pair(festival, cashier)
    with festival.database.session() as session:
        session.execute(delete(StandCashier).where(StandCashier.user_id == cashier))
    with pytest.raises(DeviceTokenInvalid):
        _resolve(festival, token)


def test_a_gate_device_is_not_a_till_and_a_revoked_till_is_refused(festival: Festival) -> None:
    staff = _member(festival, Role.owner, assigned=False)
    with festival.database.session() as session:
        event = session.get(Event, festival.event_id)
        user = session.get(User, staff)
        assert event is not None and user is not None
        gate_token = devices.pair_device(
            session, event=event, user=user, name="Gate", gate="N"
        ).token
    with pytest.raises(DeviceTokenInvalid):
        _resolve(festival, gate_token)
    till = _pair(festival, staff)
    with festival.database.session() as session:
        session.execute(
            update(CheckinDevice)
            .where(CheckinDevice.token_hash == devices.hash_token(till))
            .values(revoked_at=utcnow())
        )
    with pytest.raises(DeviceTokenInvalid):
        _resolve(festival, till)


def _bundle(festival: Festival, token: str, cursor: str | None) -> pos_devices.PosBundle:
    with festival.database.session(write=False) as session:
        access = pos_devices.resolve_pos_device(session, token=token, note_contact=False)
        return pos_devices.pos_bundle(session, device=access, keys=festival.keys, cursor=cursor)


def test_the_bundle_lists_the_passes_to_refuse_then_only_their_changes(festival: Festival) -> None:
    owner = _member(festival, Role.owner, assigned=False)
    token = _pair(festival, owner)
    fine, _qr = festival.wallet(funded=1000)
    lost, _qr = festival.wallet(funded=1000)
    indebted, _qr = festival.wallet(funded=0)
    with festival.database.session() as session:
        session.execute(
            update(WalletPass).where(WalletPass.wallet_id == lost).values(revoked_at=utcnow())
        )
        session.execute(update(Wallet).where(Wallet.id == indebted).values(offline_blocked=True))
        session.add(
            Product(
                event_id=festival.event_id,
                stand_id=session.scalar(
                    select(Stand.id).where(Stand.event_id == festival.event_id)
                ),
                name="Water",
                price_minor=200,
                vat_rate_bp=550,
            )
        )

    def pass_of(wallet_id: uuid.UUID) -> uuid.UUID:
        with festival.database.session(write=False) as session:
            found = session.scalar(select(WalletPass.id).where(WalletPass.wallet_id == wallet_id))
            assert found is not None
            return found

    first = _bundle(festival, token, None)
    assert first.full and first.currency == "EUR"
    assert first.settings.offline_wallet_cap_minor == 3000
    assert sorted(product.name for product in first.products) == ["Beer", "Water"]
    assert {(state.pass_id, state.blocked) for state in first.passes} == {
        (pass_of(lost), True),
        (pass_of(indebted), True),
    }
    assert pass_of(fine) not in {state.pass_id for state in first.passes}

    # The debt paid by a top-up: the wallet comes back as allowed, in a later download
    # (its cursor is five minutes behind: the rows above come again, harmless upserts).
    with festival.database.session() as session:
        wallet = session.get(Wallet, indebted)
        assert wallet is not None
        debt = ledger.wallet_accounts(session, event_id=festival.event_id, wallet_id=indebted)[1]
        sales = ledger.sales_account(
            event_id=festival.event_id, stand_id=festival.stand_id, spread=uuid.uuid4()
        )
        entry = ledger.begin_entry(
            session,
            event_id=festival.event_id,
            idempotency_key="offline-debt",
            kind=EntryKind.sale,
            origin=EntryOrigin.offline,
            amount_minor=300,
        )
        assert isinstance(entry, uuid.UUID)
        ledger.post(session, entry_id=entry, moves=[ledger.Move(debt, sales, 300)])
        wallets.credit(
            session,
            wallet=wallet,
            amount_minor=1000,
            source=ledger.account(
                session, event_id=festival.event_id, kind=ledger.AccountKind.online_payments
            ),
            idempotency_key="top-up",
            origin=EntryOrigin.online,
        )
    later = _bundle(festival, token, first.cursor)
    assert not later.full
    states = {state.pass_id: state.blocked for state in later.passes}
    assert states[pass_of(indebted)] is False
    assert pass_of(fine) not in states or states[pass_of(fine)] is False

    with pytest.raises(BundleCursorInvalid):
        _bundle(festival, token, "not-a-cursor")
    # Another event's cursor (the same shape, another event's id).
    with festival.database.session(write=False) as session:
        access = pos_devices.resolve_pos_device(session, token=token, note_contact=False)
        foreign = pos_devices._encode_cursor(uuid.uuid4(), utcnow())
        with pytest.raises(BundleCursorInvalid):
            pos_devices.pos_bundle(session, device=access, keys=festival.keys, cursor=foreign)
