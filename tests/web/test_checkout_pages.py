"""Buying through the pages: the event page's choice and details hold the seats at once,
then the countdown, the test provider, the tickets."""

from __future__ import annotations

import csv
import io
import re

from fastapi.testclient import TestClient

from tests.helpers import create_org, register
from tests.web.helpers import HTML, create_event, csrf_from, get_page, web_login


def _event(client: TestClient, **kwargs) -> dict:
    owner = register(client)
    org = create_org(client, owner["headers"])["slug"]
    event = create_event(client, owner["headers"], org, **kwargs)
    return {**event, "org": org, "owner": owner}


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3] if "://" in url else url


def buy(
    client: TestClient,
    event: dict,
    quantity: int = 2,
    *,
    name: str = "Guest Person",
    email: str = "guest@example.com",
    approve: bool = True,
) -> str:
    """Walk the pages from the event to the confirmation; returns the order page path."""
    ticket_type = event["ticket_types"][0]["id"]
    page = get_page(client, f"/events/{event['slug']}")
    held = client.post(
        "/checkout/reserve",
        data={
            "csrf_token": csrf_from(page.text),
            "event": event["slug"],
            f"qty-{ticket_type}": str(quantity),
            "buyer_name": name,
            "buyer_email": email,
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert held.status_code == 303, held.text
    order_path = held.headers["location"]
    order_page = get_page(client, order_path)
    paying = client.post(
        f"{order_path}/pay",
        data={"csrf_token": csrf_from(order_page.text)},
        headers=HTML,
        follow_redirects=False,
    )
    assert paying.status_code == 303
    provider = get_page(client, _path(paying.headers["location"]))
    assert "Test mode: no money moves" in provider.text
    action = "approve" if approve else "decline"
    form_action = re.search(rf'action="(/pay/test/[^"]+/{action})"', provider.text).group(1)
    done = client.post(form_action, data={"csrf_token": csrf_from(provider.text)}, headers=HTML)
    assert done.status_code == 200
    return order_path


def test_the_event_page_asks_the_details_prefilled_for_an_account(client: TestClient) -> None:
    event = _event(client)
    guest_page = get_page(client, f"/events/{event['slug']}").text
    form = guest_page.split('action="/checkout/reserve"', 1)[1].split("</form>", 1)[0]
    assert 'name="buyer_name" type="text" value=""' in form
    assert 'name="buyer_email" type="email" value=""' in form
    assert "Hold my tickets" in form

    buyer = register(client, full_name="Ada Lovelace")
    web_login(client, buyer["email"])
    page = get_page(client, f"/events/{event['slug']}")
    assert 'name="buyer_name" type="text" value="Ada Lovelace"' in page.text
    assert f'name="buyer_email" type="email" value="{buyer["email"]}"' in page.text
    # A page with the account's address is this browser's only.
    assert page.headers["cache-control"] == "no-store"


def test_leaving_the_event_page_holds_the_seats_at_once(client: TestClient) -> None:
    event = _event(client)
    ticket_type = event["ticket_types"][0]["id"]
    page = get_page(client, f"/events/{event['slug']}")
    held = client.post(
        "/checkout/reserve",
        data={
            "csrf_token": csrf_from(page.text),
            "event": event["slug"],
            f"qty-{ticket_type}": "3",
            "buyer_name": "Quick Guest",
            "buyer_email": "quick-guest@example.com",
        },
        headers=HTML,
        follow_redirects=False,
    )
    # Straight from the event page to the hold and its countdown: no step in between.
    assert held.status_code == 303 and held.headers["location"].startswith("/orders/")
    availability = client.get(f"/api/v1/events/{event['slug']}").json()["data"]
    assert availability["ticket_types"][0]["available"] == 97
    order_page = get_page(client, held.headers["location"])
    assert "data-countdown=" in order_page.text and "€75.00" in order_page.text


def test_choosing_nothing_and_bad_details_are_all_said_at_once(client: TestClient) -> None:
    event = _event(client)
    page = get_page(client, f"/events/{event['slug']}")
    response = client.post(
        "/checkout/reserve",
        data={
            "csrf_token": csrf_from(page.text),
            "event": event["slug"],
            "buyer_name": "Kept Name",
            "buyer_email": "not-an-address",
        },
        headers=HTML,
    )
    assert response.status_code == 422
    assert "Choose at least one ticket." in response.text
    assert 'id="f-buyer_email-error"' in response.text
    assert 'value="Kept Name"' in response.text and 'value="not-an-address"' in response.text


def test_bad_buyer_details_are_shown_next_to_the_fields(client: TestClient) -> None:
    event = _event(client)
    ticket_type = event["ticket_types"][0]["id"]
    page = get_page(client, f"/events/{event['slug']}")
    response = client.post(
        "/checkout/reserve",
        data={
            "csrf_token": csrf_from(page.text),
            "event": event["slug"],
            f"qty-{ticket_type}": "1",
            "buyer_name": "",
            "buyer_email": "nope",
        },
        headers=HTML,
    )
    assert response.status_code == 422
    assert 'id="f-buyer_name-error"' in response.text
    assert 'id="f-buyer_email-error"' in response.text
    availability = client.get(f"/api/v1/events/{event['slug']}").json()["data"]
    assert availability["ticket_types"][0]["available"] == 100  # nothing was held


def test_hold_page_shows_a_countdown_and_holds_the_seats(client: TestClient) -> None:
    event = _event(client)
    ticket_type = event["ticket_types"][0]["id"]
    page = get_page(client, f"/events/{event['slug']}")
    held = client.post(
        "/checkout/reserve",
        data={
            "csrf_token": csrf_from(page.text),
            "event": event["slug"],
            f"qty-{ticket_type}": "2",
            "buyer_name": "Guest",
            "buyer_email": "guest@example.com",
        },
        headers=HTML,
        follow_redirects=False,
    )
    order_page = get_page(client, held.headers["location"])
    assert re.search(r'data-countdown="\d{4}-\d\d-\d\dT[^"]+Z"', order_page.text)
    assert "Pay €50.00" in order_page.text
    availability = client.get(f"/api/v1/events/{event['slug']}").json()["data"]
    assert availability["ticket_types"][0]["available"] == 98


def test_too_many_tickets_is_refused_without_a_500(client: TestClient) -> None:
    event = _event(client, ticket_types=[{"name": "Tiny", "price_minor": 1000, "capacity": 1}])
    ticket_type = event["ticket_types"][0]["id"]
    page = get_page(client, f"/events/{event['slug']}")
    response = client.post(
        "/checkout/reserve",
        data={
            "csrf_token": csrf_from(page.text),
            "event": event["slug"],
            f"qty-{ticket_type}": "5",
            "buyer_name": "Guest",
            "buyer_email": "guest@example.com",
        },
        headers=HTML,
    )
    assert 400 <= response.status_code < 500
    assert 'role="alert"' in response.text


def test_guest_buys_and_sees_tickets_with_qr_codes(client: TestClient) -> None:
    event = _event(client)
    order_path = buy(client, event, 2)
    confirmation = get_page(client, order_path)
    assert "Here are your tickets" in confirmation.text
    assert confirmation.text.count('<img class="qr" src="data:image/svg+xml;base64,') == 2
    secret = re.search(r'href="https?://[^"]+(/orders/[^"]+\?token=[^"]+)"', confirmation.text)
    assert secret
    # Another browser with the secret link sees the order; without it, a 404.
    client.cookies.clear()
    assert get_page(client, order_path).status_code == 404
    opened = get_page(client, secret.group(1).replace("&amp;", "&"))
    assert opened.status_code == 200
    assert opened.text.count('class="qr"') == 2


def test_declined_payment_keeps_the_order_payable(client: TestClient) -> None:
    event = _event(client)
    order_path = buy(client, event, 1, approve=False)
    page = get_page(client, order_path)
    assert "Pay for your tickets" in page.text
    assert 'class="qr"' not in page.text


def test_logged_in_buyer_finds_orders_and_tickets_in_the_account(client: TestClient) -> None:
    event = _event(client, title="Account Night")
    buyer = register(client)
    web_login(client, buyer["email"])
    order_path = buy(client, event, 2, email=buyer["email"])
    orders = get_page(client, "/account/orders")
    assert order_path in orders.text
    assert "Paid" in orders.text
    tickets = get_page(client, "/account/tickets")
    assert tickets.text.count('<img class="qr"') == 2
    assert "Account Night" in tickets.text


def test_cancel_a_hold_releases_the_seats(client: TestClient) -> None:
    event = _event(client)
    ticket_type = event["ticket_types"][0]["id"]
    page = get_page(client, f"/events/{event['slug']}")
    held = client.post(
        "/checkout/reserve",
        data={
            "csrf_token": csrf_from(page.text),
            "event": event["slug"],
            f"qty-{ticket_type}": "4",
            "buyer_name": "Guest",
            "buyer_email": "guest@example.com",
        },
        headers=HTML,
        follow_redirects=False,
    )
    order_path = held.headers["location"]
    order_page = get_page(client, order_path)
    cancelled = client.post(
        f"{order_path}/cancel", data={"csrf_token": csrf_from(order_page.text)}, headers=HTML
    )
    assert cancelled.status_code == 200
    assert "Order cancelled" in cancelled.text
    availability = client.get(f"/api/v1/events/{event['slug']}").json()["data"]
    assert availability["ticket_types"][0]["available"] == 100


def test_only_the_buyers_browser_reaches_the_test_payment(client: TestClient) -> None:
    # Issue 13: the test provider's page and buttons answer the order's own buyer only
    # (their login, or the order's secret remembered by their browser).
    event = _event(client)
    order_path = buy(client, event, 1, approve=False)  # declined: still payable
    order_page = get_page(client, order_path)
    paying = client.post(
        f"{order_path}/pay",
        data={"csrf_token": csrf_from(order_page.text)},
        headers=HTML,
        follow_redirects=False,
    )
    provider_path = _path(paying.headers["location"])
    with TestClient(client.app, raise_server_exceptions=False) as stranger:
        page = get_page(stranger, f"/events/{event['slug']}")
        assert stranger.get(provider_path, headers=HTML).status_code == 404
        pressed = stranger.post(
            f"{provider_path}/approve", data={"csrf_token": csrf_from(page.text)}, headers=HTML
        )
        assert pressed.status_code == 404
        assert stranger.get(f"{provider_path}/done", headers=HTML).status_code == 404
    provider = get_page(client, provider_path)
    done = client.post(
        f"{provider_path}/approve", data={"csrf_token": csrf_from(provider.text)}, headers=HTML
    )
    # Approved: straight to the order's tickets (issue 15), no page in between.
    assert done.status_code == 200 and "Here are your tickets" in done.text


def test_the_web_form_counts_against_the_apis_hold_limits(make_app) -> None:
    # Issue 13: a hold made through the API and one through the pages are one client's.
    with TestClient(make_app(max_held_seats_per_client=3), raise_server_exceptions=False) as client:
        event = _event(client)
        ticket_type = event["ticket_types"][0]["id"]
        held = client.post(
            "/api/v1/orders",
            json={
                "event_id": event["id"],
                "items": [{"ticket_type_id": ticket_type, "quantity": 3}],
                "buyer": {"name": "Guest Person", "email": "guest@example.com"},
            },
        )
        assert held.status_code == 201
        for language, text in (
            ("en", "You already hold as many unpaid tickets for this event as allowed at once."),
            ("fr", "Vous avez déjà autant de billets non payés pour cet événement"),
        ):
            page = get_page(client, f"/events/{event['slug']}")
            refused = client.post(
                "/checkout/reserve",
                data={
                    "csrf_token": csrf_from(page.text),
                    "event": event["slug"],
                    f"qty-{ticket_type}": "1",
                    "buyer_name": "Guest Person",
                    "buyer_email": "guest@example.com",
                },
                headers={**HTML, "accept-language": language},
                follow_redirects=False,
            )
            assert refused.status_code == 409
            assert text in refused.text


def test_the_organizer_form_sets_the_limit_per_buyer(client: TestClient) -> None:
    from tests.web.helpers import post_form

    event = _event(client)
    owner = event["owner"]
    web_login(client, owner["email"])
    ticket_type = event["ticket_types"][0]
    path = f"/organizer/{event['org']}/events/{event['id']}/ticket-types/{ticket_type['id']}/edit"
    form = get_page(client, path)
    assert 'name="max_per_buyer"' in form.text
    values = {
        "name": ticket_type["name"],
        "price": "25.00",
        "capacity": str(ticket_type["capacity"]),
        "min_per_order": "1",
        "max_per_order": "10",
        "max_per_buyer": "4",
        "position": "0",
        "is_active": "on",
    }
    saved = post_form(client, path, values)
    assert saved.status_code == 303, saved.text
    api = client.get(
        f"/api/v1/organizations/{event['org']}/events/{event['id']}/ticket-types/{ticket_type['id']}",
        headers=owner["headers"],
    )
    assert api.json()["data"]["max_per_buyer"] == 4
    assert 'value="4"' in get_page(client, path).text
    cleared = post_form(client, path, {**values, "max_per_buyer": ""})
    assert cleared.status_code == 303
    api = client.get(
        f"/api/v1/organizations/{event['org']}/events/{event['id']}/ticket-types/{ticket_type['id']}",
        headers=owner["headers"],
    )
    assert api.json()["data"]["max_per_buyer"] is None


def _event_page(client: TestClient, event: dict):
    return get_page(client, f"/events/{event['slug']}")


def _selected(html: str, type_id: str) -> str:
    """The quantity selected for a ticket type on the event page."""
    select = html.split(f'name="qty-{type_id}"', 1)[1].split("</select>", 1)[0]
    match = re.search(r'<option value="(\d+)" selected>', select)
    return match.group(1) if match else "0"


def _hold_through_the_api(client: TestClient, event: dict, type_id: str, quantity: int) -> dict:
    held = client.post(
        "/api/v1/orders",
        json={
            "event_id": event["id"],
            "items": [{"ticket_type_id": type_id, "quantity": quantity}],
            "buyer": {"name": "Quick Buyer", "email": "quick@example.com"},
        },
    )
    assert held.status_code == 201, held.text
    return held.json()["data"]


def test_seats_gone_during_checkout_keep_the_buyer_on_the_form(client: TestClient) -> None:
    event = _event(
        client,
        ticket_types=[
            {"name": "Balcony", "price_minor": 3000, "capacity": 3},
            {"name": "Floor", "price_minor": 2000, "capacity": 10},
        ],
    )
    balcony, floor = (t["id"] for t in event["ticket_types"])
    details = _event_page(client, event)
    assert details.status_code == 200
    _hold_through_the_api(client, event, balcony, 2)  # someone else was quicker

    again = client.post(
        "/checkout/reserve",
        data={
            "csrf_token": csrf_from(details.text),
            "event": event["slug"],
            f"qty-{balcony}": "3",
            f"qty-{floor}": "1",
            "buyer_name": "Camille Durand",
            "buyer_email": "camille@example.com",
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert again.status_code == 409
    assert "Not enough left of Balcony" in again.text  # the ticket type named
    assert 'value="Camille Durand"' in again.text and 'value="camille@example.com"' in again.text
    # The choice now holds what is left: 1 balcony seat, and the floor seat as chosen.
    assert _selected(again.text, balcony) == "1"
    assert _selected(again.text, floor) == "1"
    held = client.post(
        "/checkout/reserve",
        data={
            "csrf_token": csrf_from(again.text),
            "event": event["slug"],
            f"qty-{balcony}": "1",
            f"qty-{floor}": "1",
            "buyer_name": "Camille Durand",
            "buyer_email": "camille@example.com",
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert held.status_code == 303  # one more click holds it


def test_nothing_left_at_all_goes_back_to_the_event_page_naming_the_type(
    client: TestClient,
) -> None:
    event = _event(client, ticket_types=[{"name": "Balcony", "price_minor": 3000, "capacity": 2}])
    balcony = event["ticket_types"][0]["id"]
    details = _event_page(client, event)
    _hold_through_the_api(client, event, balcony, 2)
    again = client.post(
        "/checkout/reserve",
        data={
            "csrf_token": csrf_from(details.text),
            "event": event["slug"],
            f"qty-{balcony}": "2",
            "buyer_name": "Camille Durand",
            "buyer_email": "camille@example.com",
        },
        headers=HTML,
    )
    assert again.status_code == 409
    assert "Sold out while you were choosing: Balcony." in again.text


def test_held_seats_read_as_reserved_and_sold_seats_as_sold_out(client: TestClient) -> None:
    event = _event(
        client,
        ticket_types=[
            {"name": "Held", "price_minor": 1000, "capacity": 1},
            {"name": "Sold", "price_minor": 1000, "capacity": 1},
        ],
    )
    held_type, sold_type = (t["id"] for t in event["ticket_types"])
    _hold_through_the_api(client, event, held_type, 1)
    sold = _hold_through_the_api(client, event, sold_type, 1)
    payment = client.post(
        f"/api/v1/orders/{sold['id']}/pay", headers={"X-Order-Token": sold["access_token"]}
    ).json()["data"]
    client.post(
        f"/api/v1/payments/test/{payment['id']}/approve",
        headers={"X-Order-Token": sold["access_token"]},
    ).raise_for_status()

    page = get_page(client, f"/events/{event['slug']}").text
    held_row = page.split(f'data-ticket-type="{held_type}"', 1)[1].split("ticket-type-name", 2)[1]
    sold_row = page.split(f'data-ticket-type="{sold_type}"', 1)[1]
    assert "Reserved: seats may come back" in held_row and "Sold out" not in held_row
    assert "Sold out" in sold_row.split("</div>", 3)[0] + sold_row.split("</div>", 3)[1]
    api = client.get(f"/api/v1/events/{event['slug']}").json()["data"]["ticket_types"]
    flags = {t["name"]: (t["sold_out"], t["may_come_back"]) for t in api}
    assert flags == {"Held": (True, True), "Sold": (True, False)}


def test_an_expired_hold_starts_again_with_the_same_choice(client: TestClient, database) -> None:
    from tests.factories import expire_hold

    event = _event(client)
    ticket_type = event["ticket_types"][0]["id"]
    details = _event_page(client, event)
    held = client.post(
        "/checkout/reserve",
        data={
            "csrf_token": csrf_from(details.text),
            "event": event["slug"],
            f"qty-{ticket_type}": "3",
            "buyer_name": "Late Payer",
            "buyer_email": "late@example.com",
        },
        headers=HTML,
        follow_redirects=False,
    )
    order_path = held.headers["location"]
    expire_hold(database, order_path.rsplit("/", 1)[1])
    expired = get_page(client, order_path)
    assert "Your reservation has expired" in expired.text
    form = expired.text.split('action="/checkout/reserve"', 1)[1].split("</form>", 1)[0]
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form))
    assert fields[f"qty-{ticket_type}"] == "3" and fields["event"] == event["slug"]
    # One click holds the same choice again, for the same buyer.
    restarted = client.post("/checkout/reserve", data=fields, headers=HTML, follow_redirects=False)
    assert restarted.status_code == 303
    again = restarted.headers["location"]
    assert again != order_path
    order = get_page(client, again).text
    assert "data-countdown=" in order
    assert "Late Payer" in order and "late@example.com" in order
    assert re.search(r">\s*3\s*<", order.split("summary-table", 1)[1])


# --- attendee names (issue 15, point 5) ------------------------------------------------------


def _asking_event(client: TestClient) -> dict:
    """A published event whose organizer asks for each attendee's name."""
    event = _event(client, title="Named Night")
    response = client.patch(
        f"/api/v1/organizations/{event['org']}/events/{event['id']}",
        json={"ask_attendee_names": True},
        headers=event["owner"]["headers"],
    )
    assert response.status_code == 200, response.text
    return event


_NAME_FIELD = re.compile(
    r'<input id="f-(holder_name-[0-9a-f-]+)" name="[^"]+" type="text" value="([^"]*)"'
)


def _name_fields(html: str) -> dict[str, str]:
    return dict(_NAME_FIELD.findall(html))


def _holder_names(html: str) -> list[str]:
    """The names the ticket list shows, in its order."""
    return re.findall(r'<span class="badge badge-accent">[^<]*</span> ([^<]+)</p>', html)


def _pdf_text(content: bytes) -> list[str]:
    import pypdfium2

    document = pypdfium2.PdfDocument(content)
    try:
        return [document[i].get_textpage().get_text_range() for i in range(len(document))]
    finally:
        document.close()


def test_the_buyer_names_each_ticket_and_every_view_of_the_tickets_shows_it(
    client: TestClient,
) -> None:
    event = _asking_event(client)
    order_path = buy(client, event, 2, name="Guest Person")
    page = get_page(client, order_path)
    fields = _name_fields(page.text)
    # One field per ticket, holding the buyer's name, numbered as the list shows them.
    assert list(fields.values()) == ["Guest Person", "Guest Person"]
    assert "Name on ticket 1 (Standing)" in page.text and "Name on ticket 2 (Standing)" in page.text
    first, second = fields
    saved = client.post(
        f"{order_path}/attendee-names",
        data={"csrf_token": csrf_from(page.text), first: " Grace Hopper ", second: "Alan Turing"},
        headers=HTML,
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{order_path}?flash=attendee_names_saved"
    after = get_page(client, saved.headers["location"])
    assert "Names saved: the tickets show them now." in after.text
    assert _holder_names(after.text) == ["Grace Hopper", "Alan Turing"]
    assert list(_name_fields(after.text).values()) == ["Grace Hopper", "Alan Turing"]
    # The PDFs: all the tickets in one, and each ticket's own.
    pages = _pdf_text(get_page(client, f"{order_path}/tickets.pdf").content)
    assert ["Grace Hopper" in text for text in pages] == [True, False]
    assert ["Alan Turing" in text for text in pages] == [False, True]
    assert not any("Guest Person" in text for text in pages)
    ticket_id = first.removeprefix("holder_name-")
    single = _pdf_text(get_page(client, f"{order_path}/tickets/{ticket_id}.pdf").content)
    assert "Grace Hopper" in single[0]
    # The organizer's order page and attendee list.
    organizer = TestClient(client.app)
    web_login(organizer, event["owner"]["email"])
    order_id = order_path.rsplit("/", 1)[1]
    event_url = f"/organizer/{event['org']}/events/{event['id']}"
    record = get_page(organizer, f"{event_url}/orders/{order_id}")
    assert record.status_code == 200
    assert "<td>Grace Hopper</td>" in record.text and "<td>Alan Turing</td>" in record.text
    rows = list(csv.DictReader(io.StringIO(get_page(organizer, f"{event_url}/attendees.csv").text)))
    assert sorted(row["holder_name"] for row in rows) == ["Alan Turing", "Grace Hopper"]
    assert {row["buyer_name"] for row in rows} == {"Guest Person"}


def test_a_bad_name_is_shown_next_to_its_field_and_nothing_changes(client: TestClient) -> None:
    event = _asking_event(client)
    order_path = buy(client, event, 2)
    page = get_page(client, order_path)
    first, second = _name_fields(page.text)
    refused = client.post(
        f"{order_path}/attendee-names",
        data={"csrf_token": csrf_from(page.text), first: "Grace Hopper", second: "   "},
        headers=HTML,
    )
    assert refused.status_code == 422
    assert "Please correct the fields marked below." in refused.text
    assert f'id="f-{second}-error">This field is required.<' in refused.text
    # What was typed is kept; the change of the other ticket is not saved either.
    assert _name_fields(refused.text) == {first: "Grace Hopper", second: ""}
    assert _holder_names(get_page(client, order_path).text) == ["Guest Person", "Guest Person"]
    too_long = client.post(
        f"{order_path}/attendee-names",
        data={"csrf_token": csrf_from(page.text), first: "x" * 201},
        headers=HTML,
        follow_redirects=False,
    )
    assert too_long.status_code == 422
    assert "Use at most 200 characters." in too_long.text


def test_in_french(client: TestClient) -> None:
    event = _asking_event(client)
    order_path = buy(client, event, 1)
    french = {"Accept-Language": "fr"}
    page = get_page(client, order_path, headers=french)
    assert "Noms des participants" in page.text
    assert "Nom sur le billet 1 (Standing)" in page.text
    assert "Enregistrer les noms" in page.text
    (field,) = _name_fields(page.text)
    refused = client.post(
        f"{order_path}/attendee-names",
        data={"csrf_token": csrf_from(page.text), field: ""},
        headers={**HTML, **french},
    )
    assert refused.status_code == 422
    assert "Ce champ est obligatoire." in refused.text
    saved = client.post(
        f"{order_path}/attendee-names",
        data={"csrf_token": csrf_from(page.text), field: "Marie Curie"},
        headers=HTML,
    )
    assert saved.status_code == 200  # followed to the order page
    after = get_page(client, f"{order_path}?flash=attendee_names_saved", headers=french)
    assert "Noms enregistrés : les billets les affichent désormais." in after.text
    assert _holder_names(after.text) == ["Marie Curie"]


def test_no_names_form_unless_asked_and_only_for_tickets_that_may_change(
    client: TestClient,
) -> None:
    plain = _event(client)
    order_path = buy(client, plain, 1)
    page = get_page(client, order_path)
    assert "Attendee names" not in page.text and _name_fields(page.text) == {}
    # Posted anyway: refused with the reason, nothing changes.
    ticket_id = re.search(r"/tickets/([0-9a-f-]{36})\.pdf", page.text).group(1)
    refused = client.post(
        f"{order_path}/attendee-names",
        data={"csrf_token": csrf_from(page.text), f"holder_name-{ticket_id}": "Grace Hopper"},
        headers=HTML,
    )
    assert refused.status_code == 409
    assert "This event does not ask for attendee names" in refused.text
    assert _holder_names(get_page(client, order_path).text) == ["Guest Person"]
    # An admitted ticket keeps its name: no field for it, the other keeps its own.
    event = _asking_event(client)
    order_path = buy(client, event, 2)
    page = get_page(client, order_path)
    first, second = _name_fields(page.text)
    token = re.search(r"\?token=([^\"&]+)", page.text).group(1)
    order_id = order_path.rsplit("/", 1)[1]
    listed = client.get(f"/api/v1/orders/{order_id}/tickets", headers={"X-Order-Token": token})
    payload = next(
        t["qr_payload"]
        for t in listed.json()["data"]
        if t["id"] == first.removeprefix("holder_name-")
    )
    scan = client.post(
        f"/api/v1/events/{event['id']}/checkins",
        json={"qr": payload},
        headers=event["owner"]["headers"],
    )
    assert scan.json()["data"]["result"] == "admitted"
    assert list(_name_fields(get_page(client, order_path).text)) == [second]
    # Posted for the admitted ticket anyway (a stale page): refused, said next to it.
    stale = client.post(
        f"{order_path}/attendee-names",
        data={"csrf_token": csrf_from(page.text), first: "Too Late", second: "Alan Turing"},
        headers=HTML,
    )
    assert stale.status_code == 409
    assert "already admitted at the entrance" in stale.text
    assert _holder_names(get_page(client, order_path).text) == ["Guest Person", "Guest Person"]


def test_only_the_buyers_browser_may_name_the_tickets(client: TestClient) -> None:
    event = _asking_event(client)
    order_path = buy(client, event, 1)
    page = get_page(client, order_path)
    (field,) = _name_fields(page.text)
    for stranger in (TestClient(client.app), client):
        if stranger is client:
            client.cookies.clear()  # the buyer's browser, having forgotten the order
        csrf = csrf_from(get_page(stranger, "/").text)
        refused = stranger.post(
            f"{order_path}/attendee-names",
            data={"csrf_token": csrf, field: "Mallory"},
            headers=HTML,
        )
        assert refused.status_code == 404
