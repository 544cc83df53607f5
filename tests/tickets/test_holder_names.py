"""Issue 15: the buyer sets each ticket's attendee name when the event asks for names.

The service (``tickets.service.set_holder_name``) and its API route
(``PATCH /api/v1/orders/{order_id}/tickets/{ticket_id}``): who may, when, which names,
and that a refusal changes nothing; then that the name shows wherever tickets do.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pypdfium2
import pytest
from sqlalchemy import update

from admitone.authorization import BuyerProof
from admitone.checkin.queries import ticket_admitted
from admitone.db import Database, utcnow
from admitone.errors import DomainError, InvalidInput
from admitone.events.models import Event, EventStatus
from admitone.tickets import service
from tests.helpers import db_snapshot, register
from tests.orders.helpers import token_headers
from tests.tickets.factories import (
    EventInfo,
    PaidOrder,
    World,
    build_world,
    make_event,
    make_paid_order,
    refund_order,
    ticket_row,
)


@pytest.fixture
def asking(world: World) -> tuple[EventInfo, PaidOrder]:
    """An event of the world's organization that asks for names, and a guest's paid order
    of two tickets of it (opened with its order token)."""
    event = make_event(
        world.database,
        organization_id=world.org["id"],
        title="Named Night",
        ask_attendee_names=True,
    )
    order = make_paid_order(
        world.database, event, quantities={event.ticket_type_ids[0]: 2}, buyer_name="Ada Lovelace"
    )
    return event, order


def _url(order: PaidOrder, ticket_id: uuid.UUID) -> str:
    return f"/api/v1/orders/{order.id}/tickets/{ticket_id}"


def _rename(world: World, order: PaidOrder, name: object, *, ticket: int = 0, headers=None):
    return world.client.patch(
        _url(order, order.ticket_ids[ticket]),
        json={"holder_name": name},
        headers=token_headers(order.token) if headers is None else headers,
    )


def _set_event(database: Database, event_id: uuid.UUID, **values: object) -> None:
    with database.session() as session:
        session.execute(update(Event).where(Event.id == event_id).values(**values))


# --- the service ------------------------------------------------------------------------


class TestService:
    def test_sets_one_tickets_name_trimmed(self, world: World, asking):
        _event, order = asking
        with world.database.session() as session:
            ticket = service.set_holder_name(
                session,
                order_id=order.id,
                ticket_id=order.ticket_ids[0],
                proof=BuyerProof(user_id=None, order_token=order.token),
                holder_name="  Grace Hopper  ",
                now=utcnow(),
                admitted=ticket_admitted(),
            )
            assert ticket.holder_name == "Grace Hopper"
        assert ticket_row(world.database, order.ticket_ids[0]).holder_name == "Grace Hopper"
        assert ticket_row(world.database, order.ticket_ids[1]).holder_name == "Ada Lovelace"

    @pytest.mark.parametrize(
        ("name", "kind"),
        [
            ("", "string_too_short"),
            ("   ", "string_too_short"),
            ("x" * 201, "string_too_long"),
            ("Grace\nHopper", "value_error"),
            ("Grace\x00", "value_error"),
        ],
    )
    def test_bad_names_are_invalid_input(self, name, kind):
        with pytest.raises(InvalidInput) as raised:
            service.checked_holder_name(name)
        assert raised.value.details["errors"][0]["field"] == "holder_name"
        assert raised.value.details["errors"][0]["type"] == kind

    def test_two_hundred_characters_are_fine(self):
        assert service.checked_holder_name(" " + "é" * 200 + " ") == "é" * 200

    def test_a_scan_between_the_read_and_the_write_wins(self, world: World, asking, monkeypatch):
        """The write is conditional (no entry on any list): a ticket admitted after the
        service read it, but before it writes, keeps its name and the rename is refused.
        The admission is committed first and the service's check told it saw none: the
        read it would have made a moment earlier (a SQLite writer cannot interleave)."""
        from admitone.checkin.lists import ensure_default_list
        from admitone.checkin.models import CheckinPresence

        event, order = asking
        ticket_id = order.ticket_ids[0]
        with world.database.session() as session:
            list_id = ensure_default_list(session, event_id=event.id)
            now = utcnow()
            session.add(
                CheckinPresence(
                    list_id=list_id,
                    ticket_id=ticket_id,
                    inside=True,
                    entries=1,
                    exits=0,
                    first_entry_at=now,
                    last_entry_at=now,
                )
            )
        real = service.holder_name_refusal
        calls: list[int] = []

        def stale_then_real(ticket, event, *, admitted, now):
            calls.append(1)
            return None if len(calls) == 1 else real(ticket, event, admitted=admitted, now=now)

        monkeypatch.setattr(service, "holder_name_refusal", stale_then_real)
        with world.database.session() as session, pytest.raises(DomainError) as raised:
            service.set_holder_name(
                session,
                order_id=order.id,
                ticket_id=ticket_id,
                proof=BuyerProof(user_id=None, order_token=order.token),
                holder_name="Too Late",
                now=utcnow(),
                admitted=ticket_admitted(),
            )
        assert raised.value.code == "TICKET_ALREADY_ADMITTED"
        assert len(calls) == 2  # the write matched no row: the reason was read again
        assert ticket_row(world.database, ticket_id).holder_name == "Ada Lovelace"


# --- the API ----------------------------------------------------------------------------


class TestApi:
    def test_the_token_holder_names_a_ticket_and_the_qr_stays(self, world: World, asking):
        _event, order = asking
        ticket_url = f"/api/v1/tickets/{order.ticket_ids[0]}"
        before = world.client.get(ticket_url, headers=token_headers(order.token)).json()["data"]
        assert before["event"]["ask_attendee_names"] is True
        response = _rename(world, order, " Grace Hopper ")
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "private, no-store"
        assert response.json()["data"] == {
            "id": str(order.ticket_ids[0]),
            "order_id": str(order.id),
            "event_id": before["event"]["id"],
            "ticket_type_id": before["ticket_type"]["id"],
            "status": "valid",
            "holder_name": "Grace Hopper",
        }
        after = world.client.get(ticket_url, headers=token_headers(order.token)).json()["data"]
        assert after["holder_name"] == "Grace Hopper"
        # Not part of the signed payload: the QR code is the same.
        assert after["qr_payload"] == before["qr_payload"]
        listed = world.client.get(
            f"/api/v1/orders/{order.id}/tickets", headers=token_headers(order.token)
        ).json()["data"]
        assert sorted(t["holder_name"] for t in listed) == ["Ada Lovelace", "Grace Hopper"]

    def test_the_logged_in_buyer_names_a_ticket_and_may_rename_it(self, world: World):
        event = make_event(world.database, organization_id=world.org["id"], ask_attendee_names=True)
        order = make_paid_order(world.database, event, user_id=world.buyer["user"]["id"])
        for name in ("Grace Hopper", "Katherine Johnson"):
            response = _rename(world, order, name, headers=world.buyer["headers"])
            assert response.status_code == 200, response.text
        assert ticket_row(world.database, order.ticket_ids[0]).holder_name == "Katherine Johnson"

    @pytest.mark.parametrize(
        "body",
        [
            {"holder_name": ""},
            {"holder_name": "   "},
            {"holder_name": "x" * 201},
            {"holder_name": "Grace\nHopper"},
            {"holder_name": 42},
            {"holder_name": None},
            {},
            {"holder_name": "Grace", "status": "revoked"},
        ],
    )
    def test_a_bad_name_is_422_and_changes_nothing(self, world: World, asking, body):
        _event, order = asking
        before = db_snapshot(world.database)
        response = world.client.patch(
            _url(order, order.ticket_ids[0]), json=body, headers=token_headers(order.token)
        )
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert set(error) == {"code", "message", "details"}
        assert db_snapshot(world.database) == before

    def test_an_event_that_does_not_ask_refuses(self, world: World):
        # The world's order: an event that does not ask for names.
        before = db_snapshot(world.database)
        response = _rename(world, world.order, "Grace Hopper", headers=world.buyer["headers"])
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "ATTENDEE_NAMES_NOT_ASKED"
        assert db_snapshot(world.database) == before

    def test_a_revoked_ticket_refuses(self, world: World, asking):
        _event, order = asking
        refund_order(world.database, order.id)
        before = db_snapshot(world.database)
        response = _rename(world, order, "Grace Hopper")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "TICKET_REVOKED"
        assert db_snapshot(world.database) == before

    def test_an_admitted_ticket_refuses_the_other_one_still_may(self, world: World, asking):
        event, order = asking
        payload = world.client.get(
            f"/api/v1/tickets/{order.ticket_ids[0]}", headers=token_headers(order.token)
        ).json()["data"]["qr_payload"]
        scan = world.client.post(
            f"/api/v1/events/{event.id}/checkins",
            json={"qr": payload},
            headers=world.owner["headers"],
        )
        assert scan.json()["data"]["result"] == "admitted"
        before = db_snapshot(world.database)
        response = _rename(world, order, "Grace Hopper")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "TICKET_ALREADY_ADMITTED"
        assert db_snapshot(world.database) == before
        assert _rename(world, order, "Grace Hopper", ticket=1).status_code == 200

    def test_an_ended_event_refuses(self, world: World, asking):
        event, order = asking
        _set_event(
            world.database,
            event.id,
            starts_at=utcnow() - timedelta(hours=5),
            ends_at=utcnow() - timedelta(minutes=1),
        )
        before = db_snapshot(world.database)
        response = _rename(world, order, "Grace Hopper")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "EVENT_ENDED"
        assert db_snapshot(world.database) == before

    def test_a_cancelled_event_refuses(self, world: World, asking):
        event, order = asking
        _set_event(world.database, event.id, status=EventStatus.cancelled, cancelled_at=utcnow())
        response = _rename(world, order, "Grace Hopper")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "EVENT_CANCELLED"

    def test_only_the_buyer_may(self, world: World, asking):
        """Organizers read the order's tickets but do not name them; a stranger, another
        buyer, a wrong token, another order's token: 404; nobody at all: 401."""
        event, order = asking
        other = make_paid_order(world.database, event, quantities={event.ticket_type_ids[0]: 1})
        callers = (
            world.owner["headers"],
            world.member("admin")["headers"],
            world.buyer["headers"],
            register(world.client)["headers"],
            token_headers("not-the-token"),
            token_headers(other.token),
        )
        before = db_snapshot(world.database)
        for headers in callers:
            response = _rename(world, order, "Mallory", headers=headers)
            assert response.status_code == 404, response.text
            assert response.json()["error"]["code"] == "TICKET_NOT_FOUND"
        anonymous = _rename(world, order, "Mallory", headers={})
        assert anonymous.status_code == 401
        # A ticket of another order, named through this order's id and token.
        crossed = world.client.patch(
            _url(order, other.ticket_ids[0]),
            json={"holder_name": "Mallory"},
            headers=token_headers(order.token),
        )
        assert crossed.status_code == 404
        assert db_snapshot(world.database) == before

    def test_the_new_name_is_on_the_pdf_and_found_at_the_gate(self, world: World, asking):
        event, order = asking
        assert _rename(world, order, "Grace Hopper").status_code == 200
        pdf = world.client.get(
            f"/api/v1/tickets/{order.ticket_ids[0]}.pdf", headers=token_headers(order.token)
        )
        assert pdf.status_code == 200
        document = pypdfium2.PdfDocument(pdf.content)
        try:
            text = document[0].get_textpage().get_text_range()
        finally:
            document.close()
        assert "Grace Hopper" in text and "Ada Lovelace" not in text
        found = world.client.get(
            f"/api/v1/events/{event.id}/checkins/search",
            params={"q": "grace"},
            headers=world.member("staff")["headers"],
        ).json()["data"]
        assert [row["id"] for row in found] == [str(order.ticket_ids[0])]
        assert found[0]["holder_name"] == "Grace Hopper"


def test_the_world_fixture_is_unchanged(client, clean_database):
    """The factories still make events that do not ask for names by default."""
    world = build_world(client, clean_database)
    with clean_database.session(write=False) as session:
        assert session.get(Event, world.event.id).ask_attendee_names is False
