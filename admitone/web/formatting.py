"""Money, dates and numbers in the reader's language (Babel), used by templates and pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import format_currency, format_decimal, format_percent, get_currency_precision

from admitone.web.i18n import babel_locale

# The date styles of CLDR, as Babel names them.
DateStyle = Literal["full", "long", "medium", "short"]


def currency_digits(currency: str) -> int:
    """How many minor units' digits ``currency`` has (EUR 2, JPY 0)."""
    return int(get_currency_precision(currency))


def minor_to_decimal(amount_minor: int, currency: str) -> Decimal:
    digits = currency_digits(currency)
    return Decimal(amount_minor).scaleb(-digits)


def money(amount_minor: int | None, currency: str) -> str:
    """``1250, "EUR"`` -> ``€12.50`` (en) or ``12,50 €`` (fr)."""
    return format_currency(
        minor_to_decimal(amount_minor or 0, currency), currency, locale=babel_locale()
    )


def number(value: int | float | Decimal) -> str:
    return format_decimal(value, locale=babel_locale())


def percent_of_bp(basis_points: int) -> str:
    """A rate kept in basis points (VAT: 550 is 5.5 %), as the reader writes percents."""
    return format_percent(
        Decimal(basis_points) / 10000, locale=babel_locale(), decimal_quantization=False
    )


def _zone(timezone: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local(moment: datetime, timezone: str | None) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(_zone(timezone))


def datetime_in(
    moment: datetime | None, timezone: str | None, fmt: DateStyle = "medium", *, zone: bool = True
) -> str:
    """A moment in the event's time zone: the date in ``fmt``, the time to the minute (no
    seconds, whatever ``fmt``), then the zone's short name ("Jun 1, 2027, 8:00 PM CEST";
    ``zone=False`` where the page names the zone once for all)."""
    if moment is None:
        return ""
    at = local(moment, timezone)
    locale = babel_locale()
    # Babel's own composition (format_datetime), with the short time in it.
    text = (
        str(get_datetime_format(fmt, locale=locale))
        .replace("'", "")
        .replace("{0}", format_time(at, "short", tzinfo=at.tzinfo, locale=locale))
        .replace("{1}", format_date(at, fmt, locale=locale))
    )
    return f"{text} {zone_name(moment, timezone)}" if zone else text


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


# An end before this hour of the next day still belongs to the evening it started
# ("8:00 PM to 2:00 AM"), as people read a night out.
SAME_NIGHT_UNTIL_HOUR = 6


def time_range(start: datetime, end: datetime, timezone: str | None) -> tuple[str, str]:
    """(start time, end): the end as a time on the same day or the same night ("8:00 PM
    to midnight", "20:00 à 00:00"), with its date only beyond."""
    start_local, end_local = local(start, timezone), local(end, timezone)
    same_night = end_local.date() == start_local.date() + timedelta(days=1) and (
        end_local.hour < SAME_NIGHT_UNTIL_HOUR and end_local - start_local < timedelta(days=1)
    )
    if start_local.date() == end_local.date() or same_night:
        end_text = _end_time(end_local)
    else:
        end_text = datetime_in(end, timezone, "short", zone=False)
    return time_in(start, timezone), end_text


def _end_time(end_local: datetime) -> str:
    # "12:00 AM" leaves English readers unsure which night is meant: "midnight" does not.
    # 24-hour locales write 00:00, which nobody misreads.
    if (end_local.hour, end_local.minute) == (0, 0) and babel_locale().language == "en":
        return "midnight"
    return format_time(end_local, "short", tzinfo=end_local.tzinfo, locale=babel_locale())
