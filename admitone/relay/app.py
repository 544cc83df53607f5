"""The relay's ASGI app (docs/gates.md, "Site relay"): the gates' scanning API
(``relay/api.py``) and the browser scanner's app (``web.install_relay_web``: the scanner
page of the relay's event, its static files, service worker and manifest), under the same
request handling as upstream's (request ids, security headers and CSP, bounded bodies).

It is the relay's assembly, as ``app.py`` is upstream's, and so the one module outside
``admitone/web`` besides ``app.py`` that installs the web front (tests/test_layers.py).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from admitone.db import Database
from admitone.error_handlers import install_error_handlers
from admitone.logging_config import configure_logging
from admitone.middleware import RequestContextMiddleware
from admitone.relay.api import FORWARDED_BODY_LIMITS, relay_router
from admitone.relay.errors import NotRelayed
from admitone.relay.settings import RelaySettings
from admitone.relay.store import RelayStore
from admitone.relay.sync import TIMEOUT, Syncer
from admitone.request_limits import RequestBodyLimitMiddleware
from admitone.web import install_relay_web

# Upstream's defaults (config.Settings): a batch of 500 scans is about 200 kB.
MAX_REQUEST_BODY_BYTES = 1024 * 1024
REQUEST_BODY_TIMEOUT_SECONDS = 60.0


def create_relay_app(
    *,
    store: RelayStore,
    upstream: httpx.Client,
    syncer: Syncer | None = None,
    push_every: float = 1.0,
    pull_every: float = 10.0,
) -> FastAPI:
    """The relay's app over ``store``; ``upstream`` (base URL: upstream) forwards device
    pairing and its login; ``syncer``, when given, runs in the background while the app
    serves."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if syncer is not None:
            syncer.start(push_every=push_every, pull_every=pull_every)
        try:
            yield
        finally:
            if syncer is not None:
                syncer.stop()

    app = FastAPI(
        title="Admit One site relay",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_error_handlers(app)
    # Bounded as upstream's requests are: a body larger than a full batch (or than a
    # login, on the forwarded routes), or one that trickles in, is refused before a
    # route reads it.
    app.add_middleware(
        RequestBodyLimitMiddleware,
        max_bytes=MAX_REQUEST_BODY_BYTES,
        timeout_seconds=REQUEST_BODY_TIMEOUT_SECONDS,
        route_limits=FORWARDED_BODY_LIMITS,
    )
    # Upstream's request handling: a request id, one access-log line (no body), the
    # security headers and the CSP of every page (plain HTTP: no HSTS).
    app.add_middleware(RequestContextMiddleware, hsts=False)
    app.state.relay_store = store
    app.include_router(relay_router(store=store, upstream=upstream, syncer=syncer))
    install_relay_web(app)

    # Last: every other path. Routes are tried in order, so this one only takes what
    # nothing above matched.
    @app.api_route(
        "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
    )
    def not_relayed(path: str) -> None:
        raise NotRelayed(path=f"/{path}")

    return app


def build_relay(settings: RelaySettings) -> FastAPI:
    """The relay as ``admitone relay`` runs it: its SQLite file, its upstream client, its
    sync thread, JSON logs on stderr."""
    configure_logging(level="INFO", json=True)
    # Each sync's upstream calls are not news; their failures are (relay_sync_failed).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    database = Database(f"sqlite:///{settings.database.resolve()}", pool_size=20)
    store = RelayStore(database, event_id=settings.event)
    token = settings.token.get_secret_value()
    store.set_relay_token(token)
    upstream = httpx.Client(base_url=settings.upstream, timeout=TIMEOUT)
    syncer = Syncer(store, upstream, token=token)
    return create_relay_app(
        store=store,
        upstream=upstream,
        syncer=syncer,
        push_every=settings.push_every,
        pull_every=settings.pull_every,
    )
