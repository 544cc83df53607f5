"""Availability shown anywhere is capacity - sold - live holds: an expired hold stops
counting at once, before the sweep releases it."""

from __future__ import annotations

from tests.factories import counters, expire_hold, make_shop


def _order(client, shop, quantity):
    response = client.post(
        "/api/v1/orders",
        json={
            "event_id": str(shop.event_id),
            "items": [{"ticket_type_id": str(shop.ticket_type_ids[0]), "quantity": quantity}],
            "buyer": {"name": "Ada", "email": "ada@example.com"},
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]


def _shown(client, shop, path):
    data = client.get(path).json()["data"]
    events = data if isinstance(data, list) else [data]
    (event,) = [e for e in events if e["id"] == str(shop.event_id)]
    (ticket_type,) = event["ticket_types"]
    return ticket_type["available"], ticket_type["on_sale"]


def test_catalogue_and_event_page_ignore_expired_holds(client, clean_database):
    shop = make_shop(clean_database, capacity=5)
    order = _order(client, shop, 5)
    for path in (f"/api/v1/events/{shop.event_id}", "/api/v1/events"):
        assert _shown(client, shop, path) == (0, False)

    expire_hold(clean_database, order["id"])
    # Not yet released by anyone: the counter still holds the seats...
    assert counters(clean_database, shop.ticket_type_ids[0]).held == 5
    # ...but no page shows them as taken.
    for path in (f"/api/v1/events/{shop.event_id}", "/api/v1/events"):
        assert _shown(client, shop, path) == (5, True)
    slug = client.get(f"/api/v1/events/{shop.event_id}").json()["data"]["slug"]
    page = client.get(f"/events/{slug}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "Tickets left: 5" in page.text
