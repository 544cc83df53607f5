"""The relay's JSON routes: the gates' scanning API, served from the relay's own SQLite
file (docs/gates.md, "Site relay").

Same paths, bodies and answers as upstream for what a gate needs: the scan, the bundle,
batches of offline scans; pairing a device, and the login a browser pairs with, are
forwarded upstream. Plus ``GET /relay/status``. The app around them (``relay/app.py``)
answers anything else with a 404 ``NOT_RELAYED``.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

import httpx
import structlog
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from admitone.accounts.schemas import LoginIn
from admitone.checkin.schemas import (
    BatchIn,
    BatchOut,
    BundleOut,
    DeviceIn,
    ScanIn,
    ScanOut,
)
from admitone.errors import NotAuthenticated, error_responses
from admitone.relay.errors import UpstreamUnavailable
from admitone.relay.store import Client, RelayStore
from admitone.relay.sync import Syncer
from admitone.request_limits import BodyLimit
from admitone.schemas import DataResponse
from admitone.twofactor.schemas import SecondFactorIn

log = structlog.get_logger(__name__)

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

# The upstream routes the relay forwards, and nothing else: pairing a device, and the
# login a browser at the relay pairs with (logged in, paired, logged out at once). Their
# bodies are small: a tighter limit than the batches' (relay/app.py).
FORWARDED_BODY_LIMITS = [
    BodyLimit(
        method="POST",
        path=re.compile(r"^/api/v1/(auth/login|auth/login/second-factor|auth/logout)$"),
        max_bytes=16 * 1024,
    ),
    BodyLimit(
        method="POST", path=re.compile(r"^/api/v1/events/[^/]+/devices$"), max_bytes=16 * 1024
    ),
]
# Upstream's answer headers worth passing on (a 429's or a 503's wait).
_PASSED_HEADERS = ("retry-after",)


def _forward(
    upstream: httpx.Client,
    path: str,
    *,
    body: dict[str, Any] | None,
    request: Request,
) -> tuple[int, Any, dict[str, str]]:
    """POST ``body`` to upstream's ``path`` with the caller's ``Authorization``: upstream's
    status, JSON body (None for a 204) and the headers worth passing on. Upstream out of
    reach, or an answer that is not upstream's (a proxy's error page): 503
    ``UPSTREAM_UNAVAILABLE``. Nothing of the bodies is logged: they hold passwords."""
    headers = {}
    if "authorization" in request.headers:
        headers["Authorization"] = request.headers["authorization"]
    try:
        answer = upstream.post(path, json=body, headers=headers)
    except httpx.HTTPError as exc:
        log.warning("relay_forward_failed", path=path, error=type(exc).__name__)
        raise UpstreamUnavailable(retry_after=5) from None
    passed = {name: answer.headers[name] for name in _PASSED_HEADERS if name in answer.headers}
    if answer.status_code == 204:
        return 204, None, passed
    try:
        content = answer.json()
    except ValueError:
        log.warning("relay_forward_failed", path=path, status=answer.status_code)
        raise UpstreamUnavailable(retry_after=5) from None
    return answer.status_code, content, passed


def _without_refresh_token(content: Any) -> Any:
    """A login's answer without its refresh token: the browser pairing at the relay needs
    the access token for a few seconds, then ends the login; a token that could renew it
    for days has no business there."""
    tokens = content.get("data", {}).get("tokens") if isinstance(content, dict) else None
    if isinstance(tokens, dict):
        tokens.pop("refresh_token", None)
    return content


def relay_router(*, store: RelayStore, upstream: httpx.Client, syncer: Syncer | None) -> APIRouter:
    """The relay's JSON routes over ``store``; ``upstream`` (base URL: upstream) is where
    pairing and its login are forwarded; ``syncer`` reports the link in the status."""
    router = APIRouter()

    @router.post(
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

    @router.get("/api/v1/scan/bundle", responses=error_responses(401, 422, 503))
    def bundle(
        caller: Caller, cursor: Annotated[str | None, Query(max_length=1000)] = None
    ) -> DataResponse[BundleOut]:
        page = store.bundle_page(client=caller, cursor=cursor)
        return DataResponse(data=BundleOut.model_validate(page))

    @router.post("/api/v1/scan/batches", responses=error_responses(401, 422, 503))
    def batches(body: BatchIn, caller: Caller) -> DataResponse[BatchOut]:
        answer = store.record_batch(
            client=caller,
            device_time=body.device_time,
            scans=body.read_scans(),
        )
        return DataResponse(data=BatchOut.from_answer(answer))

    @router.post(
        "/api/v1/events/{event_id}/devices",
        status_code=201,
        responses=error_responses(401, 403, 404, 422, 503),
    )
    def pair_device(event_id: EventId, body: DeviceIn, request: Request) -> JSONResponse:
        # Forwarded with the caller's own login: upstream checks who may pair. The relay
        # keeps the new token's hash, to know the device while upstream is out of reach.
        status, content, headers = _forward(
            upstream, f"/api/v1/events/{event_id}/devices", body=body.model_dump(), request=request
        )
        if status == 201:
            store.add_device(token=content["data"]["token"], device=content["data"])
        return JSONResponse(content, status_code=status, headers=headers)

    # A browser at the relay pairs with its member's upstream login (web/pages/
    # relay_scanner.py, js/scanner-offline.js): these three are forwarded as upstream's
    # own, checked first with upstream's own schemas. Upstream's refusals (a wrong
    # password's 401, a 429) are passed on as they are.
    @router.post("/api/v1/auth/login", responses=error_responses(400, 401, 422, 429, 503))
    def login(body: LoginIn, request: Request) -> JSONResponse:
        status, content, headers = _forward(
            upstream, "/api/v1/auth/login", body=body.model_dump(), request=request
        )
        return JSONResponse(_without_refresh_token(content), status_code=status, headers=headers)

    @router.post(
        "/api/v1/auth/login/second-factor", responses=error_responses(400, 401, 422, 429, 503)
    )
    def login_second_factor(body: SecondFactorIn, request: Request) -> JSONResponse:
        status, content, headers = _forward(
            upstream,
            "/api/v1/auth/login/second-factor",
            body=body.model_dump(mode="json", exclude_none=True),
            request=request,
        )
        return JSONResponse(_without_refresh_token(content), status_code=status, headers=headers)

    @router.post("/api/v1/auth/logout", status_code=204, responses=error_responses(401, 503))
    def logout(request: Request) -> Response:
        status, content, headers = _forward(
            upstream, "/api/v1/auth/logout", body=None, request=request
        )
        if content is None:
            return Response(status_code=status, headers=headers)
        return JSONResponse(content, status_code=status, headers=headers)

    @router.get("/relay/status")
    def status() -> dict[str, Any]:
        data = store.status()
        if syncer is not None:
            data["upstream"] = {
                "reachable": syncer.link.reachable,
                "last_error": syncer.link.last_error,
                "last_try_at": syncer.link.last_try_at,
            }
        return {"data": data}

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return router
