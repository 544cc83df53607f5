"""Money, dates and numbers in the reader's language (Babel), used by templates and pages."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_currency, format_decimal, get_currency_precision

from admitone.web.i18n import babel_locale


def minor_to_decimal(amount_minor: int, currency: str) -> Decimal:
    digits = get_currency_precision(currency)
    return Decimal(amount_minor).scaleb(-digits)


def money(amount_minor: int | None, currency: str) -> str:
    """``1250, "EUR"`` -> ``€12.50`` (en) or ``12,50 €`` (fr)."""
    return format_currency(
        minor_to_decimal(amount_minor or 0, currency), currency, locale=babel_locale()
    )


def number(value: int | float | Decimal) -> str:
    return format_decimal(value, locale=babel_locale())


def _zone(timezone: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local(moment: datetime, timezone: str | None) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(_zone(timezone))


def datetime_in(moment: datetime | None, timezone: str | None, fmt: str = "medium") -> str:
    """A moment shown in the event's time zone, with the zone's short name."""
    if moment is None:
        return ""
    zone = _zone(timezone)
    return format_datetime(local(moment, timezone), fmt, tzinfo=zone, locale=babel_locale())


def date_in(moment: datetime | None, timezone: str | None, fmt: str = "full") -> str:
    if moment is None:
        return ""
    return format_date(local(moment, timezone), fmt, locale=babel_locale())


def time_in(moment: datetime | None, timezone: str | None, fmt: str = "short") -> str:
    if moment is None:
        return ""
    zone = _zone(timezone)
    return format_time(local(moment, timezone), fmt, tzinfo=zone, locale=babel_locale())


def zone_name(moment: datetime | None, timezone: str | None) -> str:
    """The zone abbreviation in force at ``moment`` (CET, CEST, EDT...)."""
    if moment is None:
        return ""
    return local(moment, timezone).tzname() or (timezone or "UTC")


def input_datetime(moment: datetime | None, timezone: str | None) -> str:
    """The value of an ``<input type="datetime-local">`` in the event's zone."""
    if moment is None:
        return ""
    return local(moment, timezone).strftime("%Y-%m-%dT%H:%M")


def iso(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def time_range(start: datetime, end: datetime, timezone: str | None) -> tuple[str, str]:
    """(start time, end) where the end shows its date only when it is another day."""
    start_local, end_local = local(start, timezone), local(end, timezone)
    end_text = (
        time_in(end, timezone)
        if start_local.date() == end_local.date()
        else datetime_in(end, timezone, "short")
    )
    return time_in(start, timezone), end_text
