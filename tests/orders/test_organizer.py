"""The organizer's side: an event's orders, search, filters, refunds, and who may see them."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from admitone.payments.models import Payment, PaymentStatus, Refund
from admitone.tickets.models import Ticket, TicketStatus
from tests.factories import counters, expire_hold, make_shop
from tests.helpers import add_member, db_snapshot, register
from tests.orders.helpers import buy, create_order, read_order


def orders_url(shop, *parts: object) -> str:
    base = f"/api/v1/organizations/{shop.org_slug}/events/{shop.event_id}/orders"
    return "/".join([base, *map(str, parts)])


@pytest.fixture
def sales(client, shop):
    """Four orders: paid (Ada), pending (Bob), cancelled (Chloé), expired (Dan)."""
    paid = buy(client, shop, quantity=2, buyer={"name": "Ada Lovelace", "email": "ada@math.org"})
    pending = create_order(client, shop, buyer={"name": "Bob Stone", "email": "bob@rock.net"})
    cancelled = create_order(client, shop, buyer={"name": "Chloé Roy", "email": "chloe@x.fr"})
    client.post(
        f"/api/v1/orders/{cancelled['id']}/cancel",
        headers={"X-Order-Token": cancelled["access_token"]},
    )
    expired = create_order(client, shop, buyer={"name": "Dan Brown", "email": "dan@x.fr"})
    return {"paid": paid, "pending": pending, "cancelled": cancelled, "expired": expired}


class TestList:
    def test_lists_the_event_orders_newest_first(self, client, shop, owner, sales):
        response = client.get(orders_url(shop), headers=owner["headers"])
        assert response.status_code == 200
        body = response.json()
        assert body["meta"] == {"page": 1, "per_page": 20, "total": 4}
        assert [o["buyer"]["name"] for o in body["data"]] == [
            "Dan Brown",
            "Chloé Roy",
            "Bob Stone",
            "Ada Lovelace",
        ]
        assert body["data"][3]["items"][0]["quantity"] == 2
        assert "access_token" not in body["data"][0]

    @pytest.mark.parametrize(
        ("q", "names"),
        [
            ("ada", ["Ada Lovelace"]),
            ("ROCK.NET", ["Bob Stone"]),
            ("x.fr", ["Dan Brown", "Chloé Roy"]),
            ("nobody", []),
            ("%", []),  # LIKE wildcards are matched literally
            ("_", []),
        ],
    )
    def test_search_by_name_or_email(self, client, shop, owner, sales, q, names):
        response = client.get(orders_url(shop), params={"q": q}, headers=owner["headers"])
        assert [o["buyer"]["name"] for o in response.json()["data"]] == names
        assert response.json()["meta"]["total"] == len(names)

    def test_search_by_order_code(self, client, shop, owner, sales):
        code = sales["pending"]["code"]
        for q in (code, code.lower(), code[2:6]):
            response = client.get(orders_url(shop), params={"q": q}, headers=owner["headers"])
            assert sales["pending"]["id"] in [o["id"] for o in response.json()["data"]], q

    def test_status_filter_uses_what_the_reader_sees(
        self, client, shop, owner, sales, clean_database
    ):
        expire_hold(clean_database, sales["expired"]["id"])

        def names(status: str) -> list[str]:
            response = client.get(
                orders_url(shop), params={"status": status}, headers=owner["headers"]
            )
            assert response.status_code == 200
            return [o["buyer"]["name"] for o in response.json()["data"]]

        assert names("paid") == ["Ada Lovelace"]
        assert names("pending") == ["Bob Stone"]
        assert names("cancelled") == ["Chloé Roy"]
        assert names("expired") == ["Dan Brown"]
        assert names("refunded") == []

    def test_pages(self, client, shop, owner, sales):
        seen = []
        for page in (1, 2, 3):
            response = client.get(
                orders_url(shop), params={"page": page, "per_page": 2}, headers=owner["headers"]
            )
            seen += [o["id"] for o in response.json()["data"]]
        assert len(seen) == len(set(seen)) == 4

    def test_bad_filters(self, client, shop, owner):
        for params in (
            {"status": "lost"},
            {"per_page": 0},
            {"per_page": 101},
            {"page": -1},
            {"q": "x" * 201},
        ):
            response = client.get(orders_url(shop), params=params, headers=owner["headers"])
            assert response.status_code == 422, params
            assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        # NUL never reaches the route (PostgreSQL cannot store or compare it).
        response = client.get(orders_url(shop), params={"q": "a\x00b"}, headers=owner["headers"])
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "BAD_REQUEST"

    def test_one_order(self, client, shop, owner, sales):
        response = client.get(orders_url(shop, sales["paid"]["id"]), headers=owner["headers"])
        assert response.status_code == 200
        assert response.json()["data"]["status"] == "paid"
        assert response.json()["data"]["buyer"]["email"] == "ada@math.org"
        missing = client.get(orders_url(shop, uuid.uuid4()), headers=owner["headers"])
        assert missing.status_code == 404


class TestRefund:
    def test_refund_revokes_tickets_and_puts_seats_back(self, client, shop, owner, clean_database):
        order = buy(client, shop, quantity=3)
        assert counters(clean_database, shop.ticket_type_id).sold == 3
        response = client.post(
            orders_url(shop, order["id"], "refund"),
            json={"reason": "Asked by phone"},
            headers=owner["headers"],
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["status"] == "refunded"
        assert data["refunded_minor"] == data["total_minor"] == 7500
        c = counters(clean_database, shop.ticket_type_id)
        assert (c.sold, c.held, c.available) == (0, 0, 10)
        with clean_database.session(write=False) as session:
            tickets = session.scalars(
                select(Ticket).where(Ticket.order_id == uuid.UUID(order["id"]))
            ).all()
            refund = session.scalars(select(Refund)).one()
            payment = session.scalars(select(Payment)).one()
        assert len(tickets) == 3
        assert {t.status for t in tickets} == {TicketStatus.revoked}
        assert refund.amount_minor == 7500 and refund.currency == "EUR"
        assert refund.reason == "Asked by phone"
        assert refund.provider_ref.startswith("test_re_")  # the test provider recorded it
        assert payment.status == PaymentStatus.refunded
        # The buyer sees it, and the seats are on sale again.
        assert read_order(client, order)["status"] == "refunded"
        assert read_order(client, order)["refunded_minor"] == 7500
        create_order(client, shop, quantity=10)

    def test_refund_without_body(self, client, shop, owner):
        order = buy(client, shop)
        response = client.post(orders_url(shop, order["id"], "refund"), headers=owner["headers"])
        assert response.status_code == 200
        assert response.json()["data"]["status"] == "refunded"

    def test_only_paid_orders_once(self, client, shop, owner, sales, clean_database):
        first = client.post(
            orders_url(shop, sales["paid"]["id"], "refund"), headers=owner["headers"]
        )
        assert first.status_code == 200
        before = db_snapshot(clean_database)
        for order in (sales["paid"], sales["pending"], sales["cancelled"]):
            response = client.post(
                orders_url(shop, order["id"], "refund"), headers=owner["headers"]
            )
            assert response.status_code == 409
            assert response.json()["error"]["code"] == "ORDER_NOT_PAID"
        assert db_snapshot(clean_database) == before

    def test_bad_refund_bodies(self, client, shop, owner, clean_database):
        order = buy(client, shop)
        before = db_snapshot(clean_database)
        for body in ({"reason": "x" * 101}, {"amount_minor": 1}, {"reason": 5}, ["x"]):
            response = client.post(
                orders_url(shop, order["id"], "refund"), json=body, headers=owner["headers"]
            )
            assert response.status_code == 422, body
        assert db_snapshot(clean_database) == before


class TestWhoMay:
    def test_staff_may_not_list_or_refund(self, client, shop, owner, sales, clean_database):
        staff = register(client)
        add_member(client, owner["headers"], shop.org_slug, staff["email"], "staff")
        before = db_snapshot(clean_database)
        for method, url in [
            ("get", orders_url(shop)),
            ("get", orders_url(shop, sales["paid"]["id"])),
            ("post", orders_url(shop, sales["paid"]["id"], "refund")),
        ]:
            response = client.request(method, url, headers=staff["headers"])
            assert response.status_code == 403, url
            assert response.json()["error"]["code"] == "PERMISSION_DENIED"
        assert db_snapshot(clean_database) == before

    def test_admin_may(self, client, shop, owner, sales):
        admin = register(client)
        add_member(client, owner["headers"], shop.org_slug, admin["email"], "admin")
        assert client.get(orders_url(shop), headers=admin["headers"]).status_code == 200
        refund = client.post(
            orders_url(shop, sales["paid"]["id"], "refund"), headers=admin["headers"]
        )
        assert refund.status_code == 200

    def test_other_organizations_get_404(self, client, shop, owner, sales, clean_database):
        other_owner = register(client)
        other = make_shop(clean_database, owner_id=other_owner["user"]["id"])
        paid = sales["paid"]["id"]
        before = db_snapshot(clean_database)
        attempts = [
            # B's owner on A's organization.
            ("get", orders_url(shop), other_owner),
            ("get", orders_url(shop, paid), other_owner),
            ("post", orders_url(shop, paid, "refund"), other_owner),
            # B's owner through B's own organization with A's event and order ids.
            (
                "get",
                orders_url(other).replace(str(other.event_id), str(shop.event_id)),
                other_owner,
            ),
            ("get", f"{orders_url(other)}/{paid}", other_owner),
            ("post", f"{orders_url(other)}/{paid}/refund", other_owner),
            # A's owner with B's event under A's organization.
            ("get", orders_url(shop).replace(str(shop.event_id), str(other.event_id)), owner),
        ]
        for method, url, who in attempts:
            response = client.request(method, url, headers=who["headers"])
            assert response.status_code == 404, f"{method} {url}: {response.text}"
            assert response.json()["error"]["code"] == "NOT_FOUND"
        assert db_snapshot(clean_database) == before

    def test_buyers_and_strangers(self, client, shop, sales):
        buyer = register(client)
        assert client.get(orders_url(shop), headers=buyer["headers"]).status_code == 404
        assert client.get(orders_url(shop)).status_code == 401
