"""Gate devices: a browser, a hardware scanner or a site relay paired with one event
(issue 16, point 2; docs/gates.md, "Devices").

Gate staff pair a device and it gets a token of its own, given once; the organizer lists
the event's devices with their last contact and revokes them. Every call with the token
(the bundle, a batch of offline scans, an online scan) finds the device by the token's
hash and checks, in the same read, that it is not revoked and that the member who
paired it may still check in (``authorization.device_may_act``).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from admitone.accounts.models import User
from admitone.authorization import OrgAccess, Permission, Role, acting_role, device_may_act
from admitone.checkin import lists
from admitone.checkin.errors import DeviceNotFound, DeviceTokenInvalid
from admitone.checkin.models import CheckIn, CheckinDevice
from admitone.db import utcnow
from admitone.errors import InvalidInput
from admitone.events import service as events
from admitone.events.models import Event
from admitone.organizations.models import Membership, Organization

TOKEN_PREFIX = "aod_"  # noqa: S105 - a prefix, not a secret
NAME_MAX = 100
# Last contact is written at most this often: a gate scanning every second would
# otherwise rewrite its device row with every scan.
LAST_SEEN_RESOLUTION = timedelta(seconds=30)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def is_device_token(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX)


def _checked_label(field: str, value: str) -> str:
    text = " ".join(value.split())
    if not 1 <= len(text) <= NAME_MAX or not text.isprintable():
        raise InvalidInput(
            errors=[
                {
                    "field": field,
                    "message": f"1 to {NAME_MAX} printable characters",
                    "type": "string_length",
                }
            ]
        )
    return text


@dataclass(frozen=True)
class PairedDevice:
    device: CheckinDevice
    token: str  # given once, never stored


def pair_device(
    session: Session, *, event: Event, user: User, name: str, gate: str
) -> PairedDevice:
    """Pair a device with ``event`` for ``user`` (the caller was checked for
    ``check_in`` on the event): a new device row and its token, given once. Makes the
    event's default list if it has none yet, so the device's first bundle holds it."""
    lists.ensure_default_list(session, event_id=event.id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    device = CheckinDevice(
        event_id=event.id,
        name=_checked_label("name", name),
        gate=_checked_label("gate", gate),
        token_hash=hash_token(token),
        paired_by_id=user.id,
        created_at=utcnow(),
    )
    session.add(device)
    session.flush()
    return PairedDevice(device=device, token=token)


@dataclass(frozen=True)
class DeviceView:
    device: CheckinDevice
    paired_by: str | None
    scans: int


def list_devices(session: Session, *, access: OrgAccess, event_id: uuid.UUID) -> list[DeviceView]:
    """The event's devices, newest first, revoked ones too (their scans keep naming
    them), each with who paired it and how many scans it made."""
    event = events.get_event(session, access=access, event_id=event_id)
    scans = (
        select(CheckIn.device_id, func.count().label("scans"))
        .where(CheckIn.event_id == event.id, CheckIn.device_id.is_not(None))
        .group_by(CheckIn.device_id)
        .subquery()
    )
    rows = session.execute(
        select(CheckinDevice, User.full_name, User.email, scans.c.scans)
        .outerjoin(User, User.id == CheckinDevice.paired_by_id)
        .outerjoin(scans, scans.c.device_id == CheckinDevice.id)
        .where(CheckinDevice.event_id == event.id)
        .order_by(CheckinDevice.created_at.desc(), CheckinDevice.id)
    ).all()
    return [
        DeviceView(device=row[0], paired_by=(row[1] or row[2]), scans=row[3] or 0) for row in rows
    ]


def revoke_device(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, device_id: uuid.UUID
) -> CheckinDevice:
    """Revoke a device: its token stops working at its next call. Idempotent (a revoked
    device stays revoked, at its first revocation's time)."""
    event = events.get_event(session, access=access, event_id=event_id)
    device = session.scalar(
        select(CheckinDevice).where(
            CheckinDevice.id == device_id, CheckinDevice.event_id == event.id
        )
    )
    if device is None:
        raise DeviceNotFound()
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        session.flush()
    return device


@dataclass(frozen=True)
class DeviceAccess:
    """A device acting for its event, for the member who paired it."""

    device: CheckinDevice
    event: Event
    organization: Organization
    user: User
    role: Role

    @property
    def org(self) -> OrgAccess:
        return OrgAccess(organization=self.organization, role=self.role, user=self.user)


_DEVICE_BY_TOKEN = (
    select(CheckinDevice, Event, Organization, User, Membership.role)
    .join(Event, Event.id == CheckinDevice.event_id)
    .join(Organization, Organization.id == Event.organization_id)
    .outerjoin(User, User.id == CheckinDevice.paired_by_id)
    .outerjoin(
        Membership,
        (Membership.organization_id == Event.organization_id)
        & (Membership.user_id == CheckinDevice.paired_by_id),
    )
)


def resolve_device(
    session: Session,
    *,
    token: str,
    note_contact: bool = True,
    now: datetime | None = None,
    permission: Permission = Permission.check_in,
) -> DeviceAccess:
    """The device behind a token, with its event; DEVICE_TOKEN_INVALID (401) for an
    unknown or revoked device, or one whose member no longer holds ``permission`` (a
    gate's: check in; a point of sale's: sell at a stand). With
    ``note_contact`` (a write unit of work: a scan, an upload) notes the device's last
    contact, at most every ``LAST_SEEN_RESOLUTION``."""
    if not is_device_token(token):
        raise DeviceTokenInvalid()
    row = session.execute(
        _DEVICE_BY_TOKEN.where(CheckinDevice.token_hash == hash_token(token))
    ).first()
    if row is None:
        raise DeviceTokenInvalid()
    device, event, organization, user, member_role = row
    if device.revoked_at is not None or not device_may_act(user, member_role, permission):
        raise DeviceTokenInvalid()
    now = now or utcnow()
    if note_contact and (
        device.last_seen_at is None or now - device.last_seen_at >= LAST_SEEN_RESOLUTION
    ):
        session.execute(
            update(CheckinDevice)
            .where(
                CheckinDevice.id == device.id,
                or_(
                    CheckinDevice.last_seen_at.is_(None),
                    CheckinDevice.last_seen_at < now - LAST_SEEN_RESOLUTION,
                ),
            )
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
    role = acting_role(user, member_role)
    assert user is not None and role is not None  # device_may_act said so
    return DeviceAccess(device=device, event=event, organization=organization, user=user, role=role)
