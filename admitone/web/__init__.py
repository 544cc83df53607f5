"""The server-rendered web front: pages for buyers, organizers and gate staff.

Page handlers live in ``web/pages/``; they parse the form, call the same service
functions as the JSON API and render a template. ``install_web`` wires the front into
the application (language middleware, static files, page routers, HTML error pages).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from admitone.routing import move_routes_first
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
    _prefer_web_test_provider_page(app)


def _prefer_web_test_provider_page(app: FastAPI) -> None:
    """Serve the site-styled test provider page before the bare one of payments/pages.py.

    Both call the same ``payments.service`` functions; Starlette takes the first route
    that matches, so the web front's ``/pay/test`` routes move to the front.
    """
    from admitone.web.pages import checkout

    def is_ours(route: object) -> bool:
        # FastAPI keeps an included router as one route object wrapping the original.
        return getattr(route, "original_router", None) is checkout.test_provider or (
            getattr(getattr(route, "endpoint", None), "__module__", "") == checkout.__name__
            and getattr(route, "path", "").startswith("/pay/test")
        )

    move_routes_first(app, is_ours)
