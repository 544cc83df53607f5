"""No two routes of the app can answer the same request, so route order carries no meaning.

Starlette gives a request to the first route that matches it, in the order the routes
were added. If two routes could match one request, the order would silently decide which
one answers, and moving a router (or registering a domain, admitone/domains.py) could
change the app's behaviour. This test fails instead.

The rule: two routes clash when they share a method and some path matches both.

* Methods: HEAD is left out (Starlette adds it to every GET route, so two GET routes
  already share a method); a mount (``/static``, ``/media``) takes every method.
* Paths are compared segment by segment (between slashes), parameter names never
  counting: ``/orders/{order_id}`` and ``/orders/{id}`` clash. A mount's path is its
  prefix followed by any rest; a ``{name:path}`` parameter is any rest.
* A literal segment and a parameter clash when the parameter's converter matches the
  literal: ``/events/new`` clashes with ``/events/{event_id}`` (the str converter
  matches "new") but not with ``/events/{event_id:uuid}`` (the converter rules it out).
* A segment that mixes text and a parameter is matched by the regex Starlette compiles
  for it: ``/tickets/{ticket_id}.pdf`` clashes with ``/tickets/{ticket_id}`` ("x.pdf"
  matches both) but not with ``/tickets/{ticket_id:uuid}``, nor with the app's
  ``/tickets/{ticket_id:not_pdf}`` (tickets/api.py).
* Two segments with parameters clash when a value built from one (each parameter given
  sample values of its converter, and the other segment's texts) matches the other. The
  samples (a converter of the app's own takes the str samples) decide nothing for
  whole-segment parameters and text-plus-parameter segments,
  the shapes the app uses; for stranger shapes the check may miss a clash, never invent
  one.

A clash is fixed by a converter that states what an id is (``{event_id:uuid}``) or by
another path; docs/adding-a-domain.md says so.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.convertors import CONVERTOR_TYPES
from starlette.routing import Mount

import admitone.tickets.api  # noqa: F401  (registers the not_pdf converter the app uses)
from admitone.app import create_app

ALL_METHODS = frozenset({"*"})
PARAMETER = re.compile(r"{([A-Za-z_]\w*)(?::(\w+))?}")
UUID = "0b6f7a7e-3c1d-4d5e-9f00-1234567890ab"
SAMPLES = {
    "str": ["x", "0", UUID],
    "int": ["0", "12"],
    "float": ["0", "0.5"],
    # Hyphens are optional, so 32 digits are a UUID (and an int).
    "uuid": [UUID, UUID.replace("-", ""), "1" * 32],
    "path": ["x", "x/y"],
}


@dataclass(frozen=True)
class Piece:
    text: str = ""
    converter: str | None = None  # None: literal text


Segment = tuple[Piece, ...]


@dataclass(frozen=True)
class RouteShape:
    label: str  # what the failure message shows
    methods: frozenset[str]
    segments: tuple[Segment, ...]
    rest: bool  # a mount or a final {name:path}: matches any further segments


def _pieces(segment: str) -> Segment:
    pieces: list[Piece] = []
    position = 0
    for match in PARAMETER.finditer(segment):
        if match.start() > position:
            pieces.append(Piece(text=segment[position : match.start()]))
        pieces.append(Piece(converter=match.group(2) or "str"))
        position = match.end()
    if position < len(segment):
        pieces.append(Piece(text=segment[position:]))
    return tuple(pieces)


def _shape(label: str, methods: frozenset[str], path: str, *, mount: bool) -> RouteShape:
    segments = tuple(_pieces(part) for part in path.strip("/").split("/") if part)
    rest = mount
    if segments and segments[-1] == (Piece(converter="path"),):
        segments, rest = segments[:-1], True
    return RouteShape(label, methods, segments, rest)


def _regex(segment: Segment) -> re.Pattern[str]:
    parts = [
        re.escape(piece.text)
        if piece.converter is None
        else f"(?:{CONVERTOR_TYPES[piece.converter].regex})"
        for piece in segment
    ]
    return re.compile("".join(parts))


def _witnesses(segment: Segment, other: Segment) -> list[str]:
    """Texts ``segment`` may match: each parameter given its converter's samples and the
    other segment's texts (so that ``{a}.pdf`` and ``report.{b}`` meet at "report..pdf")."""
    texts = [piece.text for piece in other if piece.converter is None]
    choices = [
        [piece.text]
        if piece.converter is None
        else [*SAMPLES.get(piece.converter, SAMPLES["str"]), *texts]
        for piece in segment
    ]
    return ["".join(values) for values in itertools.product(*choices)]


def segments_overlap(first: Segment, second: Segment) -> bool:
    first_regex, second_regex = _regex(first), _regex(second)
    for segment, other, own, others in (
        (first, second, first_regex, second_regex),
        (second, first, second_regex, first_regex),
    ):
        for text in _witnesses(segment, other):
            if "/" not in text and own.fullmatch(text) and others.fullmatch(text):
                return True
    return False


def paths_overlap(first: RouteShape, second: RouteShape) -> bool:
    a, b = first.segments, second.segments
    if len(a) == len(b):
        # A rest needs a slash after the prefix: "/static/..." is not "/static".
        if first.rest != second.rest:
            return False
    else:
        shorter, longer = (first, second) if len(a) < len(b) else (second, first)
        if not shorter.rest:
            return False
        a, b = shorter.segments, longer.segments[: len(shorter.segments)]
    return all(segments_overlap(x, y) for x, y in zip(a, b, strict=True))


def clashes(routes: list[RouteShape]) -> list[str]:
    found = []
    for first, second in itertools.combinations(routes, 2):
        shared = (
            first.methods | second.methods
            if ALL_METHODS & (first.methods | second.methods)
            else first.methods & second.methods
        )
        if shared and paths_overlap(first, second):
            found.append(f"{first.label}  <->  {second.label}")
    return found


def route_shapes(app: FastAPI) -> list[RouteShape]:
    shapes = []
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if isinstance(route.original_route, Mount):
            shapes.append(_shape(f"* {path} (mount)", ALL_METHODS, path, mount=True))
            continue
        methods = frozenset(route.methods or ALL_METHODS) - {"HEAD"}
        label = f"{','.join(sorted(methods))} {path}"
        shapes.append(_shape(label, methods, path, mount=False))
    return shapes


def _shapes(*routes: tuple[str, str]) -> list[RouteShape]:
    return [
        _shape(f"{method} {path}", frozenset({method}), path, mount=False)
        for method, path in routes
    ]


@pytest.mark.parametrize(
    ("first", "second", "clash"),
    [
        ("/orders/{order_id}", "/orders/{id}", True),  # names do not count
        ("/orders/{order_id}", "/orders/{order_id}/pay", False),
        ("/events/new", "/events/{event_id}", True),
        ("/events/new", "/events/{event_id:uuid}", False),
        ("/tickets/{ticket_id}.pdf", "/tickets/{ticket_id}", True),
        ("/tickets/{ticket_id}.pdf", "/tickets/{ticket_id:uuid}", False),
        ("/tickets/{ticket_id}.pdf", "/tickets/{ticket_id:not_pdf}", False),
        ("/tickets/{ticket_id}.pdf", "/tickets/{ticket_id}.png", False),
        ("/files/{a}.pdf", "/files/report.{b}", True),  # "report..pdf" matches both
        ("/items/{n:int}", "/items/{id:uuid}", True),  # 32 digits are both
        ("/files/{rest:path}", "/files/a/b", True),
        ("/me/orders", "/me/tickets", False),
    ],
)
def test_the_clash_rule(first: str, second: str, clash: bool) -> None:
    assert bool(clashes(_shapes(("GET", first), ("GET", second)))) is clash


def test_different_methods_and_mounts() -> None:
    assert not clashes(_shapes(("GET", "/orders/{id}"), ("POST", "/orders/{id}")))
    mount = _shape("* /static (mount)", ALL_METHODS, "/static", mount=True)
    assert clashes([mount, *_shapes(("POST", "/static/{name}"))])
    assert not clashes([mount, *_shapes(("GET", "/statics/{name}"))])


def test_no_two_routes_of_the_app_share_a_path_pattern(make_settings, database) -> None:
    # Every route there can be: the API docs and the metrics are on outside production.
    app = create_app(make_settings(api_docs_enabled=True), database=database)
    shapes = route_shapes(app)
    assert len(shapes) > 150  # the whole app: API, pages, docs, health, mounts
    found = clashes(shapes)
    assert not found, (
        "Routes that can match the same request (Starlette would take whichever was "
        "added first; give the parameter a converter such as {id:uuid}, or another "
        "path):\n" + "\n".join(found)
    )
