"""The relay's ASGI app: the gates' scanning API, served from the relay's own SQLite
file (docs/gates.md, "Site relay").

Same paths, bodies and answers as upstream for what a gate needs: the scan, the bundle,
batches of offline scans, and pairing a device (forwarded upstream); plus
``GET /relay/status``. Anything else is a 404 ``NOT_RELAYED``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from admitone.checkin.schemas import (
    BatchIn,
    BatchOut,
    BundleOut,
    DeviceIn,
    ScanIn,
    ScanOut,
)
from admitone.db import Database
from admitone.error_handlers import install_error_handlers
from admitone.errors import NotAuthenticated, error_responses
from admitone.relay.errors import NotRelayed, UpstreamUnavailable
from admitone.relay.settings import RelaySettings
from admitone.relay.store import Client, RelayStore
from admitone.relay.sync import TIMEOUT, Syncer
from admitone.request_limits import RequestBodyLimitMiddleware
from admitone.schemas import DataResponse

_bearer = HTTPBearer(auto_error=False)


def _client(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Client:
    """The gate device (or the relay itself) behind the bearer token: 401 otherwise."""
    if credentials is None:
        raise NotAuthenticated()
    store: RelayStore = request.app.state.relay_store
    return store.client_of(credentials.credentials)


Caller = Annotated[Client, Depends(_client)]
EventId = Annotated[uuid.UUID, Path(description="The relay's event")]


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
    pairing; ``syncer``, when given, runs in the background while the app serves."""

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
    # Bounded as upstream's requests are: a body larger than a full batch, or one that
    # trickles in, is refused before a route reads it.
    app.add_middleware(
        RequestBodyLimitMiddleware,
        max_bytes=MAX_REQUEST_BODY_BYTES,
        timeout_seconds=REQUEST_BODY_TIMEOUT_SECONDS,
    )
    app.state.relay_store = store

    @app.post(
        "/api/v1/events/{event_id}/checkins", responses=error_responses(401, 404, 409, 422, 503)
    )
    def scan(event_id: EventId, body: ScanIn, caller: Caller) -> DataResponse[ScanOut]:
        outcome = store.scan(
            client=caller,
            event_id=event_id,
            qr=body.qr,
            list_id=body.list_id,
            kind=body.kind,
            nonce=body.nonce,
            gate=body.gate,
        )
        return DataResponse(data=ScanOut.from_outcome(outcome))

    @app.get("/api/v1/scan/bundle", responses=error_responses(401, 422, 503))
    def bundle(
        caller: Caller, cursor: Annotated[str | None, Query(max_length=1000)] = None
    ) -> DataResponse[BundleOut]:
        page = store.bundle_page(client=caller, cursor=cursor)
        return DataResponse(data=BundleOut.model_validate(page))

    @app.post("/api/v1/scan/batches", responses=error_responses(401, 422, 503))
    def batches(body: BatchIn, caller: Caller) -> DataResponse[BatchOut]:
        answer = store.record_batch(
            client=caller,
            device_time=body.device_time,
            scans=body.read_scans(),
        )
        return DataResponse(data=BatchOut.from_answer(answer))

    @app.post(
        "/api/v1/events/{event_id}/devices",
        status_code=201,
        responses=error_responses(401, 403, 404, 422, 503),
    )
    def pair_device(event_id: EventId, body: DeviceIn, request: Request) -> JSONResponse:
        # Forwarded with the caller's own login: upstream checks who may pair. The relay
        # keeps the new token's hash, to know the device while upstream is out of reach.
        headers = {}
        if "authorization" in request.headers:
            headers["Authorization"] = request.headers["authorization"]
        try:
            answer = upstream.post(
                f"/api/v1/events/{event_id}/devices", json=body.model_dump(), headers=headers
            )
        except httpx.HTTPError:
            raise UpstreamUnavailable(retry_after=5) from None
        content = answer.json()
        if answer.status_code == 201:
            store.add_device(token=content["data"]["token"], device=content["data"])
        return JSONResponse(content, status_code=answer.status_code)

    @app.get("/relay/status")
    def status() -> dict[str, Any]:
        data = store.status()
        if syncer is not None:
            data["upstream"] = {
                "reachable": syncer.link.reachable,
                "last_error": syncer.link.last_error,
                "last_try_at": syncer.link.last_try_at,
            }
        return {"data": data}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.api_route(
        "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
    )
    def not_relayed(path: str) -> None:
        raise NotRelayed(path=f"/{path}")

    return app


def build_relay(settings: RelaySettings) -> FastAPI:
    """The relay as ``admitone relay`` runs it: its SQLite file, its upstream client, its
    sync thread."""
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
