"""Point-of-sale devices and what they download to sell offline (issue 17, point 6;
docs/cashless.md, "Offline sales").

A point of sale is a gate device (``checkin_devices``: the same pairing, token, revocation
and clock offset as the gates' machinery, docs/gates.md) linked to one stand
(``pos_devices``). Its token acts for the member who paired it, as long as that member
may still sell at the stand (``authorization.may_sell_at_stand``), checked on every call.

The bundle holds what a device needs to accept a pass with no network: the event's
public key, the caps, the stand's products, and the passes it must refuse offline (a
revoked pass, a pass of a wallet with debt, blocked or being paid back). After the
first download a device asks only for the changes since its cursor; the cursor's time is
taken before reading, minus ``OVERLAP`` (as the gates' bundle does), so a change that
commits while the download runs comes again next time rather than never.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from admitone.accounts.models import User
from admitone.authorization import Permission, may_sell_at_stand
from admitone.cashless.models import (
    CashlessSettings,
    PosDevice,
    Product,
    Stand,
    StandCashier,
    Wallet,
    WalletPass,
    WalletStatus,
)
from admitone.cashless.pos import Seller
from admitone.cashless.wallets import cashless_of
from admitone.checkin import devices
from admitone.checkin.devices import DeviceAccess, PairedDevice
from admitone.checkin.errors import BundleCursorInvalid, DeviceTokenInvalid
from admitone.db import utcnow
from admitone.tickets.signing import EventKey, KeyRing

OVERLAP = timedelta(minutes=5)


@dataclass(frozen=True)
class PosDeviceAccess:
    """A point of sale acting for its member, at its stand."""

    device: DeviceAccess
    stand: Stand


def _assigned(session: Session, *, stand_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return (
        session.scalar(
            select(StandCashier.user_id).where(
                StandCashier.stand_id == stand_id, StandCashier.user_id == user_id
            )
        )
        is not None
    )


def pair_pos_device(session: Session, *, seller: Seller, user: User, name: str) -> PairedDevice:
    """Pair a point of sale for the stand ``seller`` may sell at (``pos.seller_at``
    checked it): a gate device named for the stand, linked to it; its token given once."""
    cashless_of(session, event_id=seller.event.id)
    paired = devices.pair_device(
        session, event=seller.event, user=user, name=name, gate=seller.stand.name
    )
    session.add(PosDevice(device_id=paired.device.id, stand_id=seller.stand.id))
    session.flush()
    return paired


def resolve_pos_device(
    session: Session, *, token: str, note_contact: bool = True
) -> PosDeviceAccess:
    """The point of sale behind a token; ``DEVICE_TOKEN_INVALID`` (401) for a gate's
    device, a revoked one, or one whose member may no longer sell at its stand."""
    access = devices.resolve_device(
        session, token=token, note_contact=note_contact, permission=Permission.sell_at_stand
    )
    stand = session.scalar(
        select(Stand)
        .join(PosDevice, PosDevice.stand_id == Stand.id)
        .where(PosDevice.device_id == access.device.id)
    )
    if stand is None or not may_sell_at_stand(
        access.role, assigned=_assigned(session, stand_id=stand.id, user_id=access.user.id)
    ):
        raise DeviceTokenInvalid()
    return PosDeviceAccess(device=access, stand=stand)


# --- the bundle ------------------------------------------------------------------------------


def _encode_cursor(event_id: uuid.UUID, since: datetime) -> str:
    text = json.dumps({"e": str(event_id), "s": since.isoformat()}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(text: str, event_id: uuid.UUID) -> datetime:
    try:
        raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if not isinstance(raw, dict) or raw.get("e") != str(event_id):
            raise ValueError("another event's cursor")
        since = datetime.fromisoformat(raw["s"])
        if since.tzinfo is None:
            raise ValueError("naive time")
        return since
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BundleCursorInvalid() from None


@dataclass(frozen=True)
class PassState:
    pass_id: uuid.UUID
    blocked: bool  # refuse it offline


@dataclass(frozen=True)
class PosBundle:
    device: PosDeviceAccess
    key: EventKey
    settings: CashlessSettings
    currency: str
    products: list[Product]
    full: bool  # ``passes`` is every pass to refuse (else: the changes since the cursor)
    passes: list[PassState]
    server_time: datetime
    cursor: str


def pos_bundle(
    session: Session, *, device: PosDeviceAccess, keys: KeyRing, cursor: str | None
) -> PosBundle:
    """What ``device`` needs to sell offline (read-only but for its last contact)."""
    event = device.device.event
    settings = cashless_of(session, event_id=event.id)
    now = utcnow()
    since = _decode_cursor(cursor, event.id) if cursor else None
    key = keys.get_or_create(session, event.id)
    products = list(
        session.scalars(
            select(Product)
            .where(Product.stand_id == device.stand.id)
            .order_by(Product.category, Product.name, Product.id)
        )
    )
    statement = (
        select(WalletPass.id, WalletPass.revoked_at, Wallet.offline_blocked, Wallet.status)
        .join(Wallet, Wallet.id == WalletPass.wallet_id)
        .where(WalletPass.event_id == event.id)
    )
    if since is None:
        statement = statement.where(
            or_(
                WalletPass.revoked_at.is_not(None),
                Wallet.offline_blocked.is_(True),
                Wallet.status != WalletStatus.active,
            )
        )
    else:
        statement = statement.where(or_(WalletPass.changed_at > since, Wallet.changed_at > since))
    passes = [
        PassState(
            pass_id=row.id,
            blocked=row.revoked_at is not None
            or row.offline_blocked
            or row.status != WalletStatus.active,
        )
        for row in session.execute(statement.order_by(WalletPass.id))
    ]
    return PosBundle(
        device=device,
        key=key,
        settings=settings,
        currency=event.currency,
        products=products,
        full=since is None,
        passes=passes,
        server_time=now,
        cursor=_encode_cursor(event.id, now - OVERLAP),
    )
