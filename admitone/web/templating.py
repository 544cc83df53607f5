"""The Jinja2 environment of the pages and the one ``render`` every page goes through."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from admitone.config import Settings
from admitone.web import formatting, i18n, sharing
from admitone.web.compression import COMPRESSIBLE_HEADER
from admitone.web.messages import flash_is_warning, flash_text
from admitone.web.security import csrf_token, set_csrf_cookie_if_new

WEB_DIR = Path(__file__).parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

LANGUAGE_NAMES = {"en": "English", "fr": "Français"}


@functools.cache
def static_version(path: str) -> str:
    """The content hash a static file's address carries (``static_url``)."""
    try:
        return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]
    except OSError:
        return "0"


def static_url(path: str) -> str:
    """``/static/<path>?v=<content hash>``: long caching without stale files."""
    return f"/static/{path}?v={static_version(path)}"


def _gettext(message: str) -> str:
    return i18n.translations(i18n.current_locale()).gettext(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return i18n.translations(i18n.current_locale()).ngettext(singular, plural, n)


def _query(base: dict[str, Any], **changes: Any) -> str:
    """The query string of ``base`` with ``changes`` (None removes a key)."""
    merged = {**base, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")})


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html", "xml", "svg"]),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(gettext=_gettext, ngettext=_ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        static_url=static_url,
        language_names=LANGUAGE_NAMES,
        supported_locales=i18n.SUPPORTED_LOCALES,
        query=_query,
        flash_text=flash_text,
        flash_is_warning=flash_is_warning,
        time_range=formatting.time_range,
        currency_digits=formatting.currency_digits,
    )
    env.filters.update(
        money=formatting.money,
        number=formatting.number,
        percent_of_bp=formatting.percent_of_bp,
        datetime_in=formatting.datetime_in,
        date_in=formatting.date_in,
        time_in=formatting.time_in,
        zone_name=formatting.zone_name,
        input_datetime=formatting.input_datetime,
        iso=formatting.iso,
        linkify=sharing.linkify,
    )
    return env


environment = build_environment()


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    compressible: bool = False,
) -> HTMLResponse:
    """Render ``template`` with the common context (user, CSRF token, language, path).

    ``compressible``: the page holds no secret but the CSRF token, so it may travel
    gzip-compressed; only to a visitor who is not logged in, as the header names whoever
    is (``web/compression.py`` says why only such pages)."""
    settings: Settings = request.app.state.settings
    login = getattr(request.state, "web_login", None)
    values: dict[str, Any] = {
        "request": request,
        "login": login,
        "user": login.user if login else None,
        "csrf_token": csrf_token(request, settings),
        "locale": i18n.current_locale(),
        "current_path": request.url.path,
        "current_url": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "flash": request.query_params.get("flash", ""),
    }
    values.update(context or {})
    html = environment.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers.setdefault("cache-control", "no-store")
    if compressible and login is None:
        response.headers[COMPRESSIBLE_HEADER] = "1"
    set_csrf_cookie_if_new(response, request, settings)
    return response
