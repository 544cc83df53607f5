"""The gate in a hurry (issue 15): the printed code typed, finding a ticket by name,
e-mail or order code, who and where on "already admitted", and a supervisor's undo."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from admitone.checkin.models import CheckIn, CheckinUndo
from admitone.checkin.service import parse_ticket_code
from tests.checkin.test_api import payload_of, scan, scan_result
from tests.tickets.factories import World, admitted_at, make_paid_order


def printed_codes(ticket_id: uuid.UUID) -> list[str]:
    """What people type from "Ticket <id>" under the QR."""
    text = str(ticket_id)
    return [
        text,
        text.upper(),
        text.replace("-", ""),
        text.replace("-", " ").upper(),
        f"Ticket {text}",
        f"  billet: {text.upper()}\n",
    ]


@pytest.mark.parametrize("typed", ["", "not a code", "g" * 32, "1234", "x" * 5000])
def test_what_is_not_a_ticket_code(typed: str):
    assert parse_ticket_code(typed) is None


def test_every_spelling_of_the_printed_code_names_the_ticket():
    ticket_id = uuid.uuid4()
    for typed in printed_codes(ticket_id):
        assert parse_ticket_code(typed) == ticket_id, typed


class TestTypedCode:
    def test_the_printed_code_admits_once(self, world: World):
        ticket_id = world.order.ticket_ids[0]
        codes = printed_codes(ticket_id)
        first = scan_result(world, codes[3], gate="North")
        assert first["result"] == "admitted"
        assert first["ticket"]["holder_name"] == "Ada Lovelace"
        for typed in codes:
            again = scan_result(world, typed)
            assert again["result"] == "already_admitted"
        # The QR says the same: it is one ticket.
        assert scan_result(world, payload_of(world, ticket_id))["result"] == "already_admitted"

    def test_a_code_of_no_ticket_here_is_unknown(self, world: World):
        assert scan_result(world, str(uuid.uuid4()))["result"] == "not_found"
        other = make_paid_order(world.database, world.other_event)
        assert scan_result(world, str(other.ticket_ids[0]))["result"] == "not_found"
        assert admitted_at(world.database, other.ticket_ids[0]) is None

    def test_anything_else_stays_invalid(self, world: World):
        assert scan_result(world, "ADMIT-ME-PLEASE")["result"] == "invalid_signature"


def test_already_admitted_names_the_holder_when_where_and_who(world: World):
    staff = world.member("staff")
    ticket_id = world.order.ticket_ids[0]
    first = scan_result(world, str(ticket_id), gate="North", headers=staff["headers"])
    again = scan_result(world, str(ticket_id), gate="South")
    assert again["result"] == "already_admitted"
    assert again["ticket"]["holder_name"] == "Ada Lovelace"
    assert again["first_admission"]["at"] == first["scanned_at"]
    assert again["first_admission"]["gate"] == "North"
    assert again["first_admission"]["by"] in (staff["user"]["full_name"], staff["email"])


def search(world: World, q: str, headers: dict[str, str] | None = None):
    return world.client.get(
        f"/api/v1/events/{world.event.id}/checkins/search",
        params={"q": q},
        headers=headers or world.member("staff")["headers"],
    )


class TestSearch:
    def test_by_name_any_case_then_admit_the_result(self, world: World):
        found = search(world, "ada LOVE")
        assert found.status_code == 200, found.text
        rows = found.json()["data"]
        assert len(rows) == 3 and {row["order_code"] for row in rows} == {world.order.code}
        assert all(row["admission"] is None for row in rows)
        admitted = scan_result(world, rows[0]["id"], headers=world.member("staff")["headers"])
        assert admitted["result"] == "admitted"
        again = search(world, "Ada").json()["data"]
        admission = next(row for row in again if row["id"] == rows[0]["id"])["admission"]
        assert admission["at"] == admitted["scanned_at"]

    def test_by_order_code_and_whole_email(self, world: World):
        code = world.order.code
        assert len(search(world, code.lower()).json()["data"]) == 3
        assert len(search(world, f" {code[:4]}-{code[4:]} ").json()["data"]) == 3
        assert len(search(world, "BUYER@example.com").json()["data"]) == 3
        assert search(world, "buyer@exam").json()["data"] == []  # e-mails match whole

    def test_only_this_events_tickets(self, world: World):
        make_paid_order(world.database, world.other_event, buyer_name="Ada Other")
        names = {row["holder_name"] for row in search(world, "ada").json()["data"]}
        assert names == {"Ada Lovelace"}

    def test_wildcards_are_text(self, world: World):
        assert search(world, "%%").json()["data"] == []
        assert search(world, "__").json()["data"] == []

    def test_too_short_is_a_coded_refusal(self, world: World):
        response = search(world, " a ")
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "SEARCH_TOO_SHORT"

    def test_cashiers_and_strangers_may_not_search(self, world: World):
        assert search(world, "Ada", world.member("cashier")["headers"]).status_code == 403
        assert search(world, "Ada", world.other_owner["headers"]).status_code == 404


def undo(world: World, ticket_id: Any, headers: dict[str, str] | None = None):
    return world.client.post(
        f"/api/v1/events/{world.event.id}/tickets/{ticket_id}/undo-admission",
        headers=headers or world.member("admin")["headers"],
    )


def undos(world: World) -> list[CheckinUndo]:
    with world.database.session(write=False) as session:
        return list(session.scalars(select(CheckinUndo)))


class TestUndo:
    def test_a_supervisor_undoes_then_the_ticket_is_admitted_again(self, world: World):
        ticket_id = world.order.ticket_ids[0]
        first = scan_result(world, str(ticket_id), gate="North")
        response = undo(world, ticket_id)
        assert response.status_code == 200, response.text
        body = response.json()["data"]
        assert body["checkin_id"] == first["checkin_id"]
        assert body["undone_by_id"] == world.member("admin")["user"]["id"]
        assert admitted_at(world.database, ticket_id) is None
        (recorded,) = undos(world)
        assert str(recorded.checkin_id) == first["checkin_id"]
        assert recorded.undone_at is not None
        second = scan_result(world, str(ticket_id), gate="South")
        assert second["result"] == "admitted"
        again = scan_result(world, str(ticket_id))
        assert again["first_admission"]["gate"] == "South"
        # History is kept: both admitting scans are there.
        with world.database.session(write=False) as session:
            statement = select(func.count()).where(
                CheckIn.ticket_id == ticket_id, CheckIn.result == "admitted"
            )
            assert session.scalar(statement) == 2
        # And the second admission can be undone in its turn.
        assert (
            undo(world, ticket_id, world.owner["headers"]).json()["data"]["checkin_id"]
            == (second["checkin_id"])
        )

    def test_gate_staff_may_not_undo(self, world: World):
        ticket_id = world.order.ticket_ids[0]
        scan_result(world, str(ticket_id))
        response = undo(world, ticket_id, world.member("staff")["headers"])
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "PERMISSION_DENIED"
        assert admitted_at(world.database, ticket_id) is not None
        assert undos(world) == []

    def test_refusals_have_codes(self, world: World):
        ticket_id = world.order.ticket_ids[0]
        not_admitted = undo(world, ticket_id)
        assert not_admitted.status_code == 409
        assert not_admitted.json()["error"]["code"] == "TICKET_NOT_ADMITTED"
        unknown = undo(world, uuid.uuid4())
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "TICKET_NOT_FOUND"
        other = make_paid_order(world.database, world.other_event)
        assert undo(world, other.ticket_ids[0]).status_code == 404
        assert undo(world, ticket_id, world.other_owner["headers"]).status_code == 404
        assert undos(world) == []

    def test_a_retried_nonce_after_an_undo_changes_nothing(self, world: World):
        ticket_id = world.order.ticket_ids[0]
        nonce = str(uuid.uuid4())
        first = scan_result(world, str(ticket_id), nonce=nonce)
        assert undo(world, ticket_id).status_code == 200
        replay = scan(world, str(ticket_id), nonce=nonce)
        assert replay.status_code == 200, replay.text
        assert replay.json()["data"]["replayed"] is True
        assert replay.json()["data"]["checkin_id"] == first["checkin_id"]
        assert admitted_at(world.database, ticket_id) is None


@pytest.mark.race
def test_two_supervisors_undo_at_once_one_wins(world: World):
    order = make_paid_order(
        world.database, world.event, quantities={world.event.ticket_type_ids[0]: 5}
    )
    supervisors = [world.member("admin")["headers"], world.owner["headers"]]
    for ticket_id in order.ticket_ids:
        scan_result(world, str(ticket_id))
        barrier = threading.Barrier(2)

        def send(headers: dict[str, str], ticket_id: uuid.UUID = ticket_id, barrier=barrier):
            barrier.wait(timeout=30)
            return undo(world, ticket_id, headers).status_code

        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = Counter(pool.map(send, supervisors))
        assert statuses == {200: 1, 409: 1}, ticket_id
        assert admitted_at(world.database, ticket_id) is None
    assert len(undos(world)) == len(order.ticket_ids)


@pytest.mark.race
def test_an_undo_racing_a_scan_ends_consistent(world: World):
    """Undo and a new scan of an admitted ticket at once: either order is fine, but the
    ticket is admitted exactly when its latest admitting scan has no undo."""
    order = make_paid_order(
        world.database, world.event, quantities={world.event.ticket_type_ids[0]: 6}
    )
    staff = world.member("staff")["headers"]
    for ticket_id in order.ticket_ids:
        scan_result(world, str(ticket_id))
        barrier = threading.Barrier(2)

        def do_undo(ticket_id: uuid.UUID = ticket_id, barrier=barrier) -> int:
            barrier.wait(timeout=30)
            return undo(world, ticket_id).status_code

        def do_scan(ticket_id: uuid.UUID = ticket_id, barrier=barrier) -> str:
            barrier.wait(timeout=30)
            return scan_result(world, str(ticket_id), headers=staff)["result"]

        with ThreadPoolExecutor(max_workers=2) as pool:
            undone, scanned = pool.submit(do_undo), pool.submit(do_scan)
            assert undone.result() == 200
            assert scanned.result() in ("admitted", "already_admitted")
        with world.database.session(write=False) as session:
            latest = session.scalars(
                select(CheckIn)
                .where(CheckIn.ticket_id == ticket_id, CheckIn.result == "admitted")
                .order_by(CheckIn.scanned_at.desc())
                .limit(1)
            ).one()
            latest_undone = session.scalar(
                select(func.count()).where(CheckinUndo.checkin_id == latest.id)
            )
        admitted = admitted_at(world.database, ticket_id) is not None
        assert admitted == (latest_undone == 0)
        assert admitted == (scanned.result() == "admitted")
