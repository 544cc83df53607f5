"""The server-rendered web front: pages for buyers, organizers and gate staff.

Page handlers live in ``web/pages/``; they parse the form, call the same service
functions as the JSON API and render a template. ``install_web`` wires the front into
the application (language middleware, static files, HTML error pages); the app mounts
the page routers, which each domain registers in ``admitone/domains.py``.
``install_relay_web`` wires the one page a site relay serves, the gate scanner, into the
relay's app (``relay/app.py``).
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


def install_relay_web(app: FastAPI) -> None:
    """The browser scanner at a site relay (docs/gates.md, "Site relay"): the scanner page
    of the relay's event, the service worker and the manifest (upstream's own routes),
    and the shell's static files, no other. Pages speak the reader's language, from
    ``Accept-Language`` (the relay has no language switcher, so no cookie)."""
    # Here, not at the top: upstream's app never loads the relay's code.
    from admitone.web.pages import relay_scanner, scanner_shell

    app.add_middleware(LocaleMiddleware)
    app.mount("/static", static_files_app(only=scanner_shell.SHELL_FILES), name="static")
    app.include_router(scanner_shell.router)
    app.include_router(relay_scanner.router)
