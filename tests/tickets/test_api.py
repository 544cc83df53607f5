"""Tickets API: my tickets, one ticket, its QR code, and who may see them."""

from __future__ import annotations

import struct
import uuid

import pytest

from tests.helpers import auth, register
from tests.tickets.factories import World, make_paid_order, make_platform_admin, refund_order

TICKET_URLS = ("/api/v1/tickets/{id}", "/api/v1/tickets/{id}/qr.svg", "/api/v1/tickets/{id}/qr.png")


class TestMyTickets:
    def test_lists_my_tickets_only(self, world: World):
        # Another buyer's order of the same event must not show up.
        make_paid_order(world.database, world.event, user_id=register(world.client)["user"]["id"])
        response = world.client.get("/api/v1/me/tickets", headers=world.buyer["headers"])
        assert response.status_code == 200
        body = response.json()
        assert {item["id"] for item in body["data"]} == {str(t) for t in world.order.ticket_ids}
        assert body["meta"] == {"page": 1, "per_page": 20, "total": 3}
        names = sorted(item["ticket_type"]["name"] for item in body["data"])
        assert names == ["General", "General", "VIP"]
        assert all(item["qr_payload"] for item in body["data"])

    def test_pagination(self, world: World):
        first = world.client.get(
            "/api/v1/me/tickets?per_page=2", headers=world.buyer["headers"]
        ).json()
        second = world.client.get(
            "/api/v1/me/tickets?per_page=2&page=2", headers=world.buyer["headers"]
        ).json()
        assert len(first["data"]) == 2 and len(second["data"]) == 1
        assert first["meta"]["total"] == second["meta"]["total"] == 3
        ids = {item["id"] for item in first["data"] + second["data"]}
        assert ids == {str(t) for t in world.order.ticket_ids}

    def test_bad_paging_is_422(self, world: World):
        for query in ("per_page=0", "per_page=101", "page=0", "page=x"):
            response = world.client.get(
                f"/api/v1/me/tickets?{query}", headers=world.buyer["headers"]
            )
            assert response.status_code == 422, query

    def test_needs_login(self, world: World):
        response = world.client.get("/api/v1/me/tickets")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "NOT_AUTHENTICATED"

    def test_new_account_has_none(self, world: World):
        response = world.client.get("/api/v1/me/tickets", headers=register(world.client)["headers"])
        assert response.json() == {"data": [], "meta": {"page": 1, "per_page": 20, "total": 0}}


class TestOneTicket:
    def test_fields(self, world: World):
        ticket_id = world.order.ticket_ids[0]
        response = world.client.get(f"/api/v1/tickets/{ticket_id}", headers=world.buyer["headers"])
        assert response.status_code == 200
        assert "no-store" in response.headers["cache-control"]
        data = response.json()["data"]
        assert data["id"] == str(ticket_id)
        assert data["status"] == "valid"
        assert data["holder_name"] == "Ada Lovelace"
        assert data["event"]["title"] == "Night Show"
        assert data["event"]["id"] == str(world.event.id)
        assert data["ticket_type"]["name"] in {"General", "VIP"}
        assert data["order"] == {"id": str(world.order.id), "code": world.order.code}
        assert len(data["qr_payload"]) == 181
        assert data["qr_svg_url"] == f"/api/v1/tickets/{ticket_id}/qr.svg"
        assert data["qr_png_url"] == f"/api/v1/tickets/{ticket_id}/qr.png"
        assert data["admitted_at"] is None and data["revoked_at"] is None

    def test_admission_shows_on_the_ticket(self, world: World):
        ticket_id = world.order.ticket_ids[0]
        url = f"/api/v1/tickets/{ticket_id}"
        payload = world.client.get(url, headers=world.buyer["headers"]).json()["data"]["qr_payload"]
        scan = world.client.post(
            f"/api/v1/events/{world.event.id}/checkins",
            json={"qr": payload},
            headers=world.owner["headers"],
        )
        assert scan.json()["data"]["result"] == "admitted"
        data = world.client.get(url, headers=world.buyer["headers"]).json()["data"]
        assert data["admitted_at"] is not None
        # The lists say the same, each ticket its own (one statement with the tickets).
        for listing in (f"/api/v1/orders/{world.order.id}/tickets", "/api/v1/me/tickets"):
            listed = world.client.get(listing, headers=world.buyer["headers"]).json()["data"]
            admitted = {ticket["id"]: ticket["admitted_at"] for ticket in listed}
            assert admitted.pop(str(ticket_id)) == data["admitted_at"]
            assert admitted and set(admitted.values()) == {None}

    def test_revoked_ticket_has_no_qr(self, world: World):
        refund_order(world.database, world.order.id)
        ticket_id = world.order.ticket_ids[0]
        data = world.client.get(
            f"/api/v1/tickets/{ticket_id}", headers=world.buyer["headers"]
        ).json()["data"]
        assert data["status"] == "revoked"
        assert data["revoked_at"] is not None
        assert data["qr_payload"] is None and data["qr_svg_url"] is None
        for suffix in ("qr.svg", "qr.png"):
            response = world.client.get(
                f"/api/v1/tickets/{ticket_id}/{suffix}", headers=world.buyer["headers"]
            )
            assert response.status_code == 409
            assert response.json()["error"]["code"] == "TICKET_REVOKED"

    def test_unknown_and_malformed_ids(self, world: World):
        response = world.client.get(
            f"/api/v1/tickets/{uuid.uuid4()}", headers=world.buyer["headers"]
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "TICKET_NOT_FOUND"
        response = world.client.get("/api/v1/tickets/12345", headers=world.buyer["headers"])
        assert response.status_code == 422


class TestQrImages:
    def test_svg(self, world: World):
        response = world.client.get(
            f"/api/v1/tickets/{world.order.ticket_ids[0]}/qr.svg", headers=world.buyer["headers"]
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("image/svg+xml")
        assert "no-store" in response.headers["cache-control"]
        assert response.text.startswith("<svg")
        # Version 8 (49 modules) plus a 4-module quiet zone each side, 4 units per module.
        assert 'width="228"' in response.text

    def test_png(self, world: World):
        response = world.client.get(
            f"/api/v1/tickets/{world.order.ticket_ids[0]}/qr.png", headers=world.buyer["headers"]
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/png"
        png = response.content
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png[16:24])
        # (49 modules + 2 * 4 quiet zone) * 8 px: a QR version of 8, so at most 10.
        assert width == height == 57 * 8


class TestWhoMaySee:
    def _status(self, world: World, ticket_id: uuid.UUID, **kwargs) -> list[int]:
        return [
            world.client.get(url.format(id=ticket_id), **kwargs).status_code for url in TICKET_URLS
        ]

    def test_owner_of_the_order(self, world: World):
        assert (
            self._status(world, world.order.ticket_ids[0], headers=world.buyer["headers"])
            == [200] * 3
        )

    def test_buyer_of_another_order_gets_404(self, world: World):
        stranger = register(world.client)
        make_paid_order(world.database, world.event, user_id=stranger["user"]["id"])
        assert (
            self._status(world, world.order.ticket_ids[0], headers=stranger["headers"]) == [404] * 3
        )

    def test_anonymous_gets_404(self, world: World):
        assert self._status(world, world.order.ticket_ids[0]) == [404] * 3

    def test_order_token_in_query_or_header(self, world: World):
        guest = make_paid_order(world.database, world.event, buyer_name="Guest Buyer")
        ticket_id = guest.ticket_ids[0]
        assert self._status(world, ticket_id, params={"token": guest.token}) == [200] * 3
        assert self._status(world, ticket_id, headers={"X-Order-Token": guest.token}) == [200] * 3
        data = world.client.get(f"/api/v1/tickets/{ticket_id}?token={guest.token}").json()["data"]
        assert data["holder_name"] == "Guest Buyer"

    def test_wrong_or_other_orders_token_gets_404(self, world: World):
        guest = make_paid_order(world.database, world.event)
        other = make_paid_order(world.database, world.event)
        ticket_id = guest.ticket_ids[0]
        assert self._status(world, ticket_id, params={"token": other.token}) == [404] * 3
        assert self._status(world, ticket_id, params={"token": guest.token + "x"}) == [404] * 3
        assert self._status(world, ticket_id, headers={"X-Order-Token": "nope"}) == [404] * 3
        # The stored hash itself is not the token.
        from admitone.authorization import hash_order_token

        hashed = hash_order_token(guest.token)
        assert self._status(world, ticket_id, params={"token": hashed}) == [404] * 3

    def test_overlong_token_is_422(self, world: World):
        response = world.client.get(
            f"/api/v1/tickets/{world.order.ticket_ids[0]}", params={"token": "x" * 300}
        )
        assert response.status_code == 422

    @pytest.mark.parametrize("role", ["owner", "admin"])
    def test_organizer_with_view_orders(self, world: World, role: str):
        headers = world.owner["headers"] if role == "owner" else world.member(role)["headers"]
        assert self._status(world, world.order.ticket_ids[0], headers=headers) == [200] * 3

    @pytest.mark.parametrize("role", ["staff", "cashier"])
    def test_members_without_view_orders_get_404(self, world: World, role: str):
        headers = world.member(role)["headers"]
        assert self._status(world, world.order.ticket_ids[0], headers=headers) == [404] * 3

    def test_owner_of_another_organization_gets_404(self, world: World):
        headers = world.other_owner["headers"]
        assert self._status(world, world.order.ticket_ids[0], headers=headers) == [404] * 3
        # Nor do their own tickets show the other organization's.
        mine = world.client.get("/api/v1/me/tickets", headers=headers).json()
        assert mine["meta"]["total"] == 0

    def test_platform_admin(self, world: World):
        admin = register(world.client)
        make_platform_admin(world.database, admin["user"]["id"])
        assert self._status(world, world.order.ticket_ids[0], headers=admin["headers"]) == [200] * 3

    def test_invalid_bearer_token_is_401(self, world: World):
        response = world.client.get(
            f"/api/v1/tickets/{world.order.ticket_ids[0]}", headers=auth("garbage")
        )
        assert response.status_code == 401


def test_list_order_tickets_service(world: World, settings):
    from admitone.accounts.models import User
    from admitone.tickets import service
    from admitone.tickets.signing import KeyRing

    keys = KeyRing(settings=settings, database=world.database)
    with world.database.session(write=False) as session:
        buyer = session.get(User, uuid.UUID(world.buyer["user"]["id"]))
        stranger = session.get(User, uuid.UUID(world.other_owner["user"]["id"]))
        views = service.list_order_tickets(
            session, order_id=world.order.id, user=buyer, order_token=None, keys=keys
        )
        by_token = service.list_order_tickets(
            session, order_id=world.order.id, user=None, order_token=world.order.token, keys=keys
        )
        hidden = service.list_order_tickets(
            session, order_id=world.order.id, user=stranger, order_token="wrong", keys=keys
        )
    assert [view.ticket_type.name for view in views] == ["General", "General", "VIP"]
    assert {view.ticket.id for view in views} == set(world.order.ticket_ids)
    assert [view.qr_payload for view in by_token] == [view.qr_payload for view in views]
    assert all(view.qr_payload for view in views)
    assert hidden == []


class TestOrderTickets:
    def test_guest_reads_the_tickets_of_its_order_with_the_token(self, world: World):
        guest = make_paid_order(world.database, world.event, buyer_name="Guest Buyer")
        url = f"/api/v1/orders/{guest.id}/tickets"
        response = world.client.get(url, params={"token": guest.token})
        assert response.status_code == 200
        body = response.json()
        assert {ticket["id"] for ticket in body["data"]} == {str(i) for i in guest.ticket_ids}
        assert body["meta"]["total"] == len(guest.ticket_ids)
        assert all(ticket["qr_payload"] for ticket in body["data"])
        assert response.headers["cache-control"] == "private, no-store"

    def test_others_see_nothing(self, world: World):
        guest = make_paid_order(world.database, world.event)
        url = f"/api/v1/orders/{guest.id}/tickets"
        assert world.client.get(url).json()["data"] == []
        assert world.client.get(url, params={"token": "wrong-token"}).json()["data"] == []
        other = world.client.get(url, headers=world.other_owner["headers"]).json()
        assert other["data"] == []

    def test_organizer_reads_them(self, world: World):
        url = f"/api/v1/orders/{world.order.id}/tickets"
        response = world.client.get(url, headers=world.owner["headers"])
        assert len(response.json()["data"]) == len(world.order.ticket_ids)
