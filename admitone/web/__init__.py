"""The server-rendered web front: pages for buyers, organizers and gate staff.

Page handlers live in ``web/pages/``; they parse the form, call the same service
functions as the JSON API and render a template. ``install_web`` wires the front into
the application (language middleware, static files, page routers, HTML error pages).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from admitone.web.errors import render_error_page
from admitone.web.i18n import LocaleMiddleware
from admitone.web.templating import STATIC_DIR


def install_web(app: FastAPI) -> None:
    from admitone.web.pages import page_routers

    app.add_middleware(LocaleMiddleware)
    app.state.html_error_renderer = render_error_page
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in page_routers():
        app.include_router(router)
