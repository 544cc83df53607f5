"""Buyer pages: home, catalogue (search, filters, pages) and the event page.

They read through ``events.catalogue`` (the same functions as ``GET /api/v1/events``),
so the pages and the API always agree on what is on sale.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import Path, Query, Request
from fastapi.responses import Response

from admitone.config import Settings
from admitone.deps import SessionDep, SettingsDep
from admitone.events import catalogue
from admitone.events.errors import EventNotFound
from admitone.events.models import Category, Event, TicketType
from admitone.lineup import service as lineup
from admitone.web import sharing
from admitone.web.deps import OptionalLogin, page_router
from admitone.web.messages import category_label, category_options
from admitone.web.security import WebLogin
from admitone.web.templating import render

router = page_router()

PER_PAGE = 12
SORT_CHOICES = [s.value for s in catalogue.CatalogueSort]


def _category(value: str | None) -> Category | None:
    try:
        return Category(value) if value else None
    except ValueError:
        return None


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def event_image_url(event: Event) -> str | None:
    return f"/media/{event.image_path}" if event.image_path else None


def ticket_view(entry: catalogue.CatalogueEntry, ticket_type: TicketType) -> dict[str, Any]:
    """What the event page shows about one ticket type, availability read now."""
    available = entry.available(ticket_type)
    on_sale = catalogue.is_on_sale(entry.event, ticket_type, available=available)
    top = min(ticket_type.max_per_order, available) if on_sale else 0
    quantities = [0, *range(ticket_type.min_per_order, top + 1)] if top else [0]
    return {
        "type": ticket_type,
        "available": available,
        "on_sale": on_sale,
        "sold_out": available <= 0,
        # Nothing to buy now, but pending orders hold seats that return if unpaid.
        "may_come_back": available <= 0 and ticket_type.capacity > ticket_type.quantity_sold,
        "quantities": quantities,
        "not_yet": ticket_type.sales_start is not None
        and ticket_type.sales_start > datetime.now(UTC),
    }


@router.get("/")
def home(
    request: Request,
    session: SessionDep,
    login: OptionalLogin,
) -> Response:
    result = catalogue.search_catalogue(
        session, filters=catalogue.CatalogueFilters(), page=1, per_page=9
    )
    return render(
        request,
        "home.html",
        {
            "entries": result.entries,
            "total": result.total,
            "facets": result.facets,
            "category_options": category_options(),
            "category_label": category_label,
            "image_url": event_image_url,
        },
        compressible=True,
    )


@router.get("/events")
def catalogue_page(
    request: Request,
    session: SessionDep,
    login: OptionalLogin,
    q: Annotated[str | None, Query(max_length=200)] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    city: Annotated[str | None, Query(max_length=100)] = None,
    date_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    sort: Annotated[str | None, Query(max_length=10)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    chosen_category = _category(category)
    day = _day(date_from)
    city = (city or "").replace("\x00", "").strip() or None
    sort_value = sort if sort in SORT_CHOICES else catalogue.CatalogueSort.date.value
    filters = catalogue.CatalogueFilters(
        q=(q or "").strip() or None,
        category=chosen_category,
        city=city,
        date_from=datetime.combine(day, time(), tzinfo=UTC) if day else None,
    )
    result = catalogue.search_catalogue(
        session,
        filters=filters,
        sort=catalogue.CatalogueSort(sort_value),
        page=page,
        per_page=PER_PAGE,
    )
    pages = max(1, math.ceil(result.total / PER_PAGE))
    params = {
        "q": filters.q or "",
        "category": chosen_category.value if chosen_category else "",
        "city": city or "",
        "from": day.isoformat() if day else "",
        "sort": sort_value if sort_value != catalogue.CatalogueSort.date.value else "",
    }
    return render(
        request,
        "catalogue/list.html",
        {
            "entries": result.entries,
            "total": result.total,
            "facets": result.facets,
            "params": params,
            "page": page,
            "pages": pages,
            "category_options": category_options(),
            "category_label": category_label,
            "image_url": event_image_url,
            "today": (datetime.now(UTC) - timedelta(hours=12)).date().isoformat(),
        },
        compressible=True,
    )


def event_page_context(
    entry: catalogue.CatalogueEntry,
    settings: Settings,
    *,
    errors: dict[str, str] | None = None,
    preview: bool = False,
    values: dict[str, str] | None = None,
    chosen: dict[uuid.UUID, int] | None = None,
) -> dict[str, Any]:
    """What ``catalogue/event.html`` shows: the event page, and the same page again with
    the buyer's choice (``chosen``), details (``values``) and what went wrong when the
    seats cannot be held (``checkout.py``)."""
    event = entry.event
    tickets = [ticket_view(entry, t) for t in event.ticket_types if t.is_active]
    page_url = sharing.absolute(settings.public_url, f"/events/{event.slug}")
    image = event_image_url(event)
    image_url = sharing.absolute(settings.public_url, image) if image else None
    return {
        "event": event,
        "price_from": entry.price_from,
        "tickets": tickets,
        "any_on_sale": any(t["on_sale"] for t in tickets),
        "category_label": category_label,
        "image_url": event_image_url,
        "errors": errors or {},
        "values": values or {},
        "chosen": chosen or {},
        "preview": preview,  # a draft shown to its organization's members: nothing to buy
        "share": {
            "url": page_url,
            "image": image_url,
            "description": sharing.preview_text(event.description),
            "data": sharing.structured_data(entry, page_url=page_url, image_url=image_url),
            "map_url": sharing.map_url(event),
        },
    }


def _buyer_values(login: WebLogin | None) -> dict[str, str]:
    """The details form prefilled for an account: its name and address."""
    if login is None:
        return {}
    return {"buyer_name": login.user.full_name, "buyer_email": login.user.email}


@router.get("/events/{slug}")
def event_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    login: OptionalLogin,
    slug: Annotated[str, Path(max_length=100)],
) -> Response:
    preview = False
    try:
        entry = catalogue.get_public_event(session, id_or_slug=slug)
    except EventNotFound:
        # A draft: its organizer's members preview it; anyone else gets the same 404.
        if login is None:
            raise
        entry = catalogue.get_draft_preview(session, id_or_slug=slug, user=login.user)
        preview = True
    context = event_page_context(entry, settings, preview=preview, values=_buyer_values(login))
    # A "Programme" link once the lineup has a confirmed slot (a published event's).
    context["has_programme"] = not preview and lineup.has_programme(
        session, event_id=entry.event.id
    )
    response = render(
        request,
        "catalogue/event.html",
        context,
        # A draft is the organization's, and only shown to a member who is logged in.
        compressible=not preview,
    )
    if preview:
        response.headers["cache-control"] = "private, no-store"
        response.headers["x-robots-tag"] = "noindex"
    return response
