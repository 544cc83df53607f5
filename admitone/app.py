"""The application factory: settings, database, routers, error handlers, middleware."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from admitone import domains, health
from admitone.api_docs import install_api_docs
from admitone.config import Environment, Settings, get_settings
from admitone.db import Database
from admitone.deps import close_unit_of_work_threads
from admitone.error_handlers import install_error_handlers
from admitone.events.api import MULTIPART_OVERHEAD
from admitone.jobs import install_runner
from admitone.jobs.periodic import start_embedded_schedule
from admitone.jobs.runners import make_runner
from admitone.logging_config import configure_logging
from admitone.metrics.api import install_metrics, start_gauge_sampler
from admitone.middleware import ConcurrencyGateMiddleware, RequestContextMiddleware
from admitone.ratelimit import RateLimiter
from admitone.request_limits import BodyLimit, RequestBodyLimitMiddleware
from admitone.web import install_web

API_PREFIX = "/api/v1"

DESCRIPTION = """
Admit One sells tickets and admits people at the gate.

* **Errors** are always `{"error": {"code", "message", "details"}}` with a stable `code`.
* **Lists** answer `{"data": [...], "meta": {...}}`, single objects `{"data": {...}}`.
* **Authentication**: `POST /api/v1/auth/login` gives a 15-minute access token (send it as
  `Authorization: Bearer ...`) and a refresh token that works once.
* **Money** is in integer minor units (cents) beside the event's ISO currency.
"""


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    """Build the app; tests pass a shared ``database`` to reuse one connection pool."""
    settings = settings or get_settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    owns_database = database is None
    database = database or Database(settings.database_url, pool_size=settings.database_pool_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Sync routes run in this many threads per process. Fewer threads mean shorter
        # waits for the GIL while a transaction holds a hot row lock; scale with workers.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        if database.is_sqlite and settings.migrate_on_start:
            from admitone.migrate import upgrade_database

            upgrade_database(settings.database_url)
        # Committed jobs go to Celery (ADMITONE_REDIS_URL) or to in-process threads.
        runner = make_runner(settings, database)
        previous_runner = install_runner(runner)
        # The domains' periodic jobs (hold sweep, reminders, catch-ups): beat runs them with
        # Redis, these loops without (jobs/periodic.py).
        periodic_loops = start_embedded_schedule(runner, settings)
        # Several serving processes: each writes its gauges for the scraped one (metrics).
        gauge_sampler = start_gauge_sampler(settings, database)
        yield
        if gauge_sampler is not None:
            await asyncio.to_thread(gauge_sampler.stop, settings)
        for loop in periodic_loops:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        # Units of work in flight first (they may still enqueue jobs), then the runner:
        # it finishes in-process jobs in flight, or sends the queued ones to Redis.
        await asyncio.to_thread(close_unit_of_work_threads, app)
        await asyncio.to_thread(runner.close)
        install_runner(previous_runner)
        if owns_database:
            database.dispose()

    # FastAPI's own documentation routes are off: install_api_docs adds them last, when on.
    app = FastAPI(
        title="Admit One",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.rate_limiter = RateLimiter(settings)

    install_error_handlers(app)
    # The domains' JSON routes first (admitone/domains.py): Starlette tries routes in the
    # order they were added, and these are the busiest. The order is for speed only.
    for router in domains.api_routers():
        app.include_router(router, prefix=API_PREFIX)
    # Added first, so innermost: the access log still times the wait at the gate.
    app.add_middleware(ConcurrencyGateMiddleware, limit=settings.worker_threads)
    # Outside the gate: an oversized body is refused without waiting for a slot. Inside
    # the request context: the refusal has its request id, headers and access-log line.
    app.add_middleware(
        RequestBodyLimitMiddleware,
        max_bytes=settings.max_request_body_bytes,
        timeout_seconds=settings.request_body_timeout_seconds,
        route_limits=upload_body_limits(settings),
    )
    # GET /metrics and the request counts, outside the gate (their time includes the wait)
    # and the body limit (its refusals are counted too).
    install_metrics(app, settings)
    app.add_middleware(RequestContextMiddleware, hsts=settings.env == Environment.production)

    app.include_router(health.router)
    # The web front (/static, the language middleware, HTML error pages), then the
    # domains' pages.
    install_web(app)
    for router in domains.page_routers():
        app.include_router(router)

    settings.media_dir.mkdir(parents=True, exist_ok=True)
    app.mount("/media", StaticFiles(directory=settings.media_dir), name="media")
    if settings.api_docs_on:
        # ADMITONE_API_DOCS_ENABLED=false (the production default): /docs, /redoc and
        # /openapi.json are not routes at all, so they answer 404 like any unknown path.
        install_api_docs(app)
    return app


def upload_body_limits(settings: Settings) -> list[BodyLimit]:
    """The routes that take a larger body than ADMITONE_MAX_REQUEST_BODY_BYTES: the image
    uploads (the image plus its multipart envelope; the route checks the image itself)."""
    image_upload_limit = settings.max_image_bytes + MULTIPART_OVERHEAD
    return [
        BodyLimit(
            method="PUT",
            path=re.compile(rf"^{API_PREFIX}/organizations/[^/]+/events/[^/]+/image$"),
            max_bytes=max(image_upload_limit, settings.max_request_body_bytes),
        ),
        # An artist's picture (lineup/api.py).
        BodyLimit(
            method="PUT",
            path=re.compile(
                rf"^{API_PREFIX}/organizations/[^/]+/events/[^/]+/artists/[^/]+/image$"
            ),
            max_bytes=max(image_upload_limit, settings.max_request_body_bytes),
        ),
        # The organizer's page form posts the same image (web/pages/organizer.py).
        BodyLimit(
            method="POST",
            path=re.compile(r"^/organizer/[^/]+/events/[^/]+/image$"),
            max_bytes=max(image_upload_limit, settings.max_request_body_bytes),
        ),
        # An artist's picture, from the lineup page's form (web/pages/organizer_lineup.py).
        BodyLimit(
            method="POST",
            path=re.compile(r"^/organizer/[^/]+/events/[^/]+/lineup/artists/[^/]+/image$"),
            max_bytes=max(image_upload_limit, settings.max_request_body_bytes),
        ),
    ]
