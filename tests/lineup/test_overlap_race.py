"""Confirmations racing for one stage through a real server (uvicorn in a thread, one
connection per organizer), on SQLite and PostgreSQL: exactly one wins the stage.

The negative control shows the crowd really races: with the stage lock switched off
(and the check made slow, as a loaded server's would be), several overlapping slots are
confirmed on PostgreSQL; if they were not, the race tests would prove nothing.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from admitone.db import Database
from admitone.lineup import service
from admitone.lineup.models import Slot, SlotStatus
from tests.concurrency.conftest import SERVER_SETTINGS, run_at_once, serve
from tests.lineup.helpers import Lineup, make_lineup

pytestmark = pytest.mark.race

CROWD = 12


@pytest.fixture
def server(make_app: Callable[..., FastAPI]) -> Iterator[str]:
    with serve(make_app(**SERVER_SETTINGS)) as url:
        yield url


def _confirmed(database: Database) -> int:
    with database.session(write=False) as session:
        return session.scalar(
            select(func.count()).select_from(Slot).where(Slot.status == SlotStatus.confirmed)
        )


def _pending_crowd(lineup: Lineup) -> list[str]:
    """CROWD pending slots on the main stage, each overlapping all the others."""
    return [
        lineup.slot("Main", f"Act {index}", 20 + index / 60, 21 + index / 60)["id"]
        for index in range(CROWD)
    ]


def _confirm_at_once(url: str, lineup: Lineup, slot_ids: list[str]) -> Counter[Any]:
    def organizer(http: httpx.Client, index: int) -> tuple[int, str]:
        response = http.patch(
            f"{lineup.base}/slots/{slot_ids[index]}",
            json={"status": "confirmed"},
            headers=lineup.owner["headers"],
        )
        body = response.json()
        return response.status_code, body["data"]["status"] if response.is_success else body[
            "error"
        ]["code"]

    return Counter(run_at_once(url, len(slot_ids), organizer))


def _slow_check(monkeypatch: pytest.MonkeyPatch) -> None:
    clash = service._clash

    def slow_clash(session: Any, *, slot: Slot) -> Any:
        found = clash(session, slot=slot)
        time.sleep(0.2)  # between the check and the write, as under load
        return found

    monkeypatch.setattr(service, "_clash", slow_clash)


@pytest.mark.parametrize("slow", [False, True], ids=["plain", "slow-check"])
def test_confirmations_racing_for_a_stage_let_one_through(
    server: str,
    client: TestClient,
    clean_database: Database,
    monkeypatch: pytest.MonkeyPatch,
    slow: bool,
):
    """With the lock, even a check as slow as the negative control's lets one through."""
    if slow:
        _slow_check(monkeypatch)
    lineup = make_lineup(client)
    slot_ids = _pending_crowd(lineup)
    outcomes = _confirm_at_once(server, lineup, slot_ids)
    assert outcomes == {(200, "confirmed"): 1, (409, "SLOT_OVERLAP"): CROWD - 1}
    assert _confirmed(clean_database) == 1


def test_new_confirmed_slots_racing_for_a_stage_let_one_through(
    server: str, client: TestClient, clean_database: Database
):
    lineup = make_lineup(client)
    bodies = [
        lineup.slot_body("Main", f"Act {index}", 20, 21, status="confirmed")
        for index in range(CROWD)
    ]

    def organizer(http: httpx.Client, index: int) -> tuple[int, str]:
        response = http.post(
            f"{lineup.base}/slots", json=bodies[index], headers=lineup.owner["headers"]
        )
        return response.status_code, "" if response.is_success else response.json()["error"]["code"]

    outcomes = Counter(run_at_once(server, CROWD, organizer))
    assert outcomes == {(201, ""): 1, (409, "SLOT_OVERLAP"): CROWD - 1}
    assert _confirmed(clean_database) == 1


def test_negative_control_without_the_stage_lock_slots_overlap(
    server: str, client: TestClient, clean_database: Database, monkeypatch: pytest.MonkeyPatch
):
    if clean_database.is_sqlite:
        pytest.skip(
            "SQLite's write transactions begin IMMEDIATE and run one at a time: the stage "
            "lock is moot there (and switching that off makes the losers fail BUSY instead)"
        )
    monkeypatch.setattr(service, "_lock_stage", lambda session, stage_id: None)
    _slow_check(monkeypatch)
    lineup = make_lineup(client)
    slot_ids = _pending_crowd(lineup)
    outcomes = _confirm_at_once(server, lineup, slot_ids)
    assert outcomes[(200, "confirmed")] > 1, outcomes
    assert _confirmed(clean_database) > 1
