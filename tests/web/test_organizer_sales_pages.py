"""The organizer's event page: figures, chart, holds, orders search, refund, CSV export."""

from __future__ import annotations

import csv
import io
import re

from fastapi.testclient import TestClient

from tests.helpers import add_member, create_org, register
from tests.web.helpers import create_event, get_page, post_form, web_login
from tests.web.test_checkout_pages import buy


def _sold_event(client: TestClient) -> tuple[dict, str, dict]:
    owner = register(client)
    org = create_org(client, owner["headers"])["slug"]
    event = create_event(
        client,
        owner["headers"],
        org,
        ticket_types=[
            {"name": "Standing", "price_minor": 2500, "capacity": 100},
            {"name": "Balcony", "price_minor": 4000, "capacity": 20},
        ],
    )
    client.cookies.clear()
    buy(client, event, 3, name="Zoé Martin", email="zoe@example.com")
    client.cookies.clear()
    return owner, org, event


def test_event_page_shows_sales_revenue_chart_and_checkin(client: TestClient) -> None:
    owner, org, event = _sold_event(client)
    web_login(client, owner["email"])
    page = get_page(client, f"/organizer/{org}/events/{event['id']}")
    assert page.status_code == 200
    # 3 x 25.00 on Standing, nothing on Balcony.
    assert re.search(
        r"Standing</td>\s*<td class=\"num\">€25.00</td>\s*<td class=\"num\">3</td>", page.text
    )
    assert "€75.00" in page.text
    assert '<svg class="chart"' in page.text
    assert page.text.count('<rect class="bar"') >= 1
    assert re.search(r"<title>\d{4}-\d\d-\d\d: 3</title>", page.text)
    assert "0 of 3 valid tickets admitted." in page.text


def test_holds_in_progress_are_listed(client: TestClient) -> None:
    owner, org, event = _sold_event(client)
    ticket_type = event["ticket_types"][0]["id"]
    held = client.post(
        "/api/v1/orders",
        json={
            "event_id": event["id"],
            "items": [{"ticket_type_id": ticket_type, "quantity": 2}],
            "buyer": {"name": "Holder Person", "email": "holder@example.com"},
        },
    )
    assert held.status_code == 201, held.text
    web_login(client, owner["email"])
    page = get_page(client, f"/organizer/{org}/events/{event['id']}")
    assert "Holder Person" in page.text
    assert "most recent of" not in page.text  # every hold is listed


def test_many_holds_list_the_most_recent_and_say_how_many(client: TestClient, monkeypatch) -> None:
    from admitone.web.pages import organizer_sales

    monkeypatch.setattr(organizer_sales, "HOLDS_SHOWN", 2)
    owner, org, event = _sold_event(client)
    ticket_type = event["ticket_types"][0]["id"]
    for index in range(3):
        held = client.post(
            "/api/v1/orders",
            json={
                "event_id": event["id"],
                "items": [{"ticket_type_id": ticket_type, "quantity": 1}],
                "buyer": {"name": f"Holder {index}", "email": f"holder{index}@example.com"},
            },
        )
        assert held.status_code == 201, held.text
    web_login(client, owner["email"])
    page = get_page(client, f"/organizer/{org}/events/{event['id']}")
    assert "Holder 2" in page.text and "Holder 1" in page.text
    assert "Holder 0" not in page.text  # the oldest is beyond the two shown
    assert "The 2 most recent of 3 orders waiting for payment." in page.text
    # The paid figures are unchanged by holds: 3 x 25.00 on Standing.
    assert "€75.00" in page.text


def test_orders_search_and_refund_with_confirmation(client: TestClient) -> None:
    owner, org, event = _sold_event(client)
    web_login(client, owner["email"])
    base = f"/organizer/{org}/events/{event['id']}/orders"
    found = get_page(client, f"{base}?q=zoe")
    assert "Zoé Martin" in found.text
    assert "1 order" in found.text
    assert "Zoé Martin" not in get_page(client, f"{base}?q=nobody").text
    refund_url = re.search(r'href="([^"]+/refund)"', found.text).group(1)
    confirm = get_page(client, refund_url)
    assert "Yes, refund €75.00" in confirm.text
    # Nothing happened yet: the confirmation page is only a question.
    assert (
        client.get(f"/api/v1/events/{event['slug']}").json()["data"]["ticket_types"][0]["available"]
        == 97
    )
    done = post_form(client, refund_url, {"reason": "asked by phone"})
    assert done.status_code == 303
    listing = get_page(client, done.headers["location"])
    assert "The order was refunded and its tickets revoked." in listing.text
    assert "Refunded" in listing.text
    assert (
        client.get(f"/api/v1/events/{event['slug']}").json()["data"]["ticket_types"][0]["available"]
        == 100
    )
    again = post_form(client, refund_url, {}, from_url=base)
    assert again.status_code == 409


def test_attendee_csv_export(client: TestClient) -> None:
    owner, org, event = _sold_event(client)
    web_login(client, owner["email"])
    response = get_page(client, f"/organizer/{org}/events/{event['id']}/attendees.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 3
    assert {row["buyer_email"] for row in rows} == {"zoe@example.com"}
    assert {row["ticket_type"] for row in rows} == {"Standing"}


def test_csv_cells_cannot_become_formulas(client: TestClient) -> None:
    owner = register(client)
    org = create_org(client, owner["headers"])["slug"]
    event = create_event(client, owner["headers"], org)
    client.cookies.clear()
    buy(client, event, 1, name='=HYPERLINK("http://evil")', email="x@example.com")
    client.cookies.clear()
    web_login(client, owner["email"])
    text = get_page(client, f"/organizer/{org}/events/{event['id']}/attendees.csv").text
    assert "'=HYPERLINK" in text


def test_staff_see_the_event_but_not_orders_or_refunds(client: TestClient) -> None:
    owner, org, event = _sold_event(client)
    staff = register(client)
    add_member(client, owner["headers"], org, staff["email"], "staff")
    web_login(client, staff["email"])
    page = get_page(client, f"/organizer/{org}/events/{event['id']}")
    assert page.status_code == 200
    assert "€75.00" not in page.text
    assert get_page(client, f"/organizer/{org}/events/{event['id']}/orders").status_code == 403
    assert (
        get_page(client, f"/organizer/{org}/events/{event['id']}/attendees.csv").status_code == 403
    )
