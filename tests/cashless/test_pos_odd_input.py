"""Odd input on the point of sale's writes, past their Idempotency-Key: the app-wide sweep
(tests/test_odd_input.py) sends none, so it stops at the 400; here each value of a valid
body, however deep, is made odd in turn, under a fresh key: a 4xx every time."""

from __future__ import annotations

import json
import uuid

from fastapi.testclient import TestClient

from admitone.db import Database
from tests.cashless.pos_helpers import API, charge_body, key_headers, make_festival, make_wallet
from tests.helpers import replaced
from tests.test_odd_input import ODD_VALUES, _refusal_problem, _value_paths


def test_each_value_of_a_point_of_sale_body_made_odd_is_refused_without_a_500(
    client: TestClient, clean_database: Database
) -> None:
    festival = make_festival(client, clean_database)
    wallet = make_wallet(clean_database, festival.event_id, funded=20_000)
    register = client.post(
        f"{API}/pos/registers",
        json={"stand_id": festival.desk["id"], "opening_float_minor": 0},
        headers=key_headers(festival.cashier),
    ).json()["data"]
    stand_url = festival.url(festival.bar["id"])
    product_url = festival.url(festival.bar["id"], "products", festival.product_id("Cap"))
    cases = [
        (
            f"{API}/pos/charges",
            charge_body(festival.bar["id"], wallet.code, (festival.product_id("Beer"), 1)),
        ),
        (
            f"{API}/pos/topups",
            {
                "stand_id": festival.desk["id"],
                "pass": wallet.code,
                "amount_minor": 500,
                "method": "cash",
                "register_id": register["id"],
            },
        ),
        (f"{API}/pos/registers", {"stand_id": festival.desk["id"], "opening_float_minor": 0}),
    ]
    problems = []
    for url, body in cases:
        valid = client.post(url, json=body, headers=key_headers(festival.cashier))
        assert valid.status_code < 300, (url, valid.text)
        for path in list(_value_paths(body)):
            for odd in ODD_VALUES:
                response = client.post(
                    url,
                    content=json.dumps(replaced(body, path, odd)),
                    headers={**key_headers(festival.cashier), "content-type": "application/json"},
                )
                problem = _refusal_problem(response)
                if problem:
                    problems.append((url, path, repr(odd)[:40], problem))
    for method, url, body in [
        ("PATCH", stand_url, {"name": "Bar", "kind": "food", "active": True}),
        ("PATCH", product_url, {"name": "Cap", "price_minor": 1, "stock": 3, "category": "X"}),
        ("PATCH", product_url, {"stock_add": 1}),
    ]:
        for path in list(_value_paths(body)):
            for odd in ODD_VALUES:
                response = client.request(
                    method,
                    url,
                    content=json.dumps(replaced(body, path, odd)),
                    headers={**festival.owner, "content-type": "application/json"},
                )
                problem = _refusal_problem(response)
                if problem:
                    problems.append((url, path, repr(odd)[:40], problem))
    # The close last: it ends the register the top-ups above fill.
    close_url = f"{API}/pos/registers/{register['id']}/close"
    for odd in ODD_VALUES:
        response = client.post(
            close_url,
            content=json.dumps({"counted_minor": odd}),
            headers={**key_headers(festival.cashier), "content-type": "application/json"},
        )
        if _refusal_problem(response):
            problems.append((close_url, odd, _refusal_problem(response)))
    for odd in ("not-a-uuid", str(uuid.uuid4()), "0"):
        response = client.post(
            f"{API}/pos/charges/{odd}/reverse", headers=key_headers(festival.cashier)
        )
        assert 400 <= response.status_code < 500, response.text
    assert not problems, "\n".join(map(str, problems[:20]))
