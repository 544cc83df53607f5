"""Turning submitted HTML forms into the API's input models (same validation, same rules).

A page parses strings into the shapes the JSON API receives (aware datetimes, integers,
minor units), validates them with the domain's own pydantic schema and maps errors
back to the form's fields with translated messages.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision
from starlette.datastructures import FormData

from admitone.events import validators
from admitone.web.deps import form_str
from admitone.web.i18n import _


class FieldProblem(ValueError):
    """A form value that cannot even be parsed; carries the field and a translated text."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def zone_or_none(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(validators.time_zone(name))
    except (ValueError, KeyError):
        return None


def local_datetime(form: FormData, name: str, zone: ZoneInfo | None, *, required: bool) -> Any:
    """An ``<input type=datetime-local>`` read in ``zone``; None when empty and optional."""
    raw = form_str(form, name)
    if not raw:
        if required:
            raise FieldProblem(name, _("This field is required."))
        return None
    try:
        naive = datetime.fromisoformat(raw)
    except ValueError:
        raise FieldProblem(name, _("Enter a date and time.")) from None
    if naive.tzinfo is not None:
        return naive
    # With no valid zone the schema reports the time zone field; keep the value naive.
    return naive.replace(tzinfo=zone) if zone else naive


def whole_number(form: FormData, name: str, default: int | None = None) -> int:
    raw = form_str(form, name)
    if not raw and default is not None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise FieldProblem(name, _("Enter a whole number.")) from None


def money_minor(form: FormData, name: str, currency: str) -> int:
    """``"12.50"`` or ``"12,50"`` in ``currency`` -> 1250 minor units."""
    raw = form_str(form, name).replace(" ", "").replace("\u00a0", "")
    if not raw:
        raise FieldProblem(name, _("This field is required."))
    raw = raw.replace(",", ".")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise FieldProblem(name, _("Enter an amount, such as 25.00.")) from None
    if not amount.is_finite():
        raise FieldProblem(name, _("Enter an amount, such as 25.00."))
    digits = get_currency_precision(currency)
    minor = amount.scaleb(digits)
    if minor != minor.to_integral_value():
        raise FieldProblem(name, _("Too many decimals for this currency."))
    if minor < 0:
        raise FieldProblem(name, _("Enter a number of at least %(n)s.") % {"n": 0})
    if minor > 100_000_000:
        raise FieldProblem(name, _("This amount is too large."))
    return int(minor)


def minor_to_input(amount_minor: int, currency: str) -> str:
    digits = get_currency_precision(currency)
    return f"{Decimal(amount_minor).scaleb(-digits):.{digits}f}"


def percent_bp(form: FormData, name: str) -> int:
    """``"5.5"``, ``"5,5"`` or ``"20 %"`` -> basis points (550, 2000); empty is 0."""
    raw = form_str(form, name).replace(" ", "").replace("\u00a0", "").rstrip("%")
    if not raw:
        return 0
    try:
        percent = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        raise FieldProblem(name, _("Enter a percentage, such as 5.5 or 20.")) from None
    if not percent.is_finite() or not 0 <= percent <= 100:
        raise FieldProblem(name, _("Enter a percentage between 0 and 100."))
    basis_points = percent.scaleb(2)
    if basis_points != basis_points.to_integral_value():
        raise FieldProblem(name, _("Use at most two decimals."))
    return int(basis_points)


def bp_to_input(basis_points: int) -> str:
    """550 -> ``"5.5"``, 2000 -> ``"20"``: a rate as the form shows it."""
    return f"{Decimal(basis_points).scaleb(-2).normalize():f}"
