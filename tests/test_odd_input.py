"""Odd input on every API route: a clear 4xx with the error shape, never a 500.

Two sweeps, run on both databases:

* every route under /api/v1 (found in the app, so a new route is swept too) gets odd
  path parameters, odd query parameters and odd JSON bodies, with and without a
  token;
* the main write routes get a valid body in which each value in turn, however deep,
  is replaced by an odd one.

Odd values: wrong JSON types, huge numbers, a lone UTF-16 surrogate (valid JSON that
no database can store as text), NUL, impossible dates, very long strings.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from tests.helpers import (
    event_payload,
    event_with_staff,
    events_url,
    replaced,
    ticket_type_payload,
)

API = "/api/v1"
ODD_VALUES: list[Any] = [
    None,
    "",
    "x" * 5000,
    -1,
    0,
    2**70,
    -(2**70),
    1.5,
    1e308,
    [],
    {},
    [None],
    {"a": 1},
    True,
    "\ud800",
    "a\u0000b",
    "2026-02-30T25:00:00",
    "1999-01-01T00:00:00",
    "0" * 300,
    "not-a-uuid",
    str(uuid.uuid4()),
]
ODD_PATH_VALUES = ["not-a-uuid", str(uuid.uuid4()), "x" * 3000, "%F0%9F%98%80", "0"]
ODD_QUERY_VALUES = ["-1", "99999999999999999999999", "", "x" * 3000, "é", "1.5", "null"]
ODD_BODIES = ["garbage", "{", "[]", '"text"', "null", '{"a": 1}']
# Swept without the owner's token only: with it, the rest of the sweep would be 401s.
# Routes that end the caller's login even with odd input (no body to refuse): swept
# anonymously so that the owner's token lasts the whole sweep.
ENDS_THE_LOGIN = frozenset(
    {("POST", f"{API}/auth/logout"), ("POST", f"{API}/me/sessions/logout-all")}
)


def _world(client: TestClient) -> dict[str, Any]:
    """An organization with a published event, a paid order and its tickets."""
    owner, org, event, staff = event_with_staff(
        client, ticket_types=[{"name": "Floor", "capacity": 10}]
    )
    ticket_type_id = event["ticket_types"][0]["id"]
    order_body = {
        "event_id": event["id"],
        "items": [{"ticket_type_id": ticket_type_id, "quantity": 1}],
        "buyer": {"name": "Ada", "email": "ada@example.com"},
    }
    order = client.post(f"{API}/orders", json=order_body).json()["data"]
    buyer = {"X-Order-Token": order["access_token"]}
    payment = client.post(f"{API}/orders/{order['id']}/pay", headers=buyer).json()["data"]
    client.post(f"{API}/payments/test/{payment['id']}/approve", headers=buyer)
    tickets = client.get(f"{API}/orders/{order['id']}/tickets", headers=buyer).json()["data"]
    return {
        "owner": owner["headers"],
        "staff": staff["headers"],
        "org": org["slug"],
        "event_id": event["id"],
        "ticket_type_id": ticket_type_id,
        "order_id": order["id"],
        "payment_id": payment["id"],
        "ticket_id": tickets[0]["id"],
        "order_body": order_body,
    }


def _refusal_problem(response: Any) -> str | None:
    """Why this answer to odd input is wrong, or None if it is a proper refusal."""
    if response.status_code >= 500:
        return f"{response.status_code}: {response.text[:200]}"
    if response.status_code >= 400 and response.headers.get("content-type", "").startswith(
        "application/json"
    ):
        error = response.json().get("error")
        if not isinstance(error, dict) or not {"code", "message", "details"} <= set(error):
            return f"{response.status_code} without the error shape: {response.text[:200]}"
    return None


def _api_routes(app: Any) -> Iterator[tuple[str, str, APIRoute]]:
    for context in iter_route_contexts(app.routes):
        # The template without converters ("{ticket_id:uuid}" -> "{ticket_id}"), as in
        # the OpenAPI paths.
        path = context.path_format or ""
        if isinstance(context.route, APIRoute) and path.startswith(API + "/"):
            for method in context.methods or ():
                if method != "HEAD":
                    yield method, path, context.route


def _body_fields(spec: dict[str, Any], path: str, method: str) -> list[str]:
    operation = spec["paths"].get(path, {}).get(method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    # A body that may be absent is "anyOf": [its model, null].
    references = [item.get("$ref") for item in [schema, *schema.get("anyOf", [])]]
    fields: list[str] = []
    for reference in filter(None, references):
        model = spec["components"]["schemas"][reference.rsplit("/", 1)[1]]
        fields += model.get("properties", {})
    return fields


def test_every_api_route_refuses_odd_input_without_a_500(client: TestClient, app: Any):
    world = _world(client)
    spec = app.openapi()
    problems = []
    swept = 0
    for method, template, route in _api_routes(app):
        names = re.findall(r"{(\w+)}", template)

        def path_with(odd: dict[str, str], template: str = template, names: list = names) -> str:
            path = template
            for name in names:
                path = path.replace(
                    f"{{{name}}}", odd.get(name, world.get(name, str(uuid.uuid4())))
                )
            return path

        requests: list[tuple[str, str | None, dict[str, str] | None]] = [
            (path_with({name: odd}), None, None) for name in names for odd in ODD_PATH_VALUES
        ]
        for query in route.dependant.query_params:
            requests += [(path_with({}), None, {query.alias: odd}) for odd in ODD_QUERY_VALUES]
        if method in ("POST", "PUT", "PATCH"):
            fields = _body_fields(spec, template, method)
            bodies = ODD_BODIES + [
                json.dumps({field: odd}) for field in fields for odd in ODD_VALUES
            ]
            bodies += [json.dumps(dict.fromkeys(fields, odd)) for odd in ODD_VALUES if fields]
            requests += [(path_with({}), body, None) for body in bodies]
        logins = [{}] if (method, template) in ENDS_THE_LOGIN else [world["owner"], {}]
        for path, body, query in requests:
            for headers in logins:
                swept += 1
                response = client.request(
                    method,
                    path,
                    content=body,
                    params=query,
                    headers={**headers, "content-type": "application/json"},
                )
                problem = _refusal_problem(response)
                if problem:
                    problems.append(
                        (method, template, path[:80], (body or "")[:80], query, problem)
                    )
    assert swept > 3000  # every route was reached, not a handful
    # The owner's token lasted the whole sweep: its requests were not all 401s.
    assert client.get(f"{API}/me", headers=world["owner"]).status_code == 200
    assert not problems, "\n".join(map(str, problems[:20]))


def _value_paths(value: Any, path: tuple = ()) -> Iterator[tuple]:
    """The path of every value in a JSON document, containers included."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _value_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _value_paths(item, (*path, index))
    yield path


def test_each_value_of_a_valid_body_made_odd_is_refused_without_a_500(client: TestClient):
    world = _world(client)
    org, event_id = world["org"], world["event_id"]
    owner = world["owner"]
    cases = [
        ("POST", f"{API}/orders", world["order_body"], {}),
        ("POST", events_url(org), event_payload(), owner),
        ("PATCH", events_url(org, event_id), event_payload(), owner),
        (
            "POST",
            events_url(org, event_id, "ticket-types"),
            ticket_type_payload(
                description="Near the stage",
                vat_rate_bp=2000,
                sales_start="2026-12-01T10:00:00+01:00",
                sales_end="2027-01-01T10:00:00+01:00",
                min_per_order=1,
                max_per_order=4,
                is_active=True,
                position=1,
            ),
            owner,
        ),
        (
            "PATCH",
            events_url(org, event_id, "ticket-types", world["ticket_type_id"]),
            ticket_type_payload(),
            owner,
        ),
        (
            "POST",
            f"{API}/auth/register",
            {"email": "new@example.com", "password": "correct horse battery", "full_name": "N"},
            {},
        ),
        (
            "POST",
            f"{API}/auth/login",
            {"email": "new@example.com", "password": "correct horse battery"},
            {},
        ),
        ("PATCH", f"{API}/me", {"full_name": "Ada L.", "locale": "fr"}, owner),
        (
            "POST",
            f"{API}/events/{event_id}/checkins",
            {"qr": "abc", "gate": "North"},
            world["staff"],
        ),
        (
            "POST",
            f"{API}/organizations/{org}/events/{event_id}/orders/{world['order_id']}/refund",
            {"ticket_ids": [world["ticket_id"]], "reason": "Cannot come"},
            owner,
        ),
        # Cashless (issue 17): the event's settings, then the owner's own top-up there.
        (
            "PUT",
            f"{API}/organizations/{org}/events/{event_id}/cashless",
            {
                "enabled": True,
                "unit_name": "Jetons",
                "topup_minimum_minor": 500,
                "topup_maximum_minor": 20_000,
                "balance_maximum_minor": 50_000,
                "offline_wallet_cap_minor": 3_000,
                "offline_sale_cap_minor": 1_500,
                "pass_validity_minutes": 120,
                "wallet_with_ticket": True,
                "refund_window_days": 14,
                "refund_minimum_minor": 100,
                "refund_fee_minor": 50,
                "unclaimed_policy": "donate",
                "donation_recipient": "Les Restos du Cœur",
            },
            owner,
        ),
        ("POST", f"{API}/me/wallets/{event_id}/topups", {"amount_minor": 1_000}, owner),
        ("POST", f"{API}/organizations", {"name": "Other", "slug": "other-org"}, owner),
        (
            "POST",
            f"{API}/organizations/{org}/members",
            {"email": "new@example.com", "role": "staff"},
            owner,
        ),
    ]
    problems = []
    for method, url, body, headers in cases:
        headers = {**headers, "content-type": "application/json"}
        # The body as given is valid: the odd values below are refused for themselves.
        valid = client.request(method, url, content=json.dumps(body), headers=headers)
        assert valid.status_code < 300, (method, url, valid.text)
        for path in list(_value_paths(body)):
            for odd in ODD_VALUES:
                response = client.request(
                    method, url, content=json.dumps(replaced(body, path, odd)), headers=headers
                )
                problem = _refusal_problem(response)
                if problem:
                    problems.append((method, url, path, repr(odd)[:40], problem))
    assert not problems, "\n".join(map(str, problems[:20]))
