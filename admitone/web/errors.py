"""Friendly HTML error pages for browser requests (the API keeps its JSON errors).

``admitone.error_handlers`` asks ``render_error_page`` first for every error; it answers
only for requests outside ``/api/`` whose ``Accept`` asks for HTML, and returns None
otherwise so the JSON body is sent.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from admitone.errors import DomainError
from admitone.web import i18n
from admitone.web.i18n import _
from admitone.web.messages import error_text
from admitone.web.templating import render

TITLES = {
    403: lambda: _("Access denied"),
    404: lambda: _("Page not found"),
    500: lambda: _("Something went wrong"),
}


def wants_html(request: Request) -> bool:
    if request.url.path.startswith("/api/") or request.url.path.startswith("/static/"):
        return False
    return "text/html" in request.headers.get("accept", "")


def way_back(request: Request) -> str | None:
    """Where the person was before this error: the page that linked here or posted the
    form (``Referer``), if it is a page of this site other than the one that failed."""
    referer = request.headers.get("referer", "")
    if not referer:
        return None
    parts = urlsplit(referer)
    if parts.netloc != request.url.netloc or parts.scheme not in ("http", "https"):
        return None  # another site (or a forged value): no link out of here
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//") or path.startswith("/api/"):
        return None
    back = path + (f"?{parts.query}" if parts.query else "")
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if back == here and request.method in ("GET", "HEAD"):
        return None  # reloading the page that failed helps nobody
    return back


def render_refusal(
    request: Request, exc: DomainError, *, title: str, message: str, back_url: str
) -> Response:
    """The error page for a refusal that a page catches itself, with the way back to the
    page the action belongs to (the Referer may be another page)."""
    return render(
        request,
        "error.html",
        {
            "status": exc.status,
            "title": title,
            "message": message,
            "code": exc.code,
            "back_url": back_url,
        },
        status_code=exc.status,
    )


def render_error_page(
    request: Request,
    *,
    status: int,
    code: str,
    headers: dict[str, str] | None = None,
) -> Response | None:
    if not wants_html(request):
        return None
    # A 500 is rendered outside the language middleware: choose the language again.
    i18n.set_locale(
        getattr(request.state, "locale", None)
        or i18n.negotiate_locale(
            cookie=request.cookies.get(i18n.LANGUAGE_COOKIE),
            accept_language=request.headers.get("accept-language"),
        )
    )
    if status == 401 and request.method in ("GET", "HEAD"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    if status == 401:
        return RedirectResponse("/login", status_code=303)
    if code == "TWO_FACTOR_SETUP_REQUIRED":  # platform admins: set it up before anything else
        return RedirectResponse("/account/security?flash=two_factor_admin", status_code=303)
    title_factory = TITLES.get(status)
    title = title_factory() if title_factory else _("We could not do that")
    try:
        return render(
            request,
            "error.html",
            {
                "status": status,
                "title": title,
                "message": error_text(code, status),
                "code": code,
                "back_url": way_back(request),
            },
            status_code=status,
            headers=headers,
        )
    except Exception:  # the error page must never fail: fall back to plain HTML
        return Response(
            f"<!doctype html><title>{status}</title><h1>{status}</h1>",
            status_code=status,
            media_type="text/html",
        )
