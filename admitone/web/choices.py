"""The lists an organizer picks from instead of typing codes: countries, currencies and
time zones, named in the reader's language (CLDR, through Babel), the organization's
last choice first. ``<select>`` lists find an entry as its first letters are typed; the
time zone, with hundreds of entries, is a field with suggestions (``<datalist>``)."""

from __future__ import annotations

import functools
from zoneinfo import available_timezones

from babel import Locale
from babel.numbers import get_territory_currencies

from admitone.events.validators import known_countries, known_currencies
from admitone.web.i18n import babel_locale


def _first(options: list[tuple[str, str]], preferred: str | None) -> list[tuple[str, str]]:
    """``options`` with ``preferred`` (the organization's last choice) moved to the top."""
    chosen = [option for option in options if option[0] == preferred]
    return chosen + [option for option in options if option[0] != preferred]


@functools.cache
def _countries(locale: str) -> list[tuple[str, str]]:
    names = Locale.parse(locale).territories
    # Only the codes events accept (CLDR also names regions, "150", and "EU", "XK").
    return sorted(
        (
            (str(code), name)
            for code, name in names.items()
            if isinstance(code, str) and code in known_countries()
        ),
        key=lambda option: option[1].casefold(),
    )


def country_options(preferred: str | None = None) -> list[tuple[str, str]]:
    """(ISO 3166 code, "France (FR)") for every country, by name in the reader's language."""
    options = [(code, f"{name} ({code})") for code, name in _countries(str(babel_locale()))]
    return _first(options, preferred)


@functools.cache
def _tender_currencies() -> frozenset[str]:
    """The currencies some country uses today (no historic ones such as FRF)."""
    return frozenset(
        currency
        for territory, _name in _countries("en")
        for currency in get_territory_currencies(territory, tender=True)
    )


@functools.cache
def _currencies(locale: str) -> list[tuple[str, str]]:
    names = Locale.parse(locale).currencies
    return sorted(
        (
            (code, f"{names.get(code, code)} ({code})")
            for code in _tender_currencies() & known_currencies()
        ),
        key=lambda option: option[1].casefold(),
    )


def currency_options(preferred: str | None = None) -> list[tuple[str, str]]:
    """(ISO 4217 code, "Euro (EUR)") for every currency in use, by name."""
    return _first(_currencies(str(babel_locale())), preferred)


@functools.cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(zone for zone in available_timezones() if "/" in zone or zone == "UTC"))


def zone_suggestions(common: list[str], preferred: str | None = None) -> list[str]:
    """Every time zone for the field's suggestions: the last choice, then the common
    ones, then the rest by name."""
    known = set(_zones())
    first = [zone for zone in [preferred, *common] if zone in known]
    seen = set()
    ordered = []
    for zone in [*first, *_zones()]:
        if zone not in seen:
            seen.add(zone)
            ordered.append(zone)
    return ordered
