"""FastAPI dependencies shared by every router: session, settings, caller, organization."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from admitone.accounts import service as accounts
from admitone.accounts.models import User
from admitone.config import Settings
from admitone.db import Database
from admitone.errors import NotAuthenticated
from admitone.organizations import service as organizations
from admitone.organizations.permissions import Permission
from admitone.ratelimit import RateLimiter

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    """The request's unit of work (see Database.session)."""
    database: Database = request.app.state.db
    with database.session(write=request.method not in SAFE_METHODS) as session:
        yield session


# scope="function": commit before the response is sent, so a client that got a 2xx can
# rely on the change being durable.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]

bearer_scheme = HTTPBearer(auto_error=False, description="Access token from /auth/login")


def _caller(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> User | None:
    if credentials is None:
        return None
    user, auth_session_id = accounts.user_for_access_token(
        session, token=credentials.credentials, settings=settings
    )
    request.state.auth_session_id = auth_session_id
    return user


def _require_user(user: Annotated[User | None, Depends(_caller)]) -> User:
    if user is None:
        raise NotAuthenticated()
    return user


OptionalUser = Annotated[User | None, Depends(_caller)]
CurrentUser = Annotated[User, Depends(_require_user)]


def org_access(permission: Permission) -> Callable[..., organizations.OrgAccess]:
    """A dependency resolving ``{org}`` in the path to the caller's checked access."""

    def dependency(
        session: SessionDep,
        user: CurrentUser,
        org: Annotated[str, Path(max_length=80, description="Organization slug")],
    ) -> organizations.OrgAccess:
        return organizations.resolve_access(session, slug=org, user=user, permission=permission)

    return dependency


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def rate_limit(name: str) -> Callable[[Request], None]:
    """A dependency that counts the request against the ``name`` limit of its client IP."""

    def dependency(request: Request) -> None:
        limiter: RateLimiter = request.app.state.rate_limiter
        limiter.hit(name, client_ip(request))

    return dependency
