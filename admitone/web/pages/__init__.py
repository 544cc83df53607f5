"""HTML page routers, one module per area."""

from __future__ import annotations

from fastapi import APIRouter


def page_routers() -> list[APIRouter]:
    from admitone.web.pages import (
        account_security,
        accounts,
        catalogue,
        checkout,
        downloads,
        oidc,
        organizer,
        organizer_sales,
        scanner,
        security,
    )

    return [
        checkout.test_provider,
        accounts.router,
        account_security.router,
        security.router,
        catalogue.router,
        checkout.router,
        downloads.router,
        organizer.router,
        # After organizer.router: its /events/new must match before /events/{event_id}.
        organizer_sales.router,
        scanner.router,
        oidc.router,
    ]
