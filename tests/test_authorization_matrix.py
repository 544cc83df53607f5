"""Who may call which organizer route: every route under /organizations/{org}, every actor.

The table below must name every such route of the app (the test enumerates the app's
routes and fails on any missing one), so a new organizer route cannot ship without
saying who may call it. Refused calls must change nothing at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts

from admitone.accounts import service as accounts
from tests.helpers import (
    PASSWORD,
    add_member,
    auth,
    create_event,
    create_org,
    create_ticket_type,
    db_snapshot,
    event_payload,
    png_bytes,
    register,
    ticket_type_payload,
)
from tests.twofactor.helpers import enable_totp

PREFIX = "/api/v1/organizations/{org}"

# What each route needs, named after admitone.organizations.permissions.Permission.
READ, WRITE, MEMBERS = "view_events", "manage_events", "manage_members"
ORDERS, REFUNDS, CHECK_IN = "view_orders", "refund_orders", "check_in"
PAYOUTS = "manage_payouts"  # where the money goes: the owner alone
SECURITY = "manage_security"  # requiring two-factor of the members: the owner alone
# To add a route: a MATRIX row with the permission its org_access asks for and a
# ``prepare`` that creates fresh rows of organization A for one call (a write may
# consume them), then run this file.


@dataclass
class Call:
    params: dict[str, str]
    json: Any = None
    files: Any = None


@dataclass(frozen=True)
class Route:
    needs: str
    prepare: Callable[[Any], Call]


# --- preparing a call: fresh resources of organization A for each call ---------------


def _event(ctx) -> str:
    return create_event(ctx.client, ctx.owner_a, ctx.org_a)["id"]


def _event_with_type(ctx) -> tuple[str, str]:
    event_id = _event(ctx)
    return event_id, create_ticket_type(ctx.client, ctx.owner_a, ctx.org_a, event_id)["id"]


def _member(ctx) -> str:
    person = register(ctx.client)
    return add_member(ctx.client, ctx.owner_a, ctx.org_a, person["email"], "staff")["id"]


def _event_params(ctx) -> Call:
    return Call({"event_id": _event(ctx)})


def _ticket_type_params(ctx, **extra) -> Call:
    event_id, ticket_type_id = _event_with_type(ctx)
    return Call({"event_id": event_id, "ticket_type_id": ticket_type_id}, **extra)


def _paid_order_params(ctx, **extra) -> Call:
    from tests.orders.helpers import paid_order_through_api

    event_id, order_id = paid_order_through_api(ctx.client, ctx.owner_a, ctx.org_a)
    return Call({"event_id": event_id, "order_id": order_id}, **extra)


MATRIX: dict[tuple[str, str], Route] = {
    ("GET", ""): Route(READ, lambda ctx: Call({})),
    ("PATCH", ""): Route(WRITE, lambda ctx: Call({}, json={"name": "Renamed"})),
    ("GET", "/members"): Route(MEMBERS, lambda ctx: Call({})),
    (
        "POST",
        "/members",
    ): Route(
        MEMBERS,
        lambda ctx: Call({}, json={"email": register(ctx.client)["email"], "role": "staff"}),
    ),
    ("PATCH", "/members/{member_id}"): Route(
        MEMBERS, lambda ctx: Call({"member_id": _member(ctx)}, json={"role": "cashier"})
    ),
    ("DELETE", "/members/{member_id}"): Route(
        MEMBERS, lambda ctx: Call({"member_id": _member(ctx)})
    ),
    ("GET", "/events"): Route(READ, lambda ctx: Call({})),
    ("POST", "/events"): Route(WRITE, lambda ctx: Call({}, json=event_payload())),
    ("GET", "/events/{event_id}"): Route(READ, _event_params),
    ("PATCH", "/events/{event_id}"): Route(
        WRITE, lambda ctx: Call({"event_id": _event(ctx)}, json={"title": "Changed"})
    ),
    ("DELETE", "/events/{event_id}"): Route(WRITE, _event_params),
    ("POST", "/events/{event_id}/publish"): Route(
        WRITE, lambda ctx: Call({"event_id": _event_with_type(ctx)[0]})
    ),
    ("POST", "/events/{event_id}/cancel"): Route(WRITE, _event_params),
    ("PUT", "/events/{event_id}/image"): Route(
        WRITE,
        lambda ctx: Call(
            {"event_id": _event(ctx)}, files={"file": ("a.png", png_bytes(), "image/png")}
        ),
    ),
    ("DELETE", "/events/{event_id}/image"): Route(WRITE, _event_params),
    ("GET", "/events/{event_id}/ticket-types"): Route(READ, _event_params),
    ("POST", "/events/{event_id}/ticket-types"): Route(
        WRITE, lambda ctx: Call({"event_id": _event(ctx)}, json=ticket_type_payload())
    ),
    ("GET", "/events/{event_id}/ticket-types/{ticket_type_id}"): Route(READ, _ticket_type_params),
    ("PATCH", "/events/{event_id}/ticket-types/{ticket_type_id}"): Route(
        WRITE, lambda ctx: _ticket_type_params(ctx, json={"capacity": 7, "name": "Changed"})
    ),
    ("DELETE", "/events/{event_id}/ticket-types/{ticket_type_id}"): Route(
        WRITE, _ticket_type_params
    ),
    # Before the routes that need a paid order (its e-mail is written in the background).
    ("GET", "/events/{event_id}/payout"): Route(ORDERS, _event_params),
    ("PUT", "/stripe-account"): Route(
        PAYOUTS, lambda ctx: Call({}, json={"stripe_account_id": "acct_Matrix1"})
    ),
    ("PUT", "/two-factor-requirement"): Route(
        SECURITY, lambda ctx: Call({}, json={"require_two_factor": False})
    ),
    ("GET", "/events/{event_id}/orders"): Route(ORDERS, _event_params),
    ("GET", "/events/{event_id}/orders/{order_id}"): Route(ORDERS, _paid_order_params),
    ("POST", "/events/{event_id}/orders/{order_id}/refund"): Route(
        REFUNDS, lambda ctx: _paid_order_params(ctx, json={"reason": "Matrix"})
    ),
}

# Actor -> the status (200 meaning any 2xx) they get for a route needing a permission.
ALL = (READ, WRITE, MEMBERS, ORDERS, REFUNDS, CHECK_IN, PAYOUTS, SECURITY)
EXPECTED = {
    "anonymous": dict.fromkeys(ALL, 401),
    "buyer": dict.fromkeys(ALL, 404),
    "owner_b": dict.fromkeys(ALL, 404),
    # Gate staff read events and scan tickets; nothing else.
    "staff_a": {**dict.fromkeys(ALL, 403), READ: 200, CHECK_IN: 200},
    "admin_a": {**dict.fromkeys(ALL, 200), PAYOUTS: 403, SECURITY: 403},
    "owner_a": dict.fromkeys(ALL, 200),
    "platform_admin": dict.fromkeys(ALL, 200),
}


def organizer_routes(app) -> set[tuple[str, str]]:
    """(method, path relative to PREFIX) of every route of the app under PREFIX."""
    found = set()
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if path == PREFIX or path.startswith(PREFIX + "/"):
            for method in route.methods or ():
                if method != "HEAD":
                    found.add((method, path[len(PREFIX) :]))
    return found


@dataclass
class Context:
    client: Any
    database: Any
    media_dir: Any
    org_a: str
    org_b: str
    owner_a: dict[str, str]
    headers: dict[str, dict[str, str] | None]


@pytest.fixture
def ctx(client, clean_database, media_dir) -> Context:
    owner_a = register(client)
    org_a = create_org(client, owner_a["headers"])["slug"]
    owner_b = register(client)
    org_b = create_org(client, owner_b["headers"])["slug"]
    admin_a, staff_a, buyer = register(client), register(client), register(client)
    add_member(client, owner_a["headers"], org_a, admin_a["email"], "admin")
    add_member(client, owner_a["headers"], org_a, staff_a["email"], "staff")
    with clean_database.session() as session:
        accounts.register_user(
            session, email="root@example.com", password=PASSWORD, is_platform_admin=True
        )
    login = client.post(
        "/api/v1/auth/login", json={"email": "root@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200
    platform_admin = auth(login.json()["data"]["tokens"]["access_token"])
    # Platform admins act only once they have a second factor (tests/twofactor).
    enable_totp(client, platform_admin)
    # B owns an event too, so that "not found" is never just "B has no events".
    create_event(client, owner_b["headers"], org_b)
    return Context(
        client=client,
        database=clean_database,
        media_dir=media_dir,
        org_a=org_a,
        org_b=org_b,
        owner_a=owner_a["headers"],
        headers={
            "anonymous": None,
            "buyer": buyer["headers"],
            "owner_b": owner_b["headers"],
            "staff_a": staff_a["headers"],
            "admin_a": admin_a["headers"],
            "owner_a": owner_a["headers"],
            "platform_admin": platform_admin,
        },
    )


def _media_files(media_dir) -> list[str]:
    return sorted(str(p) for p in media_dir.rglob("*") if p.is_file())


def _send(ctx: Context, method: str, path: str, call: Call, headers, org: str):
    url = PREFIX.format(org=org) + path.format(**call.params)
    return ctx.client.request(method, url, json=call.json, files=call.files, headers=headers)


def test_every_organizer_route_is_in_the_matrix(app):
    routes = organizer_routes(app)
    missing = sorted(routes - set(MATRIX))
    stale = sorted(set(MATRIX) - routes)
    assert not missing, f"add these routes to MATRIX with the permission they need: {missing}"
    assert not stale, f"these MATRIX entries match no route any more: {stale}"
    assert len(routes) >= 20


@pytest.mark.parametrize("actor", list(EXPECTED))
def test_matrix(ctx, actor):
    headers = ctx.headers[actor]
    for (method, path), route in MATRIX.items():
        call = route.prepare(ctx)
        expected = EXPECTED[actor][route.needs]
        before = db_snapshot(ctx.database) if expected != 200 else None
        files_before = _media_files(ctx.media_dir)
        response = _send(ctx, method, path, call, headers, ctx.org_a)
        label = f"{actor} {method} {path}: {response.status_code} {response.text[:200]}"
        if expected == 200:
            assert 200 <= response.status_code < 300, label
            continue
        assert response.status_code == expected, label
        code = {401: "NOT_AUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}[expected]
        assert response.json()["error"]["code"] == code, label
        assert db_snapshot(ctx.database) == before, f"refused call changed data: {label}"
        assert _media_files(ctx.media_dir) == files_before, label


def test_owner_of_b_cannot_reach_a_rows_through_b(ctx):
    """B's owner passes B's own slug with A's ids: still not found, nothing changes."""
    headers = ctx.headers["owner_b"]
    tried = 0
    for (method, path), route in MATRIX.items():
        call = route.prepare(ctx)
        if not call.params:
            continue  # no id of A in this route
        before = db_snapshot(ctx.database)
        response = _send(ctx, method, path, call, headers, ctx.org_b)
        label = f"{method} {path}: {response.status_code} {response.text[:200]}"
        assert response.status_code == 404, label
        assert response.json()["error"]["code"] == "NOT_FOUND", label
        assert db_snapshot(ctx.database) == before, label
        tried += 1
    assert tried >= 14


def test_staff_reads_show_the_same_data_as_the_owner(ctx):
    event_id = create_event(ctx.client, ctx.owner_a, ctx.org_a, title="Visible to staff")["id"]
    url = PREFIX.format(org=ctx.org_a) + f"/events/{event_id}"
    as_staff = ctx.client.get(url, headers=ctx.headers["staff_a"])
    as_owner = ctx.client.get(url, headers=ctx.owner_a)
    assert as_staff.status_code == 200
    assert as_staff.json() == as_owner.json()


def test_unknown_organization_is_404_even_for_platform_admin(ctx):
    url = PREFIX.format(org=f"no-such-org-{uuid.uuid4().hex[:6]}") + "/events"
    response = ctx.client.get(url, headers=ctx.headers["platform_admin"])
    assert response.status_code == 404
