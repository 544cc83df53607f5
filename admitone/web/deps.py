"""Dependencies of the page routes: the logged-in user, the submitted form, org access."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from admitone.accounts.models import User
from admitone.authorization import (
    OrgAccess,
    Permission,
    check_platform_admin_second_factor,
    resolve_access,
)
from admitone.deps import SessionDep, SettingsDep
from admitone.web.security import LoginRequired, WebLogin, load_login, verify_csrf


def page_router() -> APIRouter:
    """A router of HTML pages: out of the OpenAPI schema, every unsafe method CSRF-checked."""
    return APIRouter(
        include_in_schema=False,
        default_response_class=HTMLResponse,
        dependencies=[Depends(verify_csrf)],
    )


def _optional_login(
    request: Request, session: SessionDep, settings: SettingsDep
) -> WebLogin | None:
    return load_login(request, session, settings)


def _login_before_second_factor(
    login: Annotated[WebLogin | None, Depends(_optional_login)],
) -> WebLogin:
    if login is None:
        raise LoginRequired()
    return login


def _required_login(login: Annotated[WebLogin, Depends(_login_before_second_factor)]) -> WebLogin:
    # A platform admin without a second factor is sent to set one up (web/errors.py).
    check_platform_admin_second_factor(login.user)
    return login


def _required_user(login: Annotated[WebLogin, Depends(_required_login)]) -> User:
    return login.user


async def _form(request: Request) -> FormData:
    return await request.form()


OptionalLogin = Annotated[WebLogin | None, Depends(_optional_login)]
RequiredLogin = Annotated[WebLogin, Depends(_required_login)]
# The account's security pages: reachable by a platform admin who has yet to set up 2FA.
LoginBeforeSecondFactor = Annotated[WebLogin, Depends(_login_before_second_factor)]
PageUser = Annotated[User, Depends(_required_user)]
Form = Annotated[FormData, Depends(_form)]


def page_org_access(permission: Permission) -> Callable[..., OrgAccess]:
    """Resolve ``{org}`` for the logged-in user, checked for ``permission`` (404 / 403)."""

    def dependency(
        session: SessionDep,
        user: PageUser,
        org: Annotated[str, Path(max_length=80)],
    ) -> OrgAccess:
        return resolve_access(session, slug=org, user=user, permission=permission)

    return dependency


def form_str(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else default
