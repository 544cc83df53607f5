"""Route order: Starlette takes the first route that matches, in the app's list."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI


def move_routes_first(app: FastAPI, chosen: Callable[[object], bool]) -> None:
    """Put the routes for which ``chosen`` is true first, each group in its own order."""
    routes = app.router.routes
    routes[:] = [route for route in routes if chosen(route)] + [
        route for route in routes if not chosen(route)
    ]
    # FastAPI keeps derived views of the route list; tell it the list changed.
    mark_changed = getattr(app.router, "_mark_routes_changed", None)
    if callable(mark_changed):
        mark_changed()
