"""Checks on event fields shared by the request schemas and the services.

The schemas use them so that a bad field is reported with its name; the services use
them again because the CLI, the demo data and the pages call the services directly.
"""

from __future__ import annotations

import functools
import uuid
import zoneinfo
from datetime import datetime

import pycountry

from admitone.events.models import MAX_OFFLINE_TICKET_LIMIT

# ISO 4217 codes that are not money a ticket can be priced in: precious metals, the
# IMF's drawing rights, bond-market units, "testing" and "no currency".
NON_MONEY_CURRENCIES = frozenset(
    {"XAG", "XAU", "XPD", "XPT", "XDR", "XSU", "XUA", "XBA", "XBB", "XBC", "XBD", "XTS", "XXX"}
)

# Far enough for any real event, near enough that converting to UTC never overflows.
EARLIEST_YEAR = 2000
LATEST_YEAR = 2200


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@functools.cache
def _currencies() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies) - NON_MONEY_CURRENCIES


@functools.cache
def _countries() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


def known_countries() -> frozenset[str]:
    """The ISO 3166 alpha-2 codes an event may name: what the pages offer."""
    return _countries()


def known_currencies() -> frozenset[str]:
    """The ISO 4217 codes an event may be priced in: what the pages offer."""
    return _currencies()


def time_zone(value: str) -> str:
    # Looked up in the list rather than opened: ZoneInfo("../x") would touch the disk.
    if value not in _time_zones():
        raise ValueError(f"unknown IANA time zone {value!r}, e.g. 'Europe/Paris'")
    return value


def currency(value: str) -> str:
    value = value.upper()
    if value not in _currencies():
        raise ValueError(f"unknown ISO 4217 currency {value!r}, e.g. 'EUR'")
    return value


def country(value: str) -> str:
    value = value.upper()
    if value not in _countries():
        raise ValueError(f"unknown ISO 3166 alpha-2 country {value!r}, e.g. 'FR'")
    return value


def iso_string(value: object) -> object:
    # Pydantic would read a bare number as a Unix timestamp; ask for ISO 8601 text.
    if isinstance(value, int | float):
        raise ValueError("must be an ISO 8601 datetime string with an offset")
    return value


def aware_datetime(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must include a time zone offset, e.g. '2026-06-21T20:00:00+02:00'")
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


def event_slug(value: str) -> str:
    # /events/{id-or-slug} reads a UUID as an id, so a slug must never look like one.
    try:
        uuid.UUID(value)
    except ValueError:
        return value
    raise ValueError("a slug cannot be a UUID")


def offline_ticket_limit(value: int) -> int:
    """Up to how many tickets the offline bundle carries them all (0: never)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("offline_ticket_limit must be a whole number")
    if not 0 <= value <= MAX_OFFLINE_TICKET_LIMIT:
        raise ValueError(f"offline_ticket_limit must be between 0 and {MAX_OFFLINE_TICKET_LIMIT}")
    return value
