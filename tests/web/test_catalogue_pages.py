"""Home, catalogue and event pages read the public catalogue."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.helpers import create_org, register
from tests.web.helpers import create_event, get_page


def _organizer(client: TestClient) -> tuple[dict, str]:
    account = register(client)
    org = create_org(client, account["headers"])
    return account["headers"], org["slug"]


def test_home_lists_upcoming_published_events_only(client: TestClient) -> None:
    headers, org = _organizer(client)
    create_event(client, headers, org, title="Moonlight Sonata Night")
    create_event(client, headers, org, title="Secret Draft Party", publish=False)
    page = get_page(client, "/")
    assert page.status_code == 200
    assert "Moonlight Sonata Night" in page.text
    assert "Secret Draft Party" not in page.text
    assert 'action="/events"' in page.text  # the search box
    assert '<option value="Paris">Paris (1)</option>' in page.text  # city filter


def test_catalogue_search_and_filters(client: TestClient) -> None:
    headers, org = _organizer(client)
    create_event(client, headers, org, title="Jazz by the River", city="Lyon", category="concert")
    create_event(client, headers, org, title="Comedy Club Special", city="Paris", category="comedy")
    found = get_page(client, "/events?q=jazz")
    assert "Jazz by the River" in found.text
    assert "Comedy Club Special" not in found.text
    assert "1 event found" in found.text
    by_city = get_page(client, "/events?city=paris")
    assert "Comedy Club Special" in by_city.text
    assert "Jazz by the River" not in by_city.text
    by_category = get_page(client, "/events?category=concert")
    assert "Jazz by the River" in by_category.text
    assert "Comedy Club Special" not in by_category.text
    # Unknown values are ignored, not a 500.
    assert get_page(client, "/events?category=nope&sort=zzz&from=yesterday").status_code == 200


def test_catalogue_paginates(client: TestClient) -> None:
    headers, org = _organizer(client)
    for number in range(13):
        create_event(
            client, headers, org, title=f"Show number {number:02d}", days_ahead=10 + number
        )
    first = get_page(client, "/events")
    assert "Page 1 of 2" in first.text
    assert "Show number 00" in first.text
    assert "Show number 12" not in first.text
    second = get_page(client, "/events?page=2")
    assert "Show number 12" in second.text
    assert "Show number 00" not in second.text


def test_event_page_shows_local_time_and_quantity_selectors(client: TestClient) -> None:
    headers, org = _organizer(client)
    event = create_event(
        client,
        headers,
        org,
        title="Tokyo Lights",
        timezone="Asia/Tokyo",
        ticket_types=[
            {"name": "Floor", "price_minor": 4200, "capacity": 3, "max_per_order": 6},
            {"name": "Hidden", "price_minor": 100, "capacity": 5, "is_active": False},
        ],
    )
    page = get_page(client, f"/events/{event['slug']}")
    assert page.status_code == 200
    assert "Tokyo Lights" in page.text
    assert "local time, JST" in page.text
    # 19:00 UTC is 04:00 the next day in Tokyo.
    assert re.search(r"4:00\sAM", page.text)
    assert "€42.00" in page.text
    assert "Tickets left: 3" in page.text
    # No more than what is left can be chosen, even with a per-order limit of 6.
    options = re.findall(r'<option value="(\d+)">', page.text)
    assert options == ["0", "1", "2", "3"]
    assert "Hidden" not in page.text


def test_event_page_in_french(client: TestClient) -> None:
    headers, org = _organizer(client)
    event = create_event(client, headers, org)
    page = get_page(client, f"/events/{event['slug']}", headers={"accept-language": "fr"})
    assert "25,00\xa0€" in page.text
    assert "Places restantes : 100" in page.text or "Places restantes\u202f: 100" in page.text


def test_draft_and_unknown_events_are_404_pages(client: TestClient) -> None:
    headers, org = _organizer(client)
    draft = create_event(client, headers, org, publish=False)
    assert get_page(client, f"/events/{draft['slug']}").status_code == 404
    missing = get_page(client, "/events/no-such-event")
    assert missing.status_code == 404
    assert "Page not found" in missing.text


def _json_ld(html: str) -> dict:
    import json

    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert block, "the event page carries schema.org data"
    return json.loads(block.group(1))


def test_event_page_tells_previews_search_engines_and_maps(client: TestClient, settings) -> None:
    headers, org = _organizer(client)
    event = create_event(
        client,
        headers,
        org,
        title="Jazz </script><b>Night",
        ticket_types=[
            {"name": "Floor", "price_minor": 2550, "capacity": 2},
            {"name": "Gone", "price_minor": 1000, "capacity": 1},
        ],
    )
    slug = event["slug"]
    sold = client.post(  # the one seat of "Gone" held by an order: not in stock
        "/api/v1/orders",
        json={
            "event_id": event["id"],
            "items": [
                {"ticket_type_id": t["id"], "quantity": 1}
                for t in event["ticket_types"]
                if t["name"] == "Gone"
            ],
            "buyer": {"name": "Ada", "email": "ada@example.com"},
        },
    )
    assert sold.status_code == 201, sold.text
    page = get_page(client, f"/events/{slug}")
    html = page.text
    url = f"{settings.public_url.rstrip('/')}/events/{slug}"

    assert f'<meta property="og:url" content="{url}">' in html
    assert '<meta property="og:title" content="Jazz &lt;/script&gt;&lt;b&gt;Night' in html
    assert '<meta property="og:description" content="A night of music under the stars.">' in html
    assert '<meta name="twitter:card" content="summary">' in html  # no image yet
    # The title cannot end the JSON block early: "<" is written \u003c inside it.
    assert "</script><b>" not in html
    data = _json_ld(html)
    assert data["@type"] == "Event" and data["name"] == "Jazz </script><b>Night"
    assert data["url"] == url
    assert data["startDate"].endswith(("+01:00", "+02:00"))  # Paris time, with its offset
    assert data["location"]["address"]["addressLocality"] == "Paris"
    assert data["eventStatus"] == "https://schema.org/EventScheduled"
    offers = {offer["name"]: offer for offer in data["offers"]}
    assert offers["Floor"]["price"] == "25.50" and offers["Floor"]["priceCurrency"] == "EUR"
    assert offers["Floor"]["availability"] == "https://schema.org/InStock"
    assert offers["Gone"]["availability"] == "https://schema.org/SoldOut"
    assert (
        'href="https://www.openstreetmap.org/search?query=La+Cigale%2C+120+bd+de+Rochechouart'
        "%2C+Paris%2C+FR" in html
    )


def test_event_image_reaches_previews_as_an_absolute_address(client: TestClient, settings) -> None:
    from tests.helpers import png_bytes

    headers, org = _organizer(client)
    event = create_event(client, headers, org)
    uploaded = client.put(
        f"/api/v1/organizations/{org}/events/{event['id']}/image",
        headers=headers,
        files={"file": ("poster.png", png_bytes(), "image/png")},
    )
    assert uploaded.status_code == 200, uploaded.text
    html = get_page(client, f"/events/{event['slug']}").text
    image = re.search(r'<meta property="og:image" content="([^"]+)">', html)
    assert image and image.group(1).startswith(settings.public_url.rstrip("/") + "/media/")
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    assert _json_ld(html)["image"] == [image.group(1)]


def test_description_links_render_and_nothing_else_does(client: TestClient) -> None:
    headers, org = _organizer(client)
    event = create_event(client, headers, org)
    client.patch(
        f"/api/v1/organizations/{org}/events/{event['id']}",
        headers=headers,
        json={
            "description": "Line-up: https://example.org/line-up?day=1&set=2. "
            '<script>alert(1)</script> <a href="javascript:alert(2)">x</a> '
            "javascript:alert(3)"
        },
    ).raise_for_status()
    html = get_page(client, f"/events/{event['slug']}").text
    assert (
        '<a href="https://example.org/line-up?day=1&amp;set=2" '
        'rel="nofollow noopener noreferrer">https://example.org/line-up?day=1&amp;set=2</a>.'
    ) in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript:' not in html
