"""What an event page tells link previews, search engines and maps.

- Open Graph and Twitter card tags: a shared link shows the title, the date and place,
  and the image (messengers and social sites read them).
- schema.org ``Event`` data (JSON-LD): search engines list the date, place and offers.
- A link to the venue on OpenStreetMap: a link the visitor follows, nothing loaded from
  another site.
- Descriptions are plain text; their web addresses become links, the rest stays text.

Addresses in these tags are absolute: they are read outside the site
(``ADMITONE_PUBLIC_URL``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus

from markupsafe import Markup, escape

from admitone.events.catalogue import CatalogueEntry
from admitone.events.models import Event, EventStatus
from admitone.web import formatting

# A web address in escaped text; ends before whitespace, a tag or a quote.
_ADDRESS = re.compile(r"https?://[^\s<>\"']+")
# Punctuation that ends a sentence rather than the address ("see https://x.org.").
_TRAILING = ".,;:!?)]}"
DESCRIPTION_PREVIEW_CHARS = 200


def linkify(text: str | None) -> Markup:
    """``text`` escaped, its http(s) addresses made links that open no window handle and
    pass no ranking (``rel="nofollow noopener noreferrer"``)."""
    escaped = str(escape(text or ""))

    def link(match: re.Match[str]) -> str:
        address = match.group(0)
        tail = ""
        while address and address[-1] in _TRAILING:
            address, tail = address[:-1], address[-1] + tail
        # Escaped already: "&" reads "&amp;", which is right inside an attribute too.
        return f'<a href="{address}" rel="nofollow noopener noreferrer">{address}</a>{tail}'

    # Safe: the text is escaped first, and the only markup added is the links, whose
    # addresses hold no quote or angle bracket (_ADDRESS) and start with http(s)://.
    return Markup(_ADDRESS.sub(link, escaped))  # noqa: S704


def map_url(event: Event) -> str:
    """The venue on OpenStreetMap (a search: the address as organizers typed it)."""
    place = ", ".join(
        part for part in (event.venue_name, event.venue_address, event.city, event.country) if part
    )
    return f"https://www.openstreetmap.org/search?query={quote_plus(place)}"


def absolute(public_url: str, path: str) -> str:
    return public_url.rstrip("/") + path


def preview_text(description: str | None) -> str:
    """The description's start, on one line, cut at a word: what a preview shows."""
    flat = " ".join((description or "").split())
    if len(flat) <= DESCRIPTION_PREVIEW_CHARS:
        return flat
    return flat[:DESCRIPTION_PREVIEW_CHARS].rsplit(" ", 1)[0] + "…"


def _local_iso(moment: datetime, timezone: str) -> str:
    # With the event's own offset, as schema.org asks ("2027-06-01T20:00:00+02:00").
    return formatting.local(moment, timezone).isoformat()


def structured_data(
    entry: CatalogueEntry, *, page_url: str, image_url: str | None
) -> dict[str, Any]:
    """The event as a schema.org ``Event``, for a JSON-LD block."""
    event = entry.event
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Event",
        "name": event.title,
        "startDate": _local_iso(event.starts_at, event.timezone),
        "endDate": _local_iso(event.ends_at, event.timezone),
        "eventStatus": "https://schema.org/EventCancelled"
        if event.status == EventStatus.cancelled
        else "https://schema.org/EventScheduled",
        "eventAttendanceMode": "https://schema.org/OfflineEventAttendanceMode",
        "url": page_url,
        "location": {
            "@type": "Place",
            "name": event.venue_name,
            "address": {
                "@type": "PostalAddress",
                "streetAddress": event.venue_address or "",
                "addressLocality": event.city,
                "addressCountry": event.country,
            },
        },
        "organizer": {"@type": "Organization", "name": event.organization.name},
        "offers": [
            {
                "@type": "Offer",
                "name": ticket_type.name,
                "price": str(formatting.minor_to_decimal(ticket_type.price_minor, event.currency)),
                "priceCurrency": event.currency,
                "availability": "https://schema.org/InStock"
                if entry.available(ticket_type) > 0
                else "https://schema.org/SoldOut",
                "url": page_url,
            }
            for ticket_type in event.ticket_types
            if ticket_type.is_active
        ],
    }
    if event.description:
        data["description"] = preview_text(event.description)
    if image_url:
        data["image"] = [image_url]
    return data
