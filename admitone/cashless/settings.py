"""An event's cashless settings: read and set by its organizers (docs/cashless.md).

Money is in the event's currency (answered with the settings, never chosen here).
The rules between fields are checked here, naming the field (422 ``VALIDATION_ERROR``,
nothing changed); the schema checks each field alone first, and the table's CHECK
constraints are the last net.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, fields, replace

from sqlalchemy.orm import Session

from admitone.authorization import OrgAccess
from admitone.cashless.models import CashlessSettings, UnclaimedPolicy
from admitone.errors import InvalidInput
from admitone.events import queries as event_queries
from admitone.events.errors import EventNotFound
from admitone.events.models import Event
from admitone.schemas import one_line

UNIT_NAME_MAX = 30
DONATION_RECIPIENT_MAX = 200
PASS_VALIDITY_MAX_MINUTES = 7 * 24 * 60
REFUND_WINDOW_MAX_DAYS = 365


# The settings that are amounts (minor units of the event's currency).
MONEY_SETTINGS = (
    "topup_minimum_minor",
    "topup_maximum_minor",
    "balance_maximum_minor",
    "offline_wallet_cap_minor",
    "offline_sale_cap_minor",
    "refund_minimum_minor",
    "refund_fee_minor",
)


@dataclass(frozen=True, slots=True)
class CashlessValues:
    """Every setting of an event's cashless, as an organizer sets them (amounts in minor
    units of the event's currency). The defaults are what an event without settings
    answers, switched off."""

    enabled: bool = True
    unit_name: str | None = None  # "Jetons": shown beside the real amount, never instead
    topup_minimum_minor: int = 500
    topup_maximum_minor: int = 20_000
    balance_maximum_minor: int = 50_000
    offline_wallet_cap_minor: int = 3_000
    offline_sale_cap_minor: int = 1_500
    pass_validity_minutes: int = 360
    wallet_with_ticket: bool = False
    refund_window_days: int = 14
    refund_minimum_minor: int = 0
    refund_fee_minor: int = 0
    unclaimed_policy: UnclaimedPolicy = UnclaimedPolicy.keep
    donation_recipient: str | None = None


@dataclass(frozen=True, slots=True)
class EventCashless:
    """An event's cashless settings with the event (its currency is the settings');
    ``configured`` is False for an event nobody set up yet (the defaults, off)."""

    event: Event
    configured: bool
    values: CashlessValues

    @property
    def event_id(self) -> uuid.UUID:
        return self.event.id

    @property
    def currency(self) -> str:
        return self.event.currency


def _event(session: Session, access: OrgAccess, event_id: uuid.UUID) -> Event:
    event = session.scalar(
        event_queries.events_of(access.organization.id).where(Event.id == event_id)
    )
    if event is None:
        raise EventNotFound()
    return event


def _values_of(row: CashlessSettings) -> CashlessValues:
    return CashlessValues(
        **{field.name: getattr(row, field.name) for field in fields(CashlessValues)}
    )


def get_cashless(session: Session, *, access: OrgAccess, event_id: uuid.UUID) -> EventCashless:
    """The settings of one of the organization's events (EventNotFound for another's)."""
    event = _event(session, access, event_id)
    row = session.get(CashlessSettings, event.id)
    if row is None:
        return EventCashless(event, False, CashlessValues(enabled=False))
    return EventCashless(event, True, _values_of(row))


def checked_values(values: CashlessValues) -> CashlessValues:
    """``values`` tidied (an empty unit name is none; a recipient only when donating), or
    InvalidInput listing every field that breaks a rule."""
    unit_name = (values.unit_name or "").strip() or None
    recipient = (values.donation_recipient or "").strip() or None
    if values.unclaimed_policy != UnclaimedPolicy.donate:
        recipient = None
    problems: list[tuple[str, str]] = []
    for name in MONEY_SETTINGS:
        if getattr(values, name) < 0:
            problems.append((name, "must not be negative"))
    if values.topup_minimum_minor < 1:
        problems.append(("topup_minimum_minor", "must be at least 1"))
    if values.topup_maximum_minor < values.topup_minimum_minor:
        problems.append(("topup_maximum_minor", "must not be below the top-up minimum"))
    if values.balance_maximum_minor < values.topup_minimum_minor:
        problems.append(("balance_maximum_minor", "must not be below the top-up minimum"))
    if values.offline_sale_cap_minor > values.offline_wallet_cap_minor:
        problems.append(("offline_sale_cap_minor", "must not be above the offline wallet cap"))
    if not 1 <= values.pass_validity_minutes <= PASS_VALIDITY_MAX_MINUTES:
        problems.append(("pass_validity_minutes", f"must be from 1 to {PASS_VALIDITY_MAX_MINUTES}"))
    if not 0 <= values.refund_window_days <= REFUND_WINDOW_MAX_DAYS:
        problems.append(("refund_window_days", f"must be from 0 to {REFUND_WINDOW_MAX_DAYS}"))
    for name, text, limit in (
        ("unit_name", unit_name, UNIT_NAME_MAX),
        ("donation_recipient", recipient, DONATION_RECIPIENT_MAX),
    ):
        if text is None:
            continue
        if len(text) > limit:
            problems.append((name, f"must be at most {limit} characters"))
        try:
            one_line(text)
        except ValueError as exc:
            problems.append((name, str(exc)))
    if values.unclaimed_policy == UnclaimedPolicy.donate and recipient is None:
        problems.append(("donation_recipient", "is required when unclaimed balances are donated"))
    if problems:
        raise InvalidInput(errors=[{"field": field, "message": text} for field, text in problems])
    return replace(values, unit_name=unit_name, donation_recipient=recipient)


def set_cashless(
    session: Session, *, access: OrgAccess, event_id: uuid.UUID, values: CashlessValues
) -> EventCashless:
    """Set every cashless setting of one of the organization's events (a whole
    replacement). Checked first (``checked_values``): a refusal changes nothing. Wallets
    already open keep their money; the new limits apply to what comes next (a top-up, a
    pass signed from now). No lock: the last writer's settings stand."""
    event = _event(session, access, event_id)
    values = checked_values(values)
    row = session.get(CashlessSettings, event.id)
    if row is None:
        row = CashlessSettings(event_id=event.id)
        session.add(row)
    for name, value in asdict(values).items():
        setattr(row, name, value)
    session.flush()
    return EventCashless(event, True, _values_of(row))
