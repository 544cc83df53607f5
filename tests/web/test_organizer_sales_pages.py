"""The organizer's event page: figures, chart, holds, orders search, refund, CSV export."""

from __future__ import annotations

import csv
import email
import io
import re

from fastapi.testclient import TestClient

from tests.helpers import add_member, create_org, register
from tests.web.helpers import HTML, create_event, csrf_from, get_page, post_form, web_login
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
        r"Standing</td>\s*<td class=\"num\">€25.00</td>\s*<td class=\"num\">0%</td>"
        r"\s*<td class=\"num\">3</td>",
        page.text,
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


def _order_url(client: TestClient, org: str, event: dict) -> str:
    listing = get_page(client, f"/organizer/{org}/events/{event['id']}/orders")
    match = re.search(
        rf'href="(/organizer/{org}/events/{event["id"]}/orders/[0-9a-f-]+)"', listing.text
    )
    assert match, "the order code links to the order's page"
    return match.group(1)


def _available(client: TestClient, event: dict) -> int:
    data = client.get(f"/api/v1/events/{event['slug']}").json()["data"]
    return data["ticket_types"][0]["available"]


def test_refund_some_tickets_of_an_order(client: TestClient) -> None:
    owner, org, event = _sold_event(client)
    web_login(client, owner["email"])
    order_url = _order_url(client, org, event)
    confirm = get_page(client, f"{order_url}/refund")
    ticket_ids = re.findall(r'name="ticket_id" value="([0-9a-f-]+)"', confirm.text)
    assert len(ticket_ids) == 3
    assert "Refund the ticked tickets" in confirm.text
    none_ticked = post_form(client, f"{order_url}/refund", {"scope": "tickets"})
    assert none_ticked.status_code == 422
    assert "Tick at least one ticket to refund." in none_ticked.text
    bad_id = post_form(client, f"{order_url}/refund", {"scope": "tickets", "ticket_id": "x"})
    assert bad_id.status_code == 422
    token = csrf_from(confirm.text)
    done = client.post(
        f"{order_url}/refund",
        data={"csrf_token": token, "scope": "tickets", "ticket_id": ticket_ids[:2]},
        headers=HTML,
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"].startswith(order_url)
    page = get_page(client, done.headers["location"])
    assert "The ticked tickets were refunded and revoked." in page.text
    assert page.text.count(">Revoked<") == 2 and page.text.count(">Valid<") == 1
    assert "€50.00" in page.text  # the refund of two tickets at 25.00
    assert _available(client, event) == 99
    # A revoked ticket cannot be refunded again: the refusal is on the page.
    again = client.post(
        f"{order_url}/refund",
        data={"csrf_token": token, "scope": "tickets", "ticket_id": ticket_ids[0]},
        headers=HTML,
        follow_redirects=False,
    )
    assert again.status_code == 409
    assert "no longer valid tickets of this order" in again.text
    # What is left to refund in full is the last ticket.
    assert "Yes, refund €25.00" in get_page(client, f"{order_url}/refund").text


def test_order_page_shows_tickets_payments_refunds_and_resends(make_app, tmp_path) -> None:
    from tests.notifications.conftest import wait_for_jobs

    outbox = tmp_path / "outbox"
    with TestClient(make_app(outbox_dir=outbox), raise_server_exceptions=False) as client:
        owner, org, event = _sold_event(client)
        web_login(client, owner["email"])
        order_url = _order_url(client, org, event)
        page = get_page(client, order_url)
        assert page.status_code == 200
        assert "Zoé Martin" in page.text and "zoe@example.com" in page.text
        assert page.text.count(">Valid<") == 3
        assert "Succeeded" in page.text and "No refund." in page.text
        wait_for_jobs()
        first = [
            p.read_bytes() for p in outbox.glob("*.eml") if b"zoe@example.com" in p.read_bytes()
        ]
        assert len(first) == 1  # the confirmation
        resent = post_form(client, f"{order_url}/resend", {}, from_url=order_url)
        assert resent.status_code == 303
        assert (
            "The tickets are on their way to the buyer again."
            in get_page(client, resent.headers["location"]).text
        )
        wait_for_jobs()
        mails = [
            p.read_bytes() for p in outbox.glob("*.eml") if b"zoe@example.com" in p.read_bytes()
        ]
        assert len(mails) == 2  # a second one, with its own Message-ID
        ids = {email.message_from_bytes(mail)["Message-ID"] for mail in mails}
        assert len(ids) == 2  # its own Message-ID: a mail client keeps both
        # Refunded: there is nothing to send again, and the page says why.
        post_form(client, f"{order_url}/refund", {}, from_url=f"{order_url}/refund")
        refused = post_form(client, f"{order_url}/resend", {}, from_url="/")
        assert refused.status_code == 409
        assert "This order is not paid." in refused.text
        assert "Refunds of this order" in refused.text


def test_order_page_and_actions_refuse_staff_and_strangers(client: TestClient) -> None:
    owner, org, event = _sold_event(client)
    web_login(client, owner["email"])
    order_url = _order_url(client, org, event)
    client.cookies.clear()
    staff = register(client)
    add_member(client, owner["headers"], org, staff["email"], "staff")
    web_login(client, staff["email"])
    assert get_page(client, order_url).status_code == 403
    assert post_form(client, f"{order_url}/resend", {}, from_url="/").status_code == 403
    assert (
        post_form(client, f"{order_url}/refund", {"scope": "tickets"}, from_url="/").status_code
        == 403
    )
    client.cookies.clear()
    stranger = register(client)
    web_login(client, stranger["email"])
    assert get_page(client, order_url).status_code == 404
    assert post_form(client, f"{order_url}/resend", {}, from_url="/").status_code == 404


def test_event_page_shows_the_payout_figures_of_the_api(client: TestClient) -> None:
    owner, org, event = _sold_event(client)
    web_login(client, owner["email"])
    order_url = _order_url(client, org, event)
    confirm = get_page(client, f"{order_url}/refund")
    first_ticket = re.search(r'name="ticket_id" value="([0-9a-f-]+)"', confirm.text).group(1)
    post_form(
        client,
        f"{order_url}/refund",
        {"scope": "tickets", "ticket_id": first_ticket},
        from_url=f"{order_url}/refund",
    )
    api = client.get(
        f"/api/v1/organizations/{org}/events/{event['id']}/payout", headers=owner["headers"]
    ).json()["data"]
    assert (api["gross_minor"], api["refunds_minor"]) == (7500, 2500)
    page = get_page(client, f"/organizer/{org}/events/{event['id']}")
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>(?:\u2212 )?(?:<strong>)?([^<]+)<", page.text))
    assert figures["Gross sales"] == "€75.00"
    assert figures["Refunds"] == "€25.00"
    assert figures["Platform fees"] == f"€{api['platform_fees_minor'] / 100:.2f}"
    assert figures["Net"] == f"€{api['net_minor'] / 100:.2f}"
    client.cookies.set("admitone_lang", "fr")
    french = get_page(client, f"/organizer/{org}/events/{event['id']}")
    assert "Ventes brutes" in french.text and "Frais de la plateforme" in french.text
    # Staff see the event, not the money.
    client.cookies.clear()
    staff = register(client)
    add_member(client, owner["headers"], org, staff["email"], "staff")
    web_login(client, staff["email"])
    assert "Gross sales" not in get_page(client, f"/organizer/{org}/events/{event['id']}").text


def test_delete_a_ticket_type_that_never_sold(client: TestClient) -> None:
    owner, org, event = _sold_event(client)
    standing, balcony = (t["id"] for t in event["ticket_types"])
    base = f"/organizer/{org}/events/{event['id']}"
    web_login(client, owner["email"])
    page = get_page(client, base)
    # Standing sold: no button, the reason instead; Balcony never sold: the button.
    assert f"ticket-types/{balcony}/delete" in page.text
    assert f"ticket-types/{standing}/delete" not in page.text
    assert "This ticket type has sales; deactivate it instead of deleting it." in page.text
    refused = post_form(client, f"{base}/ticket-types/{standing}/delete", {}, from_url=base)
    assert refused.status_code == 409
    assert "This ticket type has sales; deactivate it instead of deleting it." in refused.text
    done = post_form(client, f"{base}/ticket-types/{balcony}/delete", {}, from_url=base)
    assert done.status_code == 303
    after = get_page(client, done.headers["location"])
    assert "Ticket type deleted." in after.text
    assert "Balcony" not in after.text
    gone = post_form(client, f"{base}/ticket-types/{balcony}/delete", {}, from_url=base)
    assert gone.status_code == 404


def test_delete_a_ticket_type_refuses_staff_and_strangers(client: TestClient) -> None:
    owner, org, event = _sold_event(client)
    balcony = event["ticket_types"][1]["id"]
    url = f"/organizer/{org}/events/{event['id']}/ticket-types/{balcony}/delete"
    staff = register(client)
    add_member(client, owner["headers"], org, staff["email"], "staff")
    web_login(client, staff["email"])
    assert "/delete" not in get_page(client, f"/organizer/{org}/events/{event['id']}").text
    assert post_form(client, url, {}, from_url="/").status_code == 403
    client.cookies.clear()
    stranger = register(client)
    web_login(client, stranger["email"])
    assert post_form(client, url, {}, from_url="/").status_code == 404


def test_figures_of_a_cancelled_event_say_refunds_are_in_progress(
    client: TestClient, database
) -> None:
    import uuid

    from admitone.events.models import EventStatus
    from tests.factories import set_event_status

    owner, org, event = _sold_event(client)
    web_login(client, owner["email"])
    url = f"/organizer/{org}/events/{event['id']}"
    assert "refunds in progress" not in get_page(client, url).text
    # Straight after the cancellation, before the refund jobs have gone through.
    set_event_status(database, uuid.UUID(event["id"]), EventStatus.cancelled)
    page = get_page(client, url).text
    assert "Event cancelled: refunds in progress. 1 paid order is still to be refunded" in page
    french = get_page(client, url, headers={"Accept-Language": "fr"}).text
    assert "remboursements en cours" in french
    # Once refunded, the figures say so.
    order = get_page(client, f"{url}/orders").text
    order_id = re.search(r"/orders/([0-9a-f-]{36})", order).group(1)
    refunded = client.post(
        f"/api/v1/organizations/{org}/events/{event['id']}/orders/{order_id}/refund",
        headers=owner["headers"],
        json={},
    )
    assert refunded.status_code == 200, refunded.text
    assert "Event cancelled: every paid order is refunded." in get_page(client, url).text
