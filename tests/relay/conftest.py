"""A site relay in this process (its app served by uvicorn in a thread, its own SQLite
file) over the upstream app of the test (``client``, on the backend under test): the
relay's syncer talks to upstream through that client, or to a closed port when the test
wants the link down."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from admitone.db import Database
from admitone.relay.app import create_relay_app
from admitone.relay.store import RelayStore
from admitone.relay.sync import Syncer
from tests.checkin.gate_devices import default_list_id, pair, qr_of
from tests.concurrency.conftest import serve
from tests.serving import free_port
from tests.tickets.factories import World, build_world, make_paid_order


@dataclass
class Relay:
    url: str
    store: RelayStore
    syncer: Syncer
    device: dict[str, Any]  # the relay's own device upstream (its token)

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.device["headers"])

    def scan(
        self,
        http: httpx.Client,
        event_id: uuid.UUID | str,
        qr: str,
        *,
        headers: dict[str, str] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        response = http.post(
            f"{self.url}/api/v1/events/{event_id}/checkins",
            json={"qr": qr, "nonce": uuid.uuid4().hex, **fields},
            headers=headers or self.headers,
        )
        assert response.status_code == 200, response.text
        return dict(response.json()["data"])


def down_upstream() -> httpx.Client:
    """A client for an upstream that is not there (nothing listens on the port)."""
    return httpx.Client(base_url=f"http://127.0.0.1:{free_port()}", timeout=1)


@pytest.fixture
def world(client: TestClient, clean_database: Database) -> World:
    built = build_world(client, clean_database)
    default_list_id(built)  # the factory's event gets its default list
    return built


@pytest.fixture
def make_relay(tmp_path: Path, client: TestClient, world: World) -> Iterator[Callable[..., Any]]:
    """``make_relay(name=..., upstream=..., store_class=..., database=...)``: a context
    manager serving a relay until its block ends."""
    opened: list[Database] = []

    @contextmanager
    def make(
        *,
        device: dict[str, Any] | None = None,
        upstream: httpx.Client | None = None,
        store_class: type[RelayStore] = RelayStore,
        path: Path | None = None,
        pull: bool = True,
    ) -> Iterator[Relay]:
        device = device or pair(world, name="Relay", gate="Site")
        database = Database(f"sqlite:///{path or tmp_path / f'relay-{uuid.uuid4().hex[:6]}.db'}")
        opened.append(database)
        store = store_class(database, event_id=world.event.id)
        store.set_relay_token(device["token"])
        link = upstream if upstream is not None else client
        syncer = Syncer(store, link, token=device["token"])
        if pull:
            assert syncer.sync_once(), syncer.link.last_error
        with serve(create_relay_app(store=store, upstream=link)) as url:
            yield Relay(url=url, store=store, syncer=syncer, device=device)

    yield make
    for database in opened:
        database.dispose()


def paid_qrs(world: World, count: int) -> list[str]:
    order = make_paid_order(
        world.database, world.event, quantities={world.event.ticket_type_ids[0]: count}
    )
    return [qr_of(world, ticket_id) for ticket_id in order.ticket_ids]
