"""HTML page routers, one module per area."""

from __future__ import annotations

from fastapi import APIRouter


def page_routers() -> list[APIRouter]:
    from admitone.web.pages import accounts, catalogue, organizer, scanner

    return [accounts.router, catalogue.router, organizer.router, scanner.router]
