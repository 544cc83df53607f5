"""FastAPI dependencies shared by every router: session, settings, caller, organization,
buyer."""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from admitone.accounts import service as accounts
from admitone.accounts.models import User
from admitone.authorization import (
    ORDER_TOKEN_MAX_LENGTH,
    BuyerProof,
    OrgAccess,
    Permission,
    check_platform_admin_second_factor,
    resolve_access,
)
from admitone.config import Settings
from admitone.db import Database
from admitone.errors import NotAuthenticated
from admitone.ratelimit import RateLimiter
from admitone.tickets.signing import KeyRing

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# Dependencies without I/O are ``async def``: FastAPI runs a sync dependency in a
# thread-pool hop of its own, which costs more than the work itself.


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's unit of work (see Database.session).

    Opening the session does no I/O (it connects on first use), so only the commit or
    rollback at the end goes to a worker thread.
    """
    database: Database = request.app.state.db
    unit_of_work = database.session(write=request.method not in SAFE_METHODS)
    session = unit_of_work.__enter__()
    try:
        yield session
    except BaseException as exc:
        # Shielded: a client that disconnects must not leave the transaction open.
        with anyio.CancelScope(shield=True):
            suppressed = await anyio.to_thread.run_sync(
                unit_of_work.__exit__, type(exc), exc, exc.__traceback__
            )
        if not suppressed:
            raise
    else:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(unit_of_work.__exit__, None, None, None)


# scope="function": commit before the response is sent, so a client that got a 2xx can
# rely on the change being durable.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_database(request: Request) -> Database:
    """The app's database: for a read request that must make a first write in a short
    unit of work of its own (``cashless.wallets.my_wallet``, as ``KeyRing`` does)."""
    return request.app.state.db


DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_keyring(request: Request) -> KeyRing:
    """The ticket signing keys (tickets/signing.py): the ticket, check-in and event routes
    and the pages that show a QR code sign or verify with them."""
    return KeyRing(settings=request.app.state.settings, database=request.app.state.db)


KeyRingDep = Annotated[KeyRing, Depends(get_keyring)]

bearer_scheme = HTTPBearer(auto_error=False, description="Access token from /auth/login")


BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def caller_of(
    session: Session,
    request: Request,
    settings: Settings,
    credentials: HTTPAuthorizationCredentials | None,
    *,
    before_second_factor: bool = False,
) -> User | None:
    """The logged-in caller behind the bearer token, None without one; 401 for a bad one.

    A platform admin without a second factor may do nothing but set one up (403
    ``TWO_FACTOR_SETUP_REQUIRED``), unless ``before_second_factor`` (those routes).
    """
    if credentials is None:
        return None
    user, auth_session_id = accounts.user_for_access_token(
        session, token=credentials.credentials, settings=settings
    )
    request.state.auth_session_id = auth_session_id
    if not before_second_factor:
        check_platform_admin_second_factor(user)
    return user


def required_claims_of(
    request: Request, settings: Settings, credentials: HTTPAuthorizationCredentials | None
) -> tuple[uuid.UUID, uuid.UUID]:
    """The (user id, login session id) of the caller's bearer token, without reading the
    user: for a route whose own query checks them (checkin: the scan). 401 without one."""
    if credentials is None:
        raise NotAuthenticated()
    user_id, auth_session_id = accounts.access_token_claims(
        credentials.credentials, settings=settings
    )
    request.state.auth_session_id = auth_session_id
    return user_id, auth_session_id


def _caller(
    request: Request, session: SessionDep, settings: SettingsDep, credentials: BearerCredentials
) -> User | None:
    return caller_of(session, request, settings, credentials)


def _require_user(user: Annotated[User | None, Depends(_caller)]) -> User:
    if user is None:
        raise NotAuthenticated()
    return user


def _require_user_before_second_factor(
    request: Request, session: SessionDep, settings: SettingsDep, credentials: BearerCredentials
) -> User:
    user = caller_of(session, request, settings, credentials, before_second_factor=True)
    if user is None:
        raise NotAuthenticated()
    return user


OptionalUser = Annotated[User | None, Depends(_caller)]
CurrentUser = Annotated[User, Depends(_require_user)]
# The caller even if a platform admin without a second factor: for the routes that set
# one up, read the profile, or log out (twofactor/api.py).
CurrentUserBeforeSecondFactor = Annotated[User, Depends(_require_user_before_second_factor)]


def org_access(permission: Permission) -> Callable[..., OrgAccess]:
    """A dependency resolving ``{org}`` in the path to the caller's checked access."""

    def dependency(
        session: SessionDep,
        user: CurrentUser,
        org: Annotated[str, Path(max_length=80, description="Organization slug")],
    ) -> OrgAccess:
        return resolve_access(session, slug=org, user=user, permission=permission)

    return dependency


# The order token (authorization.BuyerProof), as the API takes it: the ``X-Order-Token``
# header, or ``?token=`` (the guest's link); the header wins when both are sent.
OrderTokenQuery = Annotated[
    str | None,
    Query(
        alias="token",
        min_length=1,
        max_length=ORDER_TOKEN_MAX_LENGTH,
        description="The order token (the guest's link to the order)",
    ),
]
OrderTokenHeader = Annotated[
    str | None,
    Header(
        alias="X-Order-Token",
        min_length=1,
        max_length=ORDER_TOKEN_MAX_LENGTH,
        description="The order token, as a header",
    ),
]


async def order_token(
    token: OrderTokenQuery = None, x_order_token: OrderTokenHeader = None
) -> str | None:
    """The order token a request carries (the header wins over ``?token=``). Declared
    once here (``OrderToken``), so no route declares the query and the header itself;
    ``async`` and I/O-free, so a hot route solves it on the event loop."""
    return x_order_token or token


OrderToken = Annotated[str | None, Depends(order_token)]


def buyer_proof(user: OptionalUser, order_token: OrderToken) -> BuyerProof:
    """The buyer: a logged-in account and/or the holder of an order token; 401 with neither."""
    if user is None and order_token is None:
        raise NotAuthenticated("Log in, or give the order token.")
    return BuyerProof(user_id=user.id if user else None, order_token=order_token)


Buyer = Annotated[BuyerProof, Depends(buyer_proof)]


def client_ip(request: Request) -> str:
    """The client's network address: for the rate limits and the hold limits.

    ``X-Forwarded-For`` is read only behind ``ADMITONE_TRUSTED_PROXY_COUNT`` proxies
    (anyone can write the header, so otherwise a bot would be a new client on every
    request): each trusted proxy appends the address it saw, so the client is the N-th
    from the right. A missing or malformed entry falls back to the TCP peer.
    """
    peer = request.client.host if request.client else "unknown"
    proxies = request.app.state.settings.trusted_proxy_count
    if proxies:
        forwarded = [
            entry.strip()
            for header in request.headers.getlist("x-forwarded-for")
            for entry in header.split(",")
            if entry.strip()
        ]
        if len(forwarded) >= proxies:
            try:
                return str(ipaddress.ip_address(forwarded[-proxies]))
            except ValueError:
                pass
    return peer[:45]


def rate_limit(name: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency that counts the request against the ``name`` limit of its client IP."""

    async def dependency(request: Request) -> None:
        limiter: RateLimiter = request.app.state.rate_limiter
        if limiter.does_io:
            await anyio.to_thread.run_sync(limiter.hit, name, client_ip(request))
        else:
            limiter.hit(name, client_ip(request))

    return dependency


T = TypeVar("T")


async def run_unit_of_work(request: Request, work: Callable[[Session], T]) -> T:
    """Run ``work`` and commit it in ONE worker-thread hop: the hot routes' way.

    A sync route with sync dependencies costs FastAPI a thread-pool hop per dependency,
    one for the route, one to validate its answer and one for the commit; under load
    each hop is a wake-up and a GIL hand-over, and a transaction holding a hot row lock
    waits for them. The routes on the buying and scanning path (docs/hot-path.md) are
    declared with ``hot_routes.hot_route``, which runs their sync dependencies (caller
    lookup, access checks), the route and its answer inside ``work``. The request waits
    for its unit of work even if the client goes away: it always ends.
    """
    database: Database = request.app.state.db
    write = request.method not in SAFE_METHODS

    def in_thread() -> T:
        with database.session(write=write) as session:
            return work(session)

    # A plain executor costs the event loop less per hop than anyio's to_thread (measured:
    # 8 % more scans per second). The request's context (request id, language) goes along.
    context = contextvars.copy_context()
    future = asyncio.get_running_loop().run_in_executor(
        _unit_of_work_threads(request.app), context.run, in_thread
    )
    with anyio.CancelScope(shield=True):  # a client gone away still waits for the commit
        result = await future
    return result


def _unit_of_work_threads(app: Any) -> ThreadPoolExecutor:
    """The app's threads for hot units of work, started on first use (as many as the
    gate lets in: ``worker_threads``)."""
    with _EXECUTOR_LOCK:
        executor: ThreadPoolExecutor | None = getattr(app.state, "unit_of_work_threads", None)
        if executor is None:
            executor = ThreadPoolExecutor(
                max_workers=app.state.settings.worker_threads, thread_name_prefix="admitone-uow"
            )
            app.state.unit_of_work_threads = executor
        return executor


def close_unit_of_work_threads(app: Any) -> None:
    """At shutdown: let units of work in flight end, then stop the threads."""
    with _EXECUTOR_LOCK:
        executor = getattr(app.state, "unit_of_work_threads", None)
        app.state.unit_of_work_threads = None
    if executor is not None:
        executor.shutdown(wait=True)


_EXECUTOR_LOCK = threading.Lock()
