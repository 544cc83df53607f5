"""From a purchase to the gate, through the public API only.

The event is made with the events API, bought with ``POST /api/v1/orders``, paid with
the built-in test provider, shown in "my tickets", scanned by gate staff and then
refunded by the organizer.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.helpers import event_with_staff, register


def _pay(client: TestClient, order: dict[str, Any]) -> None:
    token = {"X-Order-Token": order["access_token"]}
    payment = client.post(f"/api/v1/orders/{order['id']}/pay", headers=token)
    assert payment.status_code == 201, payment.text
    approved = client.post(
        f"/api/v1/payments/test/{payment.json()['data']['id']}/approve", headers=token
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["data"]["outcome"] == "paid"


def test_buy_pay_scan_refund(client: TestClient):
    owner, org, event, staff = event_with_staff(
        client, ticket_types=[{"name": "Standing", "capacity": 50}]
    )

    buyer = register(client, full_name="Grace Hopper")
    response = client.post(
        "/api/v1/orders",
        json={
            "event_id": event["id"],
            "items": [{"ticket_type_id": event["ticket_types"][0]["id"], "quantity": 2}],
            "buyer": {"name": "Grace Hopper", "email": buyer["email"]},
        },
        headers=buyer["headers"],
    )
    assert response.status_code == 201, response.text
    order = response.json()["data"]
    _pay(client, order)

    mine = client.get("/api/v1/me/tickets", headers=buyer["headers"]).json()
    assert mine["meta"]["total"] == 2
    tickets = mine["data"]
    assert {t["order"]["id"] for t in tickets} == {order["id"]}
    assert {t["holder_name"] for t in tickets} == {"Grace Hopper"}
    assert {t["ticket_type"]["name"] for t in tickets} == {"Standing"}
    first, second = tickets
    qr_svg = client.get(first["qr_svg_url"], headers=buyer["headers"])
    assert qr_svg.status_code == 200 and qr_svg.text.startswith("<svg")
    # The guest link's token opens the ticket too.
    by_token = client.get(f"/api/v1/tickets/{first['id']}", params={"token": order["access_token"]})
    assert by_token.json()["data"]["qr_payload"] == first["qr_payload"]

    checkins = f"/api/v1/events/{event['id']}/checkins"
    admitted = client.post(
        checkins, json={"qr": first["qr_payload"], "gate": "Main"}, headers=staff["headers"]
    )
    assert admitted.status_code == 200, admitted.text
    assert admitted.json()["data"]["result"] == "admitted"
    again = client.post(checkins, json={"qr": first["qr_payload"]}, headers=staff["headers"])
    assert again.json()["data"]["result"] == "already_admitted"
    assert again.json()["data"]["first_admission"]["gate"] == "Main"

    stats = client.get(f"{checkins}/stats", headers=staff["headers"]).json()["data"]
    assert (stats["admitted"], stats["total"]) == (1, 2)

    refund = client.post(
        f"/api/v1/organizations/{org['slug']}/events/{event['id']}/orders/{order['id']}/refund",
        headers=owner["headers"],
    )
    assert refund.status_code == 200, refund.text
    revoked = client.post(checkins, json={"qr": second["qr_payload"]}, headers=staff["headers"])
    assert revoked.json()["data"]["result"] == "revoked"
    stats = client.get(f"{checkins}/stats", headers=staff["headers"]).json()["data"]
    assert (stats["admitted"], stats["total"]) == (0, 0)
    ticket = client.get(f"/api/v1/tickets/{second['id']}", headers=buyer["headers"]).json()
    assert ticket["data"]["status"] == "revoked" and ticket["data"]["qr_payload"] is None
