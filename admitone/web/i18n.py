"""Translations for the web pages (gettext catalogues through Babel).

The catalogues live in ``admitone/web/locale/<lang>/LC_MESSAGES/messages.po`` and are
compiled in memory when first needed, so a fresh clone needs no build step and a stale
``.mo`` can never shadow the ``.po``. The language of a request is, in order: the
``admitone_lang`` cookie (set by the language switcher), the browser's
``Accept-Language``, English. ``LocaleMiddleware`` puts it in a context variable that
``gettext`` reads, so templates and page code translate without passing it around.
"""

from __future__ import annotations

import functools
import gettext as gettext_module
import io
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from starlette.types import ASGIApp, Receive, Scope, Send

from admitone import languages

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
DEFAULT_LOCALE = languages.DEFAULT
SUPPORTED_LOCALES = languages.SUPPORTED
LANGUAGE_COOKIE = "admitone_lang"

_current_locale: ContextVar[str] = ContextVar("admitone_locale", default=DEFAULT_LOCALE)


@functools.cache
def translations(locale: str) -> gettext_module.NullTranslations:
    """The compiled catalogue of ``locale`` (English is the source language)."""
    po_path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == DEFAULT_LOCALE or not po_path.exists():
        return gettext_module.NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext_module.GNUTranslations(buffer)


def current_locale() -> str:
    return _current_locale.get()


def set_locale(locale: str) -> None:
    _current_locale.set(locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE)


def gettext(message: str, **variables: Any) -> str:
    text = translations(current_locale()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    text = translations(current_locale()).ngettext(singular, plural, n)
    variables.setdefault("num", n)
    return text % variables


_ = gettext


def babel_locale() -> Locale:
    return Locale.parse(current_locale())


def negotiate_locale(*, cookie: str | None, accept_language: str | None) -> str:
    if cookie in SUPPORTED_LOCALES:
        return cookie
    if accept_language:
        chosen = languages.parse_accept_language(accept_language)
        if chosen:
            return chosen
    return DEFAULT_LOCALE


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    for part in raw.split(";"):
        key, _sep, value = part.strip().partition("=")
        if key == name:
            return value
    return None


class LocaleMiddleware:
    """Choose the language of each HTTP request and expose it to ``gettext``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            locale = negotiate_locale(
                cookie=_cookie(scope, LANGUAGE_COOKIE),
                accept_language=_header(scope, b"accept-language"),
            )
            token = _current_locale.set(locale)
            scope.setdefault("state", {})["locale"] = locale
            try:
                await self.app(scope, receive, send)
            finally:
                _current_locale.reset(token)
            return
        await self.app(scope, receive, send)
