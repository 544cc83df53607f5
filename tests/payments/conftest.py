from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from admitone.db import Database
from tests.factories import Shop, make_shop
from tests.helpers import register


@pytest.fixture
def owner(client: TestClient) -> dict[str, Any]:
    return register(client, full_name="Olive Owner")


@pytest.fixture
def shop(clean_database: Database, owner: dict[str, Any]) -> Shop:
    """The owner's organization selling a published event: 10 seats at 25.00 EUR."""
    return make_shop(clean_database, owner_id=owner["user"]["id"], capacity=10)
