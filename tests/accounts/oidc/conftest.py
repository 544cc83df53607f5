from __future__ import annotations

from collections.abc import Iterator

import pytest

from admitone.accounts.oidc import client as oidc_client
from tests.accounts.oidc.fake_provider import FakeProvider, running_provider


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[FakeProvider]:
    with running_provider() as provider:
        yield provider


@pytest.fixture(autouse=True)
def _fresh_discovery_cache() -> Iterator[None]:
    # Discovery documents are cached per process: each test discovers afresh.
    oidc_client.clear_cache()
    yield
    oidc_client.clear_cache()
