from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from admitone.db import Database
from tests.tickets.factories import World, build_world


@pytest.fixture
def world(client: TestClient, clean_database: Database) -> World:
    return build_world(client, clean_database)
