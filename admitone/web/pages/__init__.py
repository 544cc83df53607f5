"""HTML page routers, one module per area."""

from __future__ import annotations

from fastapi import APIRouter


def page_routers() -> list[APIRouter]:
    from admitone.web.pages import accounts, catalogue, checkout, organizer, scanner

    return [
        checkout.test_provider,
        accounts.router,
        catalogue.router,
        checkout.router,
        organizer.router,
        scanner.router,
    ]
