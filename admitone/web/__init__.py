"""The server-rendered web front: pages for buyers, organizers and gate staff.

Page handlers live in ``web/pages/``; they parse the form, call the same service
functions as the JSON API and render a template. ``install_web`` wires the front into
the application (language middleware, static files, HTML error pages); the app mounts
the page routers, which each domain registers in ``admitone/domains.py``.
"""

from __future__ import annotations

from fastapi import FastAPI

from admitone.web.compression import PageCompressionMiddleware
from admitone.web.errors import render_error_page
from admitone.web.i18n import LocaleMiddleware
from admitone.web.static_files import static_files_app


def install_web(app: FastAPI) -> None:
    app.add_middleware(LocaleMiddleware)
    app.add_middleware(PageCompressionMiddleware)
    app.state.html_error_renderer = render_error_page
    app.mount("/static", static_files_app(), name="static")
