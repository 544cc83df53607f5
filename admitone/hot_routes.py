"""The one way hot routes run.

Hot routes (docs/hot-path.md): ``@hot_route(router.post, "/orders", ...)`` declares a
route written exactly as an ordinary sync route, and runs its dependencies that need the
database, its body, its answer and the commit in ONE worker-thread hop.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, get_args, get_origin

from fastapi import BackgroundTasks, Request, Response, params
from fastapi.dependencies.utils import get_typed_return_annotation, get_typed_signature
from pydantic import BaseModel
from sqlalchemy.orm import Session

from admitone.deps import get_session, run_unit_of_work

# FastAPI runs each sync dependency, a sync route, the validation of its answer and the
# session's commit as separate thread-pool hops; under load each hop is a wake-up and a
# GIL hand-over, and a transaction holding the hottest row lock of a sale waits for them
# (docs/hot-path.md). A hot route is declared with the same parameters as an ordinary
# route, but FastAPI only sees the I/O-free ones (path, query, headers, body, ``async``
# dependencies); the sync dependencies (those that read the database: the caller, the
# buyer), ``SessionDep`` and the route's own body run in ``deps.run_unit_of_work``'s one
# hop, on its session, and the answer is rendered there, before the commit.

DecoratedFunction = TypeVar("DecoratedFunction", bound=Callable[..., Any])

# FastAPI hands one endpoint a single parameter of each of these classes (it keeps one
# name per class), so every Request (Response, BackgroundTasks) the route and its
# dependencies declare is this one.
_REQUEST = "hot_route_request"
_RESPONSE = "hot_route_response"
_BACKGROUND_TASKS = "hot_route_background_tasks"
_ONE_PER_REQUEST = {Request: _REQUEST, Response: _RESPONSE, BackgroundTasks: _BACKGROUND_TASKS}


def hot_route(
    route: Callable[..., Callable[[Callable[..., Any]], Any]], path: str, **options: Any
) -> Callable[[DecoratedFunction], DecoratedFunction]:
    """Declare a hot route: ``@hot_route(router.post, "/orders", status_code=201, ...)``
    takes what ``@router.post("/orders", status_code=201, ...)`` takes.

    The function is written as an ordinary sync route: the same dependency declarations
    (``SessionDep``, ``OptionalUser``, ``Depends(...)``, ``Header``, ``Query``, a body,
    ``response: Response`` to set another status code or a header) and it returns the
    answer's envelope (``DataResponse``, ``ListResponse``). Every hot route answers the
    same way: that model as JSON, with the route's ``status_code`` unless the function
    set ``response.status_code``; errors are raised, as anywhere, and rendered by the
    error handlers. Sync dependencies run once per request each (FastAPI's cache), in
    the hop; ``async`` ones on the event loop, before it, as FastAPI runs them. Built
    when the module is imported: per request there is only the hop.

    Not supported (refused here): a sync generator dependency, security scopes, and two
    dependencies declaring one parameter name differently. ``app.dependency_overrides``
    reaches only the ``async`` dependencies.
    """

    def decorator(function: DecoratedFunction) -> DecoratedFunction:
        endpoint = _hot_endpoint(function, status_code=options.get("status_code") or 200)
        route(path, **options)(endpoint)
        return function

    return decorator


def is_hot_route(route: object) -> bool:
    """Whether an app's route was declared with ``hot_route``."""
    return getattr(getattr(route, "endpoint", None), "hot_route_of", None) is not None


# Where a call's argument comes from.
_FROM_REQUEST = 0  # the endpoint's parameter of that name, solved by FastAPI
_SESSION = 1  # the unit of work's session
_FROM_STEP = 2  # what an earlier step answered


@dataclass(frozen=True, slots=True)
class _Step:
    """One call in the hop: a sync dependency, or last, the route's function."""

    call: Callable[..., Any]
    arguments: tuple[tuple[str, int, Any], ...]  # (keyword, _FROM_..., name or step index)


def _hot_endpoint(function: Callable[..., Any], *, status_code: int) -> Callable[..., Any]:
    steps, exposed = _plan(function)

    async def endpoint(**values: Any) -> Response:
        request: Request = values[_REQUEST]
        response: Response = values[_RESPONSE]

        def work(session: Session) -> Response:
            answers: list[Any] = []
            for step in steps:
                answers.append(
                    step.call(
                        **{
                            keyword: (
                                values[key]
                                if source == _FROM_REQUEST
                                else session
                                if source == _SESSION
                                else answers[key]
                            )
                            for keyword, source, key in step.arguments
                        }
                    )
                )
            return _answer(function, answers[-1], response, status_code)

        return await run_unit_of_work(request, work)

    # What FastAPI reads of an endpoint: its signature (no __wrapped__, which it would
    # follow to the function's), its name (route name, operation id) and docstring.
    for kind, name in _ONE_PER_REQUEST.items():
        if name in (_REQUEST, _RESPONSE) or name in exposed:
            exposed[name] = inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind)
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        list(exposed.values()),
        return_annotation=get_typed_return_annotation(function),
    )
    endpoint.__name__ = function.__name__
    endpoint.__qualname__ = function.__qualname__
    endpoint.__module__ = function.__module__
    endpoint.__doc__ = function.__doc__
    endpoint.hot_route_of = function  # type: ignore[attr-defined]
    return endpoint


def _answer(
    function: Callable[..., Any], model: Any, response: Response, status_code: int
) -> Response:
    if not isinstance(model, BaseModel):
        raise TypeError(
            f"hot route {function.__qualname__} must return its answer's envelope "
            f"(DataResponse, ListResponse), not {type(model).__name__}"
        )
    return Response(
        content=model.model_dump_json().encode(),
        status_code=response.status_code or status_code,
        headers=dict(response.headers) or None,
        media_type="application/json",
    )


def _plan(function: Callable[..., Any]) -> tuple[list[_Step], dict[str, inspect.Parameter]]:
    """The calls of the hop, in order (each dependency before those that use it), and
    the parameters FastAPI solves for them, by name."""
    steps: list[_Step] = []
    cached: dict[Callable[..., Any], int] = {}
    exposed: dict[str, inspect.Parameter] = {}

    def add(call: Callable[..., Any], *, use_cache: bool) -> int:
        if use_cache and call in cached:
            return cached[call]
        arguments: list[tuple[str, int, str | int | None]] = []  # as _Step.arguments
        for parameter in get_typed_signature(call).parameters.values():
            dependency = _dependency_of(parameter)
            one_per_request = _one_per_request(parameter)
            if one_per_request is not None:
                exposed.setdefault(one_per_request, parameter)
                arguments.append((parameter.name, _FROM_REQUEST, one_per_request))
            elif dependency is get_session:
                arguments.append((parameter.name, _SESSION, None))
            elif dependency is not None and _runs_in_hop(dependency, parameter, function):
                depends = _depends_of(parameter)
                assert depends is not None
                index = add(dependency, use_cache=depends.use_cache)
                arguments.append((parameter.name, _FROM_STEP, index))
            else:
                _expose(exposed, parameter, function)
                arguments.append((parameter.name, _FROM_REQUEST, parameter.name))
        steps.append(_Step(call, tuple(arguments)))
        if use_cache:
            cached[call] = len(steps) - 1
        return len(steps) - 1

    add(function, use_cache=False)
    return steps, exposed


def _one_per_request(parameter: inspect.Parameter) -> str | None:
    annotation = parameter.annotation
    if inspect.isclass(annotation):
        for kind, name in _ONE_PER_REQUEST.items():
            if issubclass(annotation, kind):
                return name
    return None


def _depends_of(parameter: inspect.Parameter) -> params.Depends | None:
    """The parameter's ``Depends`` (or ``Security``), as FastAPI reads it: the last one
    in ``Annotated[...]``, else its default."""
    if get_origin(parameter.annotation) is Annotated:
        found = [
            extra
            for extra in get_args(parameter.annotation)[1:]
            if isinstance(extra, params.Depends)
        ]
        if found:
            return found[-1]
    if isinstance(parameter.default, params.Depends):
        return parameter.default
    return None


def _dependency_of(parameter: inspect.Parameter) -> Callable[..., Any] | None:
    depends = _depends_of(parameter)
    if depends is None:
        return None
    if depends.dependency is not None:
        return depends.dependency
    # Depends() without a callable: the annotated class itself.
    annotation = parameter.annotation
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


def _runs_in_hop(
    dependency: Callable[..., Any], parameter: inspect.Parameter, function: Callable[..., Any]
) -> bool:
    """Sync dependencies run in the hop; ``async`` ones stay with FastAPI."""
    call = dependency
    if not (inspect.isroutine(dependency) or inspect.isclass(dependency)):
        call = type(dependency).__call__  # an instance, such as the bearer scheme
    if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
        return False
    if inspect.isgeneratorfunction(call):
        raise TypeError(
            f"hot route {function.__qualname__}: {parameter.name} is a sync generator "
            "dependency; a hot route runs its dependencies in one unit of work"
        )
    depends = _depends_of(parameter)
    if isinstance(depends, params.Security) and depends.scopes:
        raise TypeError(f"hot route {function.__qualname__}: security scopes are not supported")
    return True


def _expose(
    exposed: dict[str, inspect.Parameter],
    parameter: inspect.Parameter,
    function: Callable[..., Any],
) -> None:
    """Add a parameter for FastAPI to solve; one declared twice alike is solved once."""
    known = exposed.get(parameter.name)
    if known is None:
        exposed[parameter.name] = parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        return
    if known.annotation != parameter.annotation or known.default != parameter.default:
        raise TypeError(
            f"hot route {function.__qualname__}: two of its dependencies declare "
            f"{parameter.name!r} differently"
        )
