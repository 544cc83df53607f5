"""Organizer pages for the gates (issue 16): paired devices and revoking one, the
conflict report of offline scans with its filters and CSV, in English and French."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from admitone.checkin.models import CheckinDevice
from admitone.db import Database
from tests.checkin.gate_devices import default_list_id, offline_scan, pair, qr_of, upload
from tests.tickets.factories import World, build_world
from tests.web.helpers import HTML, csrf_from, get_page, web_login


@pytest.fixture
def world(client: TestClient, clean_database: Database) -> World:
    made = build_world(client, clean_database)
    web_login(client, made.owner["email"])
    return made


def _page(world: World, suffix: str) -> str:
    return f"/organizer/{world.org['slug']}/events/{world.event.id}{suffix}"


def _duplicate(world: World) -> tuple[dict, dict]:
    north, south = pair(world, gate="North"), pair(world, name="Phone 2", gate="South")
    list_id = default_list_id(world)
    qr = qr_of(world, world.order.ticket_ids[0])
    upload(world, north, [offline_scan(qr, list_id)])
    upload(world, south, [offline_scan(qr, list_id)])
    return north, south


class TestDevicesPage:
    def test_lists_devices_and_revokes_one_after_confirming(self, world: World):
        device = pair(world, name="Phone 7", gate="West")
        page = get_page(world.client, _page(world, "/devices"))
        assert page.status_code == 200
        assert "Phone 7" in page.text and "West" in page.text
        assert "data-confirm=" in page.text and device["token"] not in page.text
        token = csrf_from(page.text)
        revoked = world.client.post(
            _page(world, f"/devices/{device['id']}/revoke"),
            data={"csrf_token": token},
            headers=HTML,
            follow_redirects=True,
        )
        assert revoked.status_code == 200
        assert "Device revoked" in revoked.text and "Revoked" in revoked.text
        with world.database.session(write=False) as session:
            assert session.scalars(select(CheckinDevice)).one().revoked_at is not None
        assert world.client.get("/api/v1/scan/bundle", headers=device["headers"]).status_code == 401

    def test_staff_see_devices_but_cannot_revoke(self, world: World, client: TestClient):
        device = pair(world)
        staff = world.member("staff")
        world.client.cookies.clear()
        web_login(client, staff["email"])
        page = get_page(client, _page(world, "/devices"))
        assert page.status_code == 200 and "Phone 1" in page.text
        assert "/revoke" not in page.text
        refused = client.post(
            _page(world, f"/devices/{device['id']}/revoke"),
            data={"csrf_token": csrf_from(page.text)},
            headers=HTML,
            follow_redirects=False,
        )
        assert refused.status_code == 403

    def test_in_french(self, world: World):
        pair(world)
        page = get_page(world.client, _page(world, "/devices"), headers={"accept-language": "fr"})
        assert "Appareils des entrées" in page.text


class TestConflictsPage:
    def test_shows_both_scans_and_filters(self, world: World):
        _duplicate(world)
        page = get_page(world.client, _page(world, "/checkin-conflicts"))
        assert page.status_code == 200
        assert "Already admitted" in page.text and "Ada Lovelace" in page.text
        assert "North" in page.text and "South" in page.text
        none = get_page(world.client, _page(world, "/checkin-conflicts?reason=revoked"))
        assert "No conflict" in none.text
        odd = get_page(world.client, _page(world, "/checkin-conflicts?reason=nope&list_id=x"))
        assert odd.status_code == 200 and "Already admitted" in odd.text

    def test_the_csv_holds_them(self, world: World):
        _duplicate(world)
        exported = world.client.get(_page(world, "/checkin-conflicts.csv"))
        assert exported.status_code == 200
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [(row["reason"], row["gate"], row["other_gate"]) for row in rows] == [
            ("already_admitted", "South", "North")
        ]

    def test_in_french(self, world: World):
        _duplicate(world)
        page = get_page(
            world.client, _page(world, "/checkin-conflicts"), headers={"accept-language": "fr"}
        )
        assert "Conflits aux entrées" in page.text and "Déjà entré" in page.text
