from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from admitone.db import Database
from tests.factories import Shop, make_shop
from tests.helpers import register
from tests.payments.fake_stripe import FakeStripe, start
from tests.payments.stripe_helpers import stripe_settings


@pytest.fixture
def owner(client: TestClient) -> dict[str, Any]:
    return register(client, full_name="Olive Owner")


@pytest.fixture
def shop(clean_database: Database, owner: dict[str, Any]) -> Shop:
    """The owner's organization selling a published event: 10 seats at 25.00 EUR."""
    return make_shop(clean_database, owner_id=owner["user"]["id"], capacity=10)


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    """The local fake Stripe API, on a free port, for this test only."""
    fake = FakeStripe()
    server = start(fake)
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def stripe_client(
    make_app: Callable[..., FastAPI], fake_stripe: FakeStripe
) -> Iterator[TestClient]:
    """The app with Stripe as its provider, talking to the fake."""
    app = make_app(**stripe_settings(fake_stripe))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
