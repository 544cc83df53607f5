"""hot_routes.hot_route: hot routes declared as ordinary routes, run in one unit-of-work hop.

A throwaway app shows what the helper promises: the route's parameters reach FastAPI
(and the OpenAPI) as an ordinary route's would, its sync dependencies and body share one
session in one worker thread, its answer and errors have the app's shape. Then the app
itself: its hot routes are written one way, and docs/hot-path.md lists each of them.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from admitone.config import Settings
from admitone.db import Database
from admitone.deps import SessionDep, SettingsDep
from admitone.error_handlers import install_error_handlers
from admitone.errors import NotAuthenticated
from admitone.hot_routes import hot_route, is_hot_route
from admitone.organizations.models import Organization
from admitone.schemas import DataResponse

ROOT = Path(__file__).resolve().parent.parent


class Seen(BaseModel):
    caller: str | None
    label: str
    thread: str
    same_session: bool


seen_calls: list[str] = []


def caller(
    request: Request, session: SessionDep, x_caller: Annotated[str | None, Header()] = None
) -> tuple[str | None, Session, str]:
    """A sync dependency reading the database, as the caller lookup does."""
    seen_calls.append("caller")
    session.execute(select(Organization.id).limit(1))
    return x_caller, session, threading.current_thread().name


Caller = Annotated[tuple[str | None, Session, str], Depends(caller)]


def required_caller(who: Caller) -> str:
    if who[0] is None:
        raise NotAuthenticated()
    return who[0]


async def label_of(label: Annotated[str, Query(max_length=20)] = "plain") -> str:
    return label.upper()


Label = Annotated[str, Depends(label_of)]


def _route(
    who: Caller,
    name: Annotated[str, Depends(required_caller)],
    label: Label,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    created: Annotated[bool, Query()] = False,
) -> DataResponse[Seen]:
    """A route in the ordinary style."""
    assert isinstance(settings, Settings)
    if created:
        response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return DataResponse(
        data=Seen(
            caller=name,
            label=label,
            thread=threading.current_thread().name,
            same_session=who[1] is session and who[2] == threading.current_thread().name,
        )
    )


def _app(settings: Settings, database: Database, *, hot: bool) -> FastAPI:
    app = FastAPI()
    app.state.settings = settings
    app.state.db = database
    install_error_handlers(app)
    router = APIRouter()
    if hot:
        hot_route(router.post, "/things", status_code=202)(_route)
    else:
        router.post("/things", status_code=202)(_route)
    app.include_router(router)
    return app


@pytest.fixture
def hot_client(settings: Settings, clean_database: Database):
    with TestClient(_app(settings, clean_database, hot=True)) as client:
        yield client


def test_a_hot_route_runs_its_dependencies_and_body_in_one_hop(hot_client: TestClient):
    seen_calls.clear()
    answer = hot_client.post("/things?label=gate", headers={"X-Caller": "ada"})
    assert answer.status_code == 202, answer.text  # the route's own status code
    data = answer.json()["data"]
    assert data["caller"] == "ada" and data["label"] == "GATE"
    # The unit-of-work thread, the same session for the dependency and the body, and the
    # caller looked up once although two parameters need it.
    assert data["thread"].startswith("admitone-uow") and data["same_session"] is True
    assert seen_calls == ["caller"]
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-type"] == "application/json"


def test_a_hot_route_may_answer_another_status_code(hot_client: TestClient):
    answer = hot_client.post("/things?created=true", headers={"X-Caller": "ada"})
    assert answer.status_code == 201


def test_errors_have_the_apps_shape(hot_client: TestClient):
    refused = hot_client.post("/things")  # no caller: the dependency refuses
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "NOT_AUTHENTICATED"
    invalid = hot_client.post("/things?label=" + "x" * 21, headers={"X-Caller": "ada"})
    assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "VALIDATION_ERROR"


def test_fastapi_sees_the_parameters_of_an_ordinary_route(
    settings: Settings, clean_database: Database
):
    hot = _app(settings, clean_database, hot=True).openapi()
    ordinary = _app(settings, clean_database, hot=False).openapi()
    assert hot == ordinary
    parameters = {p["name"] for p in hot["paths"]["/things"]["post"]["parameters"]}
    assert parameters == {"x-caller", "label", "created"}


def generator_dependency():
    yield 1


def with_generator(value: Annotated[int, Depends(generator_dependency)]) -> DataResponse[Any]:
    return DataResponse(data=value)


def other_caller(x_caller: Annotated[int, Header()]) -> int:
    return x_caller


def clashing(who: Caller, other: Annotated[int, Depends(other_caller)]) -> DataResponse[Any]:
    return DataResponse(data=other)


def test_what_a_hot_route_cannot_run_is_refused_when_declared():
    router = APIRouter()
    with pytest.raises(TypeError, match="generator"):
        hot_route(router.post, "/a")(with_generator)
    with pytest.raises(TypeError, match="'x_caller' differently"):
        hot_route(router.post, "/b")(clashing)
    assert router.routes == []


# --- the app's hot routes -----------------------------------------------------------------


def test_the_apps_hot_routes_are_declared_one_way_and_documented(app: FastAPI):
    hot = sorted(
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        if is_hot_route(context.route)
        for method in context.methods or ()
        if method != "HEAD"
    )
    assert hot == [
        ("GET", "/api/v1/orders/{order_id}/tickets"),
        ("POST", "/api/v1/events/{event_id}/checkins"),
        ("POST", "/api/v1/orders"),
        ("POST", "/api/v1/orders/{order_id}/pay"),
        ("POST", "/api/v1/payments/stripe/webhook"),
        ("POST", "/api/v1/payments/test/{payment_id}/approve"),
    ]
    page = (ROOT / "docs" / "hot-path.md").read_text()
    for method, path in hot:
        assert f"{method} {path.removeprefix('/api/v1')}" in page, path
    # No route runs a unit of work by hand: only the helper calls run_unit_of_work.
    by_hand = [
        str(source.relative_to(ROOT))
        for source in (ROOT / "admitone").rglob("*.py")
        if "run_unit_of_work(" in source.read_text()
        and source.name not in {"deps.py", "hot_routes.py"}
    ]
    assert by_hand == []
