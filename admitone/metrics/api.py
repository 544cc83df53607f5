"""``GET /metrics`` for Prometheus: who may scrape, the gauges sampled, the exposition.

Access (the one place it is decided, ``metrics_access``): with ``ADMITONE_METRICS_TOKEN``
the scraper sends ``Authorization: Bearer <token>``; with
``ADMITONE_METRICS_ALLOWED_NETWORKS`` it must come from one of them; with both, both.
With neither, production answers 404 (metrics are off) and the other environments
allow loopback clients only. The client address is the one uvicorn reports (behind a
proxy, the forwarded one only when the proxy is trusted: uvicorn's
``--forwarded-allow-ips``).
"""

from __future__ import annotations

import hmac
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from admitone import metrics
from admitone.config import Environment, Settings
from admitone.db import Database
from admitone.errors import NotAuthenticated, NotFound, PermissionDenied, error_responses
from admitone.jobs import current_runner
from admitone.metrics.middleware import MetricsMiddleware

log = structlog.get_logger(__name__)

LOOPBACK = (ip_network("127.0.0.0/8"), ip_network("::1/128"))
# Multiprocess mode: how often each process writes its gauges (pool, in-process queue)
# for the scraped process to read. Scrapers ask every 15 s or so.
SAMPLE_INTERVAL_SECONDS = 5.0
# The Redis queue length is asked at each scrape; a slow Redis must not hold it up.
REDIS_TIMEOUT_SECONDS = 1.0

router = APIRouter(tags=["operations"])


def metrics_enabled(settings: Settings) -> bool:
    """Off in production unless a token or networks say who may scrape."""
    return (
        settings.env != Environment.production
        or settings.metrics_token is not None
        or bool(settings.metrics_allowed_networks)
    )


def _allowed_networks(settings: Settings) -> tuple[IPv4Network | IPv6Network, ...]:
    if settings.metrics_allowed_networks:
        return tuple(settings.metrics_allowed_networks)
    if settings.metrics_token is not None:
        return ()  # the token alone decides
    return LOOPBACK


def _from_allowed_network(host: str | None, networks: tuple[Any, ...]) -> bool:
    try:
        address = ip_address(host or "")
    except ValueError:
        return False  # no address, or a name (test clients): not in any network
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.1 on a dual-stack socket
    return any(address in network for network in networks)


def _bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def metrics_access(request: Request) -> None:
    """Who may read /metrics (module docstring): 404 when off, 403 from another
    network, 401 without the right token."""
    settings: Settings = request.app.state.settings
    if not metrics_enabled(settings):
        raise NotFound("Not found.")
    networks = _allowed_networks(settings)
    if networks and not _from_allowed_network(
        request.client.host if request.client else None, networks
    ):
        raise PermissionDenied("Metrics are not served to this network.")
    if settings.metrics_token is not None:
        sent = _bearer_token(request)
        expected = settings.metrics_token.get_secret_value()
        if sent is None or not hmac.compare_digest(sent.encode(), expected.encode()):
            raise NotAuthenticated("A valid metrics bearer token is required.")


MetricsAccess = Annotated[None, Depends(metrics_access)]


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "The metrics"},
        **error_responses(401, 403, 404),
    },
)
def get_metrics(request: Request, _access: MetricsAccess) -> Response:
    settings: Settings = request.app.state.settings
    sample_gauges(request.app.state.db)
    sample_redis_queue(settings)
    return Response(exposition(settings), media_type=CONTENT_TYPE_LATEST)


def exposition(settings: Settings) -> bytes:
    """This process's metrics, or all serving processes' in multiprocess mode."""
    if settings.prometheus_multiproc_dir is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(settings.prometheus_multiproc_dir))
    return generate_latest(registry)


def sample_gauges(database: Database) -> None:
    """This process's pool use and in-process job queue, into the gauges."""
    pool: Any = database.engine.pool
    checked_out = getattr(pool, "checkedout", None)
    size = getattr(pool, "size", None)
    metrics.DB_POOL_CHECKED_OUT.set(checked_out() if callable(checked_out) else 0)
    metrics.DB_POOL_SIZE.set(size() if callable(size) else 0)
    pending = getattr(current_runner(), "pending_jobs", None)
    metrics.JOBS_IN_PROCESS_QUEUED.set(pending() if callable(pending) else 0)


@lru_cache(maxsize=4)
def _redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(
        url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
    )


def sample_redis_queue(settings: Settings) -> None:
    """Celery mode: the length of the jobs' Redis list (kombu keeps a queue as a list
    named after it). Unknown (NaN) when Redis does not answer: a scrape never fails."""
    if not settings.redis_url:
        return
    from admitone.jobs.celery_app import QUEUE

    try:
        length = float(_redis_client(settings.redis_url).llen(QUEUE))
    except Exception as exc:  # a metric is not worth a 500
        log.warning("metrics: Redis queue length unknown", error=repr(exc))
        length = float("nan")
    metrics.JOBS_REDIS_QUEUE_LENGTH.set(length)


@dataclass
class GaugeSampler:
    """Multiprocess mode: writes this process's gauges every few seconds, so that the
    process that answers a scrape reads every process's recent values. Off the hot path
    (a thread of its own); stopped at shutdown, when this process's live gauges go."""

    database: Database
    interval_seconds: float = SAMPLE_INTERVAL_SECONDS

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="admitone-metrics-sampler", daemon=True
        )

    def start(self) -> GaugeSampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            try:
                sample_gauges(self.database)
            except Exception as exc:  # never let the sampler die quietly half-way
                log.warning("metrics: gauges not sampled", error=repr(exc))
            if self._stop.wait(self.interval_seconds):
                return

    def stop(self, settings: Settings) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if settings.prometheus_multiproc_dir is not None:
            # This process's "live" gauges stop counting (its counters still do).
            mark_process_dead(os.getpid(), path=str(settings.prometheus_multiproc_dir))


def install_metrics(app: FastAPI, settings: Settings) -> None:
    """The /metrics route and the request-counting middleware, when metrics are on.

    Off (production with neither a token nor networks), nothing is added: the route is
    the app's usual 404 and requests cost nothing more.
    """
    if not metrics_enabled(settings):
        return
    app.add_middleware(MetricsMiddleware)
    app.include_router(router)


def start_gauge_sampler(settings: Settings, database: Database) -> GaugeSampler | None:
    """The sampler thread, in multiprocess mode with metrics on (app lifespan)."""
    if settings.prometheus_multiproc_dir is None or not metrics_enabled(settings):
        return None
    return GaugeSampler(database).start()
