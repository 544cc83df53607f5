"""A festival with a lineup, built through the API as an organizer would."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from tests.helpers import (
    EVENT_TIME_ZONE,
    create_event,
    create_org,
    create_ticket_type,
    future,
    publish_event,
    register,
)

ZONE = ZoneInfo(EVENT_TIME_ZONE)


@dataclass
class Lineup:
    client: TestClient
    owner: dict[str, Any]
    org: str
    event: dict[str, Any]
    stages: dict[str, str] = field(default_factory=dict)  # name -> id
    artists: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"/api/v1/organizations/{self.org}/events/{self.event['id']}"

    @property
    def day(self) -> datetime:
        """The festival's first day, at midnight local time."""
        start = datetime.fromisoformat(self.event["starts_at"]).astimezone(ZONE)
        return start.replace(hour=0, minute=0, second=0, microsecond=0)

    def at(self, hour: float, day: int = 0) -> str:
        """An ISO time on day ``day`` of the festival at ``hour`` (20.5 is 20:30)."""
        return (self.day + timedelta(days=day, minutes=round(hour * 60))).isoformat()

    def stage(self, name: str, **extra: Any) -> str:
        response = self.client.post(
            f"{self.base}/stages", json={"name": name, **extra}, headers=self.owner["headers"]
        )
        assert response.status_code == 201, response.text
        self.stages[name] = response.json()["data"]["id"]
        return self.stages[name]

    def artist(self, name: str, kind: str = "band", **extra: Any) -> str:
        response = self.client.post(
            f"{self.base}/artists",
            json={"name": name, "kind": kind, **extra},
            headers=self.owner["headers"],
        )
        assert response.status_code == 201, response.text
        self.artists[name] = response.json()["data"]["id"]
        return self.artists[name]

    def slot_body(
        self, stage: str, artist: str, start: float, end: float, day: int = 0, **extra: Any
    ) -> dict[str, Any]:
        if artist not in self.artists:
            self.artist(artist)
        return {
            "stage_id": self.stages[stage],
            "artist_id": self.artists[artist],
            "starts_at": self.at(start, day),
            "ends_at": self.at(end, day),
            **extra,
        }

    def post_slot(self, *args: Any, **kwargs: Any) -> Any:
        return self.client.post(
            f"{self.base}/slots",
            json=self.slot_body(*args, **kwargs),
            headers=self.owner["headers"],
        )

    def slot(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        response = self.post_slot(*args, **kwargs)
        assert response.status_code == 201, response.text
        return response.json()["data"]

    def patch_slot(self, slot_id: str, **changes: Any) -> Any:
        return self.client.patch(
            f"{self.base}/slots/{slot_id}", json=changes, headers=self.owner["headers"]
        )

    def publish(self) -> None:
        create_ticket_type(self.client, self.owner["headers"], self.org, self.event["id"])
        self.event = publish_event(self.client, self.owner["headers"], self.org, self.event["id"])


def make_lineup(client: TestClient, *, stages: tuple[str, ...] = ("Main", "Tent")) -> Lineup:
    """A three-day festival (draft) of a fresh organization, with stages."""
    owner = register(client)
    org = create_org(client, owner["headers"])["slug"]
    event = create_event(
        client,
        owner["headers"],
        org,
        title="Summer Fest",
        category="festival",
        starts_at=future(30, 12),
        ends_at=future(32, 23),
    )
    lineup = Lineup(client, owner, org, event)
    for name in stages:
        lineup.stage(name)
    return lineup
