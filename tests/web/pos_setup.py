"""A festival's bar ready for the till page's tests (tests/web/test_pos_page.py and the
browser's, tests/web/e2e/test_pos.py): cashless on, a bar with its products and a kitchen,
a cashier assigned to the bar only. Works with the test client or the live server's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from admitone.db import Database
from tests.cashless.pos_helpers import BAR_PRODUCTS, create_product, create_stand, enable_cashless
from tests.helpers import add_member, create_event, create_org, events_url, register


@dataclass
class TillFestival:
    org: str
    event_id: str
    owner: dict[str, Any]
    cashier: dict[str, Any]
    bar: dict[str, Any]
    kitchen: dict[str, Any]
    products: dict[str, dict[str, Any]]


def till_festival(client: Any, database: Database) -> TillFestival:
    owner = register(client, full_name="Olive Owner")
    org = create_org(client, owner["headers"])["slug"]
    event_id = create_event(client, owner["headers"], org, title="Summer Fields Festival")["id"]
    enable_cashless(database, event_id)
    cashier = register(client, full_name="Cas Cashier")
    cashier_id = add_member(client, owner["headers"], org, cashier["email"], "cashier")["user"][
        "id"
    ]
    bar = create_stand(client, owner["headers"], org, event_id, name="Main bar", kind="bar")
    kitchen = create_stand(client, owner["headers"], org, event_id, name="Kitchen", kind="food")
    assigned = client.put(
        events_url(org, event_id, "stands", bar["id"], "cashiers", cashier_id),
        headers=owner["headers"],
    )
    assert assigned.status_code == 200, assigned.text
    products_url = events_url(org, event_id, "stands", bar["id"], "products")
    products = {
        name: create_product(client, owner["headers"], products_url, **body)
        for name, body in BAR_PRODUCTS.items()
    }
    return TillFestival(org, event_id, owner, cashier, bar, kitchen, products)
