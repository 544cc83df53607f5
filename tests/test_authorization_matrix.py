"""Who may call which route: every route that takes an organization's object, every actor.

The routes are found in the app, not listed by prefix. Every parameter that names an
object (each path parameter, and each query parameter or body field ending in ``_id``)
of every route, API and pages, is classified in ID_PARAMETERS, so a new name fails until
someone says what it names; a route taking an organization's object (its slug; the id of
one of its events, ticket types, members, orders, payments or tickets; a public event's
id or slug) must have an entry: MATRIX for the JSON API (every actor calls it), PAGES
for the server-rendered pages. So no route of any prefix that reaches an organization's
rows can ship without saying who may call it. Refused calls must change nothing at all.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from admitone.accounts import service as accounts
from tests.helpers import (
    PASSWORD,
    add_member,
    auth,
    create_event,
    create_org,
    create_published_event,
    create_ticket_type,
    db_snapshot,
    event_payload,
    png_bytes,
    register,
    ticket_type_payload,
)
from tests.orders.helpers import start_payment, token_headers
from tests.twofactor.helpers import enable_totp
from tests.web.helpers import HTML, csrf_from, get_page, web_login

API = "/api/v1"
ORG = "/organizations/{org}"
PREFIX = API + ORG

# What each route needs, named after admitone.authorization.Permission.
READ, WRITE, MEMBERS = "view_events", "manage_events", "manage_members"
ORDERS, REFUNDS, CHECK_IN = "view_orders", "refund_orders", "check_in"
PAYOUTS = "manage_payouts"  # where the money goes: the owner alone
SECURITY = "manage_security"  # requiring two-factor of the members: the owner alone
UNDO_CHECK_IN = "undo_check_in"  # undoing an admission at the gate: admins and owners
# A new pass for a lost one (cashless): organizers, and cashiers (tests/cashless).
REPLACE_PASSES = "replace_wallet_passes"
# Selling at a stand: cashiers assigned to it (tests/cashless), admins and owners anywhere.
SELL = "sell_at_stand"
# Who may call the routes that reach an organization's rows another way than its slug.
BUYER = "buyer"  # the order's buyer (its account, or the order token) alone; others 404
ORDER_READER = "order_reader"  # the buyer, or members who may view orders (tickets, documents)
PUBLIC = "public"  # anyone: the catalogue of published events
CHECK_IN_OR_PUBLISHED = "check_in_or_published"  # a draft's scanner key: members who check in
PLATFORM = "platform"  # the platform's own acts: platform admins alone
ACCOUNT = "account"  # any account, for itself: its own wallet at a published event
# A wallet's leftover refund: its holder alone (no actor holds one: 404 for all of them).
HOLDER = "wallet_holder"
# To add a route: a MATRIX row with the permission its org_access asks for (or the rule
# above it follows) and a ``prepare`` that creates fresh rows of organization A for one
# call (a write may consume them), then run this file.

# What each parameter that names an object names: every path parameter of the app, and
# every query parameter or body field ending in ``_id``. True: an organization's object
# (a route taking it needs a MATRIX or PAGES entry); False: the caller's own, or no row.
ID_PARAMETERS = {
    "org": True,
    "event_id": True,
    "ticket_type_id": True,
    "member_id": True,
    "order_id": True,
    "payment_id": True,
    "ticket_id": True,
    "list_id": True,  # a check-in list of an event
    "device_id": True,  # a gate device paired with an event
    "wallet_id": True,  # an attendee's cashless wallet at an event
    "export_id": True,  # a SEPA export of an event's cashless payouts
    "id_or_slug": True,  # a published event, by id or slug
    "slug": True,  # the same, on the pages
    "session_id": False,  # the caller's own login
    "login_id": False,  # the same, on the pages
    "passkey_id": False,  # the caller's own passkey
    "provider": False,  # an identity provider's name, from the settings
    "challenge_id": False,  # the caller's own passkey challenge
    "stripe_account_id": False,  # an account at Stripe, not a row here
    "stand_id": True,  # a stand of an event (cashless)
    "product_id": True,  # a product of a stand
    "user_id": True,  # a member of the organization (a stand's cashier)
    "entry_id": True,  # a journal entry of an event's ledger (a sale)
    "register_id": True,  # a cash register at a stand
    "stage_id": True,  # a stage of an event (lineup)
    "artist_id": True,  # an artist of an event
    "slot_id": True,  # a slot of an event's lineup
}


@dataclass
class Call:
    params: dict[str, str]
    json: Any = None
    query: dict[str, str] | None = None  # the query string
    files: Any = None
    order_token: str | None = None  # the order's token, for the "token_holder" actor
    headers: dict[str, str] | None = None  # sent with every actor's (an Idempotency-Key)


@dataclass(frozen=True)
class Route:
    needs: str
    prepare: Callable[[Any], Call]
    # The code of a refusal where it is not the generic one (DEFAULT_CODES).
    codes: dict[int, str] = field(default_factory=dict)
    # A list route that answers a refused caller with an empty list rather than a 404.
    refused_with_empty_list: bool = False


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


def _published_event(ctx) -> dict[str, Any]:
    return create_published_event(ctx.client, ctx.owner_a, ctx.org_a)


def _pending_order(ctx) -> dict[str, Any]:
    """A guest's pending order of a published event of A (its access_token included)."""
    event = _published_event(ctx)
    body = {
        "event_id": event["id"],
        "items": [{"ticket_type_id": event["ticket_types"][0]["id"], "quantity": 1}],
        "buyer": {"name": "Matrix Buyer", "email": "matrix@example.com"},
    }
    response = ctx.client.post(f"{API}/orders", json=body)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def _pending_order_params(ctx) -> Call:
    order = _pending_order(ctx)
    return Call({"order_id": order["id"]}, order_token=order["access_token"])


def _pending_payment_params(ctx) -> Call:
    order = _pending_order(ctx)
    payment = start_payment(ctx.client, order)
    return Call({"payment_id": payment["id"]}, order_token=order["access_token"])


def _paid_order(ctx) -> dict[str, Any]:
    """One paid guest order of A with its tickets, shared by the calls of one test that
    only read it (so that its confirmation mail is long sent when they run)."""
    if ctx.shared.get("paid_order") is None:
        order = _pending_order(ctx)
        payment = start_payment(ctx.client, order)
        approved = ctx.client.post(
            f"{API}/payments/test/{payment['id']}/approve",
            headers=token_headers(order["access_token"]),
        )
        assert approved.status_code == 200, approved.text
        tickets = ctx.client.get(
            f"{API}/orders/{order['id']}/tickets", headers=token_headers(order["access_token"])
        ).json()["data"]
        ctx.shared["paid_order"] = {**order, "ticket_id": tickets[0]["id"]}
    return ctx.shared["paid_order"]


def _named_order(ctx) -> dict[str, Any]:
    """One paid guest order of A for an event that asks for attendee names, with its
    ticket; shared by the calls of one test, like ``_paid_order``."""
    if ctx.shared.get("named_order") is None:
        event = create_published_event(ctx.client, ctx.owner_a, ctx.org_a, ask_attendee_names=True)
        body = {
            "event_id": event["id"],
            "items": [{"ticket_type_id": event["ticket_types"][0]["id"], "quantity": 1}],
            "buyer": {"name": "Matrix Buyer", "email": "matrix@example.com"},
        }
        created = ctx.client.post(f"{API}/orders", json=body)
        assert created.status_code == 201, created.text
        order = created.json()["data"]
        headers = token_headers(order["access_token"])
        payment = start_payment(ctx.client, order)
        approved = ctx.client.post(f"{API}/payments/test/{payment['id']}/approve", headers=headers)
        assert approved.status_code == 200, approved.text
        tickets = ctx.client.get(f"{API}/orders/{order['id']}/tickets", headers=headers)
        ctx.shared["named_order"] = {**order, "ticket_id": tickets.json()["data"][0]["id"]}
    return ctx.shared["named_order"]


def _named_ticket_params(ctx) -> Call:
    order = _named_order(ctx)
    return Call(
        {"order_id": order["id"], "ticket_id": order["ticket_id"]},
        json={"holder_name": "Matrix Attendee"},
        order_token=order["access_token"],
    )


def _named_order_params(ctx) -> Call:
    order = _named_order(ctx)
    return Call({"order_id": order["id"]}, order_token=order["access_token"])


def _order_body(ctx) -> Call:
    event = _published_event(ctx)
    item = {"ticket_type_id": event["ticket_types"][0]["id"], "quantity": 1}
    buyer = {"name": "Matrix Buyer", "email": "matrix@example.com"}
    return Call({}, json={"event_id": event["id"], "items": [item], "buyer": buyer})


def _paid_order_reader_params(ctx) -> Call:
    order = _paid_order(ctx)
    return Call({"order_id": order["id"]}, order_token=order["access_token"])


def _admitted_ticket_params(ctx) -> Call:
    """A fresh paid order's ticket of A, admitted at the gate (the undo consumes it)."""
    order = _pending_order(ctx)
    payment = start_payment(ctx.client, order)
    headers = token_headers(order["access_token"])
    approved = ctx.client.post(f"{API}/payments/test/{payment['id']}/approve", headers=headers)
    assert approved.status_code == 200, approved.text
    tickets = ctx.client.get(f"{API}/orders/{order['id']}/tickets", headers=headers).json()
    ticket = tickets["data"][0]
    scanned = ctx.client.post(
        f"{API}/events/{order['event_id']}/checkins",
        json={"qr": ticket["id"]},
        headers=ctx.owner_a,
    )
    assert scanned.json()["data"]["result"] == "admitted", scanned.text
    return Call({"event_id": order["event_id"], "ticket_id": ticket["id"]})


def _device_params(ctx) -> Call:
    """A fresh event of A with a gate device paired by A's owner."""
    event_id = _event(ctx)
    response = ctx.client.post(
        f"{API}/events/{event_id}/devices",
        json={"name": "Matrix phone", "gate": "North"},
        headers=ctx.owner_a,
    )
    assert response.status_code == 201, response.text
    return Call({"event_id": event_id, "device_id": response.json()["data"]["id"]})


def _checkin_list_params(ctx, **extra) -> Call:
    """A fresh event of A with a check-in list of its own (made by A's owner)."""
    event_id = _event(ctx)
    response = ctx.client.post(
        f"{API}/organizations/{ctx.org_a}/events/{event_id}/checkin-lists",
        json={"name": "Matrix list"},
        headers=ctx.owner_a,
    )
    assert response.status_code == 201, response.text
    return Call({"event_id": event_id, "list_id": response.json()["data"]["id"]}, **extra)


def _cashless_event(ctx) -> str:
    """A fresh published event of A with cashless on (its default settings)."""
    event_id = _published_event(ctx)["id"]
    response = ctx.client.put(
        f"{API}/organizations/{ctx.org_a}/events/{event_id}/cashless", json={}, headers=ctx.owner_a
    )
    assert response.status_code == 200, response.text
    return event_id


def _cashless_event_params(ctx, **extra) -> Call:
    return Call({"event_id": _cashless_event(ctx)}, **extra)


def _ended_cashless_event(ctx, *, window_over: bool = False) -> str:
    """A fresh cashless event of A that ended yesterday (its refund window open), or
    long ago (its window over)."""
    from datetime import timedelta

    from tests.cashless.payout_helpers import end_event

    event_id = _cashless_event(ctx)
    ago = timedelta(days=30) if window_over else timedelta(days=1)
    end_event(ctx.database, event_id, ended_ago=ago)
    return event_id


def _ended_cashless_event_params(ctx, **extra) -> Call:
    return Call({"event_id": _ended_cashless_event(ctx)}, **extra)


def _event_with_bank_payout(ctx) -> tuple[str, str]:
    """An ended cashless event of A with an attendee's leftover asked back to a bank."""
    from sqlalchemy import select

    from admitone.cashless.models import Wallet
    from tests.cashless.payout_helpers import refund
    from tests.cashless.pos_helpers import make_wallet

    event_id = _ended_cashless_event(ctx)
    made = make_wallet(ctx.database, event_id, funded=2_000)
    with ctx.database.session(write=False) as session:
        user_id = session.scalar(select(Wallet.user_id).where(Wallet.id == made.id))
    assert user_id is not None
    refund(ctx.database, ctx.client.app.state.settings, event_id=made.event_id, user_id=user_id)
    return event_id, str(made.id)


def _payout_export_params(ctx) -> Call:
    event_id, _wallet = _event_with_bank_payout(ctx)
    made = ctx.client.post(
        f"{API}/organizations/{ctx.org_a}/events/{event_id}/cashless/payout-exports",
        json={"debtor_name": "Matrix SAS", "debtor_iban": "DE02120300000000202051"},
        headers=ctx.owner_a,
    )
    assert made.status_code == 201, made.text
    return Call({"event_id": event_id, "export_id": made.json()["data"]["id"]})


def _wallet_params(ctx, **extra) -> Call:
    """A fresh cashless event of A with an attendee's wallet (opened by their first look)."""
    event_id = _cashless_event(ctx)
    holder = register(ctx.client)
    wallet = ctx.client.get(f"{API}/me/wallets/{event_id}", headers=holder["headers"])
    assert wallet.status_code == 200, wallet.text
    return Call({"event_id": event_id, "wallet_id": wallet.json()["data"]["id"]}, **extra)


def _ticket_params(ctx) -> Call:
    order = _paid_order(ctx)
    return Call({"ticket_id": order["ticket_id"]}, order_token=order["access_token"])


def _stand(ctx, kind: str = "bar") -> tuple[str, str]:
    """A fresh event of A with cashless on and a stand (made by A's owner)."""
    from tests.cashless.pos_helpers import create_stand, enable_cashless

    event_id = _event(ctx)
    enable_cashless(ctx.database, event_id)
    stand = create_stand(ctx.client, ctx.owner_a, ctx.org_a, event_id, name="Bar", kind=kind)
    return event_id, stand["id"]


def _stand_params(ctx, **extra) -> Call:
    event_id, stand_id = _stand(ctx)
    return Call({"event_id": event_id, "stand_id": stand_id}, **extra)


def _product(ctx, event_id: str, stand_id: str) -> str:
    from tests.cashless.pos_helpers import create_product

    url = f"{PREFIX.format(org=ctx.org_a)}/events/{event_id}/stands/{stand_id}/products"
    return create_product(
        ctx.client, ctx.owner_a, url, name="Beer", price_minor=450, vat_rate_bp=0
    )["id"]


def _product_params(ctx, **extra) -> Call:
    event_id, stand_id = _stand(ctx)
    product_id = _product(ctx, event_id, stand_id)
    return Call({"event_id": event_id, "stand_id": stand_id, "product_id": product_id}, **extra)


def _cashier_params(ctx) -> Call:
    """A stand of A and a fresh member of A with the cashier role."""
    person = register(ctx.client)
    member = add_member(ctx.client, ctx.owner_a, ctx.org_a, person["email"], "cashier")
    return Call({**_stand_params(ctx).params, "user_id": member["user"]["id"]})


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"matrix-{uuid.uuid4()}"}


def _charge_call(ctx) -> Call:
    """A sale at a fresh stand of A, on a funded wallet, under a fresh key."""
    from tests.cashless.pos_helpers import charge_body, make_wallet

    event_id, stand_id = _stand(ctx)
    product_id = _product(ctx, event_id, stand_id)
    wallet = make_wallet(ctx.database, event_id, funded=1000)
    return Call({}, json=charge_body(stand_id, wallet.code, (product_id, 1)), headers=_key())


def _sale_params(ctx) -> Call:
    """A sale made a moment ago at a stand of A (by A's owner), to reverse."""
    call = _charge_call(ctx)
    response = ctx.client.post(
        f"{API}/pos/charges", json=call.json, headers={**ctx.owner_a, **_key()}
    )
    assert response.status_code == 201, response.text
    return Call({"entry_id": response.json()["data"]["entry_id"]}, headers=_key())


def _register_call(ctx) -> Call:
    _event_id, desk_id = _stand(ctx, kind="topup_desk")
    return Call({}, json={"stand_id": desk_id, "opening_float_minor": 0}, headers=_key())


def _pos_device_call(ctx) -> Call:
    _event_id, stand_id = _stand(ctx)
    return Call({}, json={"stand_id": stand_id, "name": "Matrix till"})


def _open_register_params(ctx) -> Call:
    """A register opened by A's owner at a desk of A, to close."""
    call = _register_call(ctx)
    response = ctx.client.post(
        f"{API}/pos/registers", json=call.json, headers={**ctx.owner_a, **_key()}
    )
    assert response.status_code == 201, response.text
    return Call(
        {"register_id": response.json()["data"]["id"]},
        json={"counted_minor": 0},
        headers=_key(),
    )


def _topup_call(ctx) -> Call:
    from tests.cashless.pos_helpers import make_wallet

    event_id, desk_id = _stand(ctx, kind="topup_desk")
    wallet = make_wallet(ctx.database, event_id)
    body = {"stand_id": desk_id, "pass": wallet.code, "amount_minor": 1000, "method": "card"}
    return Call({}, json=body, headers=_key())


def _lineup_rows_with_times(ctx) -> dict[str, str]:
    event = create_event(ctx.client, ctx.owner_a, ctx.org_a)
    base = f"{PREFIX.format(org=ctx.org_a)}/events/{event['id']}"
    stage = ctx.client.post(f"{base}/stages", json={"name": "Main"}, headers=ctx.owner_a)
    artist = ctx.client.post(
        f"{base}/artists", json={"name": "Nova", "kind": "dj"}, headers=ctx.owner_a
    )
    return {
        "event_id": event["id"],
        "stage_id": stage.json()["data"]["id"],
        "artist_id": artist.json()["data"]["id"],
        "starts_at": event["starts_at"],
        "ends_at": event["ends_at"],
    }


def _lineup_rows(ctx, *, status: str = "pending") -> dict[str, str]:
    """A fresh event of A with a stage, an artist and a slot (made by A's owner)."""
    rows = _lineup_rows_with_times(ctx)
    base = f"{PREFIX.format(org=ctx.org_a)}/events/{rows['event_id']}"
    slot = ctx.client.post(
        f"{base}/slots",
        json={
            "stage_id": rows["stage_id"],
            "artist_id": rows["artist_id"],
            "starts_at": rows.pop("starts_at"),
            "ends_at": rows.pop("ends_at"),
            "status": status,
        },
        headers=ctx.owner_a,
    )
    assert slot.status_code == 201, slot.text
    return {**rows, "slot_id": slot.json()["data"]["id"]}


def _new_slot_call(ctx) -> Call:
    rows = _lineup_rows_with_times(ctx)
    return Call({"event_id": rows.pop("event_id")}, json=rows)


def _lineup_params(ctx, *names: str, **extra) -> Call:
    rows = _lineup_rows(ctx)
    return Call({name: rows[name] for name in ("event_id", *names)}, **extra)


def _public_lineup(ctx) -> dict[str, str]:
    """A published event of A with a confirmed slot."""
    rows = _lineup_rows(ctx, status="confirmed")
    create_ticket_type(ctx.client, ctx.owner_a, ctx.org_a, rows["event_id"])
    response = ctx.client.post(
        f"{PREFIX.format(org=ctx.org_a)}/events/{rows['event_id']}/publish", headers=ctx.owner_a
    )
    assert response.status_code == 200, response.text
    return {**rows, "slug": response.json()["data"]["slug"]}


def _public_lineup_params(ctx, *names: str) -> Call:
    rows = _public_lineup(ctx)
    return Call({name: rows[name] for name in names})


_STANDS = ORG + "/events/{event_id}/stands"
_LINEUP = ORG + "/events/{event_id}"
MATRIX: dict[tuple[str, str], Route] = {
    ("GET", ORG): Route(READ, lambda ctx: Call({})),
    ("PATCH", ORG): Route(WRITE, lambda ctx: Call({}, json={"name": "Renamed"})),
    ("GET", ORG + "/members"): Route(MEMBERS, lambda ctx: Call({})),
    ("POST", ORG + "/members"): Route(
        MEMBERS,
        lambda ctx: Call({}, json={"email": register(ctx.client)["email"], "role": "staff"}),
    ),
    ("PATCH", ORG + "/members/{member_id}"): Route(
        MEMBERS, lambda ctx: Call({"member_id": _member(ctx)}, json={"role": "cashier"})
    ),
    ("DELETE", ORG + "/members/{member_id}"): Route(
        MEMBERS, lambda ctx: Call({"member_id": _member(ctx)})
    ),
    ("GET", ORG + "/events"): Route(READ, lambda ctx: Call({})),
    ("POST", ORG + "/events"): Route(WRITE, lambda ctx: Call({}, json=event_payload())),
    ("GET", ORG + "/events/{event_id}"): Route(READ, _event_params),
    ("PATCH", ORG + "/events/{event_id}"): Route(
        WRITE, lambda ctx: Call({"event_id": _event(ctx)}, json={"title": "Changed"})
    ),
    ("DELETE", ORG + "/events/{event_id}"): Route(WRITE, _event_params),
    ("POST", ORG + "/events/{event_id}/publish"): Route(
        WRITE, lambda ctx: Call({"event_id": _event_with_type(ctx)[0]})
    ),
    ("POST", ORG + "/events/{event_id}/cancel"): Route(WRITE, _event_params),
    ("POST", ORG + "/events/{event_id}/duplicate"): Route(WRITE, _event_params),
    ("PUT", ORG + "/events/{event_id}/image"): Route(
        WRITE,
        lambda ctx: Call(
            {"event_id": _event(ctx)}, files={"file": ("a.png", png_bytes(), "image/png")}
        ),
    ),
    ("DELETE", ORG + "/events/{event_id}/image"): Route(WRITE, _event_params),
    ("GET", ORG + "/events/{event_id}/ticket-types"): Route(READ, _event_params),
    ("POST", ORG + "/events/{event_id}/ticket-types"): Route(
        WRITE, lambda ctx: Call({"event_id": _event(ctx)}, json=ticket_type_payload())
    ),
    ("GET", ORG + "/events/{event_id}/ticket-types/{ticket_type_id}"): Route(
        READ, _ticket_type_params
    ),
    ("PATCH", ORG + "/events/{event_id}/ticket-types/{ticket_type_id}"): Route(
        WRITE, lambda ctx: _ticket_type_params(ctx, json={"capacity": 7, "name": "Changed"})
    ),
    ("DELETE", ORG + "/events/{event_id}/ticket-types/{ticket_type_id}"): Route(
        WRITE, _ticket_type_params
    ),
    # Check-in lists: managed like the event.
    ("GET", ORG + "/events/{event_id}/checkin-lists"): Route(READ, _event_params),
    ("POST", ORG + "/events/{event_id}/checkin-lists"): Route(
        WRITE, lambda ctx: Call({"event_id": _event(ctx)}, json={"name": "Matrix list"})
    ),
    ("GET", ORG + "/events/{event_id}/checkin-lists/{list_id}"): Route(READ, _checkin_list_params),
    ("PATCH", ORG + "/events/{event_id}/checkin-lists/{list_id}"): Route(
        WRITE, lambda ctx: _checkin_list_params(ctx, json={"name": "Changed"})
    ),
    ("DELETE", ORG + "/events/{event_id}/checkin-lists/{list_id}"): Route(
        WRITE, _checkin_list_params
    ),
    # The point of sale's stands, products and cashiers: managed like the event.
    ("GET", _STANDS): Route(READ, _event_params),
    ("POST", _STANDS): Route(
        WRITE, lambda ctx: Call({"event_id": _event(ctx)}, json={"name": "Bar", "kind": "bar"})
    ),
    ("PATCH", _STANDS + "/{stand_id}"): Route(
        WRITE, lambda ctx: _stand_params(ctx, json={"active": False})
    ),
    ("GET", _STANDS + "/{stand_id}/products"): Route(READ, _stand_params),
    ("POST", _STANDS + "/{stand_id}/products"): Route(
        WRITE,
        lambda ctx: _stand_params(ctx, json={"name": "Beer", "price_minor": 1, "vat_rate_bp": 0}),
    ),
    ("PATCH", _STANDS + "/{stand_id}/products/{product_id}"): Route(
        WRITE, lambda ctx: _product_params(ctx, json={"price_minor": 500, "stock": 3})
    ),
    ("PUT", _STANDS + "/{stand_id}/cashiers/{user_id}"): Route(WRITE, _cashier_params),
    ("DELETE", _STANDS + "/{stand_id}/cashiers/{user_id}"): Route(WRITE, _cashier_params),
    # The lineup (issue 18): managed like the event.
    ("GET", _LINEUP + "/stages"): Route(READ, _event_params),
    ("POST", _LINEUP + "/stages"): Route(
        WRITE, lambda ctx: Call({"event_id": _event(ctx)}, json={"name": "Main"})
    ),
    ("PATCH", _LINEUP + "/stages/{stage_id}"): Route(
        WRITE, lambda ctx: _lineup_params(ctx, "stage_id", json={"location": "North"})
    ),
    ("DELETE", _LINEUP + "/stages/{stage_id}"): Route(
        WRITE,
        lambda ctx: Call(
            {
                "event_id": (event_id := _event(ctx)),
                "stage_id": ctx.client.post(
                    f"{PREFIX.format(org=ctx.org_a)}/events/{event_id}/stages",
                    json={"name": "Empty"},
                    headers=ctx.owner_a,
                ).json()["data"]["id"],
            }
        ),
    ),
    ("GET", _LINEUP + "/artists"): Route(READ, _event_params),
    ("POST", _LINEUP + "/artists"): Route(
        WRITE, lambda ctx: Call({"event_id": _event(ctx)}, json={"name": "Orbit", "kind": "band"})
    ),
    ("GET", _LINEUP + "/artists/{artist_id}"): Route(
        READ, lambda ctx: _lineup_params(ctx, "artist_id")
    ),
    ("PATCH", _LINEUP + "/artists/{artist_id}"): Route(
        WRITE, lambda ctx: _lineup_params(ctx, "artist_id", json={"bio": "Changed"})
    ),
    ("DELETE", _LINEUP + "/artists/{artist_id}"): Route(
        WRITE,
        lambda ctx: Call(
            {
                "event_id": (event_id := _event(ctx)),
                "artist_id": ctx.client.post(
                    f"{PREFIX.format(org=ctx.org_a)}/events/{event_id}/artists",
                    json={"name": "Alone", "kind": "solo"},
                    headers=ctx.owner_a,
                ).json()["data"]["id"],
            }
        ),
    ),
    ("PUT", _LINEUP + "/artists/{artist_id}/image"): Route(
        WRITE,
        lambda ctx: _lineup_params(
            ctx, "artist_id", files={"file": ("a.png", png_bytes(), "image/png")}
        ),
    ),
    ("DELETE", _LINEUP + "/artists/{artist_id}/image"): Route(
        WRITE, lambda ctx: _lineup_params(ctx, "artist_id")
    ),
    ("GET", _LINEUP + "/slots"): Route(READ, _event_params),
    ("POST", _LINEUP + "/slots"): Route(WRITE, _new_slot_call),
    ("GET", _LINEUP + "/slots/{slot_id}"): Route(READ, lambda ctx: _lineup_params(ctx, "slot_id")),
    ("PATCH", _LINEUP + "/slots/{slot_id}"): Route(
        WRITE, lambda ctx: _lineup_params(ctx, "slot_id", json={"status": "confirmed"})
    ),
    ("DELETE", _LINEUP + "/slots/{slot_id}"): Route(
        WRITE, lambda ctx: _lineup_params(ctx, "slot_id")
    ),
    ("GET", ORG + "/events/{event_id}/devices"): Route(READ, _event_params),
    ("DELETE", ORG + "/events/{event_id}/devices/{device_id}"): Route(WRITE, _device_params),
    ("GET", ORG + "/events/{event_id}/checkin-conflicts"): Route(READ, _event_params),
    ("GET", ORG + "/events/{event_id}/checkin-lists/{list_id}/stats"): Route(
        READ, _checkin_list_params
    ),
    # Cashless (issue 17): the event's settings and its attendees' wallets.
    ("GET", ORG + "/events/{event_id}/cashless"): Route(READ, _event_params),
    ("PUT", ORG + "/events/{event_id}/cashless"): Route(
        WRITE, lambda ctx: Call({"event_id": _event(ctx)}, json={"unit_name": "Jetons"})
    ),
    ("GET", ORG + "/events/{event_id}/wallets"): Route(READ, _cashless_event_params),
    ("POST", ORG + "/events/{event_id}/wallets/{wallet_id}/passes/replace"): Route(
        REPLACE_PASSES, lambda ctx: _wallet_params(ctx, json={"reason": "Matrix"})
    ),
    ("POST", ORG + "/events/{event_id}/wallets/{wallet_id}/block"): Route(WRITE, _wallet_params),
    ("POST", ORG + "/events/{event_id}/wallets/{wallet_id}/unblock"): Route(WRITE, _wallet_params),
    # An attendee's own wallet at an event of A: any account (its own), nobody else's.
    ("GET", "/me/wallets/{event_id}"): Route(ACCOUNT, _cashless_event_params),
    ("GET", "/me/wallets/{event_id}/transactions"): Route(ACCOUNT, _cashless_event_params),
    ("POST", "/me/wallets/{event_id}/topups"): Route(
        ACCOUNT, lambda ctx: _cashless_event_params(ctx, json={"amount_minor": 1000})
    ),
    ("GET", "/me/wallets/{event_id}/refund"): Route(
        HOLDER, _ended_cashless_event_params, codes={404: "WALLET_NOT_FOUND"}
    ),
    ("POST", "/me/wallets/{event_id}/refund-request"): Route(
        HOLDER,
        lambda ctx: _ended_cashless_event_params(ctx, json={}),
        codes={404: "WALLET_NOT_FOUND"},
    ),
    # Leftover payouts: who sees the orders lists them; who refunds exports and closes.
    ("GET", ORG + "/events/{event_id}/cashless/payouts"): Route(ORDERS, _cashless_event_params),
    ("POST", ORG + "/events/{event_id}/cashless/payout-exports"): Route(
        REFUNDS,
        lambda ctx: Call(
            {"event_id": _event_with_bank_payout(ctx)[0]},
            json={"debtor_name": "Matrix SAS", "debtor_iban": "DE02120300000000202051"},
        ),
    ),
    ("GET", ORG + "/events/{event_id}/cashless/payout-exports/{export_id}"): Route(
        REFUNDS, lambda ctx: _payout_export_params(ctx)
    ),
    ("POST", ORG + "/events/{event_id}/cashless/close"): Route(
        REFUNDS, lambda ctx: Call({"event_id": _ended_cashless_event(ctx, window_over=True)})
    ),
    # Before the routes that need a paid order (its e-mail is written in the background).
    ("GET", ORG + "/events/{event_id}/payout"): Route(ORDERS, _event_params),
    ("PUT", ORG + "/stripe-account"): Route(
        PAYOUTS, lambda ctx: Call({}, json={"stripe_account_id": "acct_Matrix1"})
    ),
    ("PUT", ORG + "/two-factor-requirement"): Route(
        SECURITY, lambda ctx: Call({}, json={"require_two_factor": False})
    ),
    ("GET", ORG + "/events/{event_id}/orders"): Route(ORDERS, _event_params),
    # Cashless money figures: who sees the orders.
    ("GET", ORG + "/events/{event_id}/cashless/reconciliation"): Route(ORDERS, _event_params),
    ("GET", ORG + "/events/{event_id}/cashless/reports/sales"): Route(ORDERS, _event_params),
    ("GET", ORG + "/events/{event_id}/cashless/reports/topups"): Route(ORDERS, _event_params),
    ("GET", ORG + "/events/{event_id}/cashless/reports/registers"): Route(ORDERS, _event_params),
    ("GET", ORG + "/events/{event_id}/cashless/reports/liability"): Route(ORDERS, _event_params),
    ("GET", ORG + "/events/{event_id}/cashless/reports/devices"): Route(ORDERS, _event_params),
    ("GET", ORG + "/events/{event_id}/orders/{order_id}"): Route(ORDERS, _paid_order_params),
    ("POST", ORG + "/events/{event_id}/orders/{order_id}/refund"): Route(
        REFUNDS, lambda ctx: _paid_order_params(ctx, json={"reason": "Matrix"})
    ),
    # The platform's own acts.
    ("PUT", "/platform" + ORG + "/verification"): Route(
        PLATFORM,
        lambda ctx: Call({}, json={"verified": True}),
        codes={403: "PLATFORM_ADMIN_REQUIRED"},
    ),
    # Check-in: the event's organization, reached from the event id.
    ("GET", "/events/{event_id}/checkin-key"): Route(
        CHECK_IN_OR_PUBLISHED, _event_params, codes={404: "EVENT_NOT_FOUND"}
    ),
    ("POST", "/events/{event_id}/checkins"): Route(
        CHECK_IN,
        lambda ctx: Call({"event_id": _event(ctx)}, json={"qr": "not-a-ticket"}),
        codes={404: "EVENT_NOT_FOUND"},
    ),
    ("POST", "/events/{event_id}/devices"): Route(
        CHECK_IN,
        lambda ctx: Call({"event_id": _event(ctx)}, json={"name": "Phone", "gate": "North"}),
        codes={404: "EVENT_NOT_FOUND"},
    ),
    ("GET", "/events/{event_id}/checkins/stats"): Route(
        CHECK_IN, _event_params, codes={404: "EVENT_NOT_FOUND"}
    ),
    ("GET", "/events/{event_id}/checkins/search"): Route(
        CHECK_IN,
        lambda ctx: Call({"event_id": _event(ctx)}, query={"q": "Matrix"}),
        codes={404: "EVENT_NOT_FOUND"},
    ),
    ("POST", "/events/{event_id}/tickets/{ticket_id}/undo-admission"): Route(
        UNDO_CHECK_IN, _admitted_ticket_params, codes={404: "EVENT_NOT_FOUND"}
    ),
    # The point of sale: the stand's organization, reached from the stand (in the body), the
    # sale or the register; every write under an Idempotency-Key.
    ("POST", "/pos/charges"): Route(SELL, _charge_call, codes={404: "STAND_NOT_FOUND"}),
    ("POST", "/pos/charges/{entry_id}/reverse"): Route(
        SELL, _sale_params, codes={404: "SALE_NOT_FOUND"}
    ),
    ("POST", "/pos/registers"): Route(SELL, _register_call, codes={404: "STAND_NOT_FOUND"}),
    ("POST", "/pos/registers/{register_id}/close"): Route(
        SELL, _open_register_params, codes={404: "REGISTER_NOT_FOUND"}
    ),
    ("POST", "/pos/topups"): Route(SELL, _topup_call, codes={404: "STAND_NOT_FOUND"}),
    ("POST", "/pos/devices"): Route(SELL, _pos_device_call, codes={404: "STAND_NOT_FOUND"}),
    # The catalogue, and buying from it (the event's id is in the body).
    ("GET", "/events/{id_or_slug}"): Route(
        PUBLIC, lambda ctx: Call({"id_or_slug": _published_event(ctx)["id"]})
    ),
    ("POST", "/orders"): Route(PUBLIC, _order_body),
    # The programme of a published event, and "my schedule" (any account, its own).
    ("GET", "/events/{event_id}/programme"): Route(
        PUBLIC, lambda ctx: _public_lineup_params(ctx, "event_id")
    ),
    ("GET", "/events/{event_id}/artists/{artist_id}"): Route(
        PUBLIC, lambda ctx: _public_lineup_params(ctx, "event_id", "artist_id")
    ),
    ("GET", "/slots/{slot_id}/calendar.ics"): Route(
        PUBLIC, lambda ctx: _public_lineup_params(ctx, "slot_id")
    ),
    ("POST", "/me/schedule/{slot_id}"): Route(
        ACCOUNT, lambda ctx: _public_lineup_params(ctx, "slot_id")
    ),
    ("DELETE", "/me/schedule/{slot_id}"): Route(
        ACCOUNT, lambda ctx: _public_lineup_params(ctx, "slot_id")
    ),
    # The buyer's order and payment.
    ("GET", "/orders/{order_id}"): Route(BUYER, _pending_order_params),
    ("POST", "/orders/{order_id}/pay"): Route(BUYER, _pending_order_params),
    ("POST", "/orders/{order_id}/cancel"): Route(BUYER, _pending_order_params),
    ("POST", "/payments/test/{payment_id}/approve"): Route(BUYER, _pending_payment_params),
    ("POST", "/payments/test/{payment_id}/decline"): Route(BUYER, _pending_payment_params),
    # An order's tickets and documents: its buyer, and the organizers who see orders.
    ("GET", "/orders/{order_id}/tickets"): Route(
        ORDER_READER, _paid_order_reader_params, refused_with_empty_list=True
    ),
    ("GET", "/orders/{order_id}/receipt.pdf"): Route(
        ORDER_READER, _paid_order_reader_params, codes={404: "DOCUMENT_NOT_FOUND"}
    ),
    ("GET", "/orders/{order_id}/calendar.ics"): Route(
        ORDER_READER, _paid_order_reader_params, codes={404: "DOCUMENT_NOT_FOUND"}
    ),
    ("GET", "/tickets/{ticket_id:not_pdf}"): Route(
        ORDER_READER, _ticket_params, codes={404: "TICKET_NOT_FOUND"}
    ),
    ("GET", "/tickets/{ticket_id}.pdf"): Route(
        ORDER_READER, _ticket_params, codes={404: "TICKET_NOT_FOUND"}
    ),
    ("GET", "/tickets/{ticket_id}/qr.svg"): Route(
        ORDER_READER, _ticket_params, codes={404: "TICKET_NOT_FOUND"}
    ),
    ("GET", "/tickets/{ticket_id}/qr.png"): Route(
        ORDER_READER, _ticket_params, codes={404: "TICKET_NOT_FOUND"}
    ),
    # The attendee's name on a ticket: the buyer alone, organizers included in the refusal.
    ("PATCH", "/orders/{order_id}/tickets/{ticket_id}"): Route(
        BUYER, _named_ticket_params, codes={404: "TICKET_NOT_FOUND"}
    ),
}

# Actor -> the status (200 meaning any 2xx) they get for a route needing a permission.
ALL = (
    READ,
    WRITE,
    MEMBERS,
    ORDERS,
    REFUNDS,
    CHECK_IN,
    PAYOUTS,
    SECURITY,
    UNDO_CHECK_IN,
    REPLACE_PASSES,
    SELL,
)
EXPECTED = {
    "anonymous": dict.fromkeys(ALL, 401),
    "buyer": dict.fromkeys(ALL, 404),
    "owner_b": dict.fromkeys(ALL, 404),
    # Gate staff read events and scan tickets; nothing else.
    "staff_a": {**dict.fromkeys(ALL, 403), READ: 200, CHECK_IN: 200},  # no undo
    "admin_a": {**dict.fromkeys(ALL, 200), PAYOUTS: 403, SECURITY: 403},
    "owner_a": dict.fromkeys(ALL, 200),
    "platform_admin": dict.fromkeys(ALL, 200),
}
# ... and for a route that follows one of the other rules. The buyer's own routes are
# refused to everyone else, organizers included (404: the order does not exist for them).
_STRANGER = {
    BUYER: 404,
    ORDER_READER: 404,
    PUBLIC: 200,
    CHECK_IN_OR_PUBLISHED: 404,
    PLATFORM: 403,
    ACCOUNT: 200,
    HOLDER: 404,
}
_MEMBER_A = {
    BUYER: 404,
    ORDER_READER: 200,
    PUBLIC: 200,
    CHECK_IN_OR_PUBLISHED: 200,
    PLATFORM: 403,
    ACCOUNT: 200,
    HOLDER: 404,
}
for _actor, _statuses in {
    "anonymous": {**_STRANGER, BUYER: 401, PLATFORM: 401, ACCOUNT: 401, HOLDER: 401},
    "buyer": _STRANGER,
    "owner_b": _STRANGER,
    "staff_a": {**_MEMBER_A, ORDER_READER: 404},  # staff do not see orders
    "admin_a": _MEMBER_A,
    "owner_a": _MEMBER_A,
    "platform_admin": {**_MEMBER_A, PLATFORM: 200},
}.items():
    EXPECTED[_actor].update(_statuses)
# A guest with the order's token (X-Order-Token) and no account.
EXPECTED["token_holder"] = {
    **dict.fromkeys(ALL, 401),
    **_STRANGER,
    BUYER: 200,
    ORDER_READER: 200,
    PLATFORM: 401,
    ACCOUNT: 401,
    HOLDER: 401,
}
DEFAULT_CODES = {401: "NOT_AUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}


def _reachable_routes(app) -> Iterator[tuple[str, str, APIRoute]]:
    """(method, path, route) of every route a request can reach (the first of a method
    and path answers: a later one with the same pattern is dead code)."""
    seen: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.route, APIRoute):
            continue
        for method in sorted(context.methods or ()):
            if method != "HEAD" and (method, context.path) not in seen:
                seen.add((method, context.path))
                yield method, context.path, context.route


def _parameter_names(route: APIRoute) -> set[str]:
    """The names a route takes an object by: its path parameters, and its query
    parameters and top-level body fields that are ids (``..._id``)."""
    names = set(re.findall(r"\{(\w+)", route.path))
    dependants = [route.dependant]
    while dependants:
        dependant = dependants.pop()
        dependants.extend(dependant.dependencies)
        for field_ in (*dependant.query_params, *dependant.body_params):
            model_fields = getattr(field_.field_info.annotation, "model_fields", None)
            for name in model_fields or (field_.alias,):
                if name.endswith("_id"):
                    names.add(name)
    return names


def routes_taking_an_organizations_object(app) -> tuple[set, set]:
    """(API routes relative to /api/v1, page routes), as (method, path), that take an
    organization's object; fails on a parameter ID_PARAMETERS does not classify."""
    api, pages = set(), set()
    for method, path, route in _reachable_routes(app):
        names = _parameter_names(route)
        unknown = sorted(names - set(ID_PARAMETERS))
        assert not unknown, f"{method} {path}: say in ID_PARAMETERS what {unknown} name"
        if any(ID_PARAMETERS[name] for name in names):
            if path.startswith(API + "/"):
                api.add((method, path[len(API) :]))
            else:
                pages.add((method, path))
    return api, pages


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
    emails: dict[str, str] = field(default_factory=dict)  # to log in on the pages
    shared: dict[str, Any] = field(default_factory=dict)  # rows the reading calls share


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
        emails={
            "owner_b": owner_b["email"],
            "staff_a": staff_a["email"],
            "owner_a": owner_a["email"],
        },
    )


def _media_files(media_dir) -> list[str]:
    return sorted(str(p) for p in media_dir.rglob("*") if p.is_file())


def _send(ctx: Context, method: str, path: str, call: Call, headers, org: str):
    url = API + _filled(path, org=org, **call.params)
    if call.headers:
        headers = {**(headers or {}), **call.headers}
    return ctx.client.request(
        method, url, json=call.json, files=call.files, headers=headers, params=call.query
    )


def _headers(ctx: Context, actor: str, call: Call) -> dict[str, str] | None:
    if actor == "token_holder":
        return token_headers(call.order_token) if call.order_token else None
    return ctx.headers[actor]


def test_every_organizer_route_is_in_the_matrix(app):
    routes = organizer_routes(app)
    organizer_entries = {
        (method, path[len(ORG) :]) for method, path in MATRIX if path.startswith(ORG)
    }
    missing = sorted(routes - organizer_entries)
    stale = sorted(organizer_entries - routes)
    assert not missing, f"add these routes to MATRIX with the permission they need: {missing}"
    assert not stale, f"these MATRIX entries match no route any more: {stale}"
    assert len(routes) >= 20


def test_every_route_taking_an_organizations_object_is_in_the_matrix(app):
    api, pages = routes_taking_an_organizations_object(app)
    for table, routes, name in ((MATRIX, api, "MATRIX"), (PAGES, pages, "PAGES")):
        missing = sorted(routes - set(table))
        stale = sorted(set(table) - routes)
        assert not missing, f"add these routes to {name} with who may call them: {missing}"
        assert not stale, f"these {name} entries match no route any more: {stale}"
    # The organizer API, check-in, the catalogue, the buyer's orders, tickets, documents.
    assert len(api) >= 40 and len(pages) >= 30
    assert {path.split("/")[1] for _method, path in api} >= {
        "organizations",
        "platform",
        "events",
        "orders",
        "payments",
        "tickets",
    }


def _filled(path: str, **values: object) -> str:
    """The route's path with its parameters filled in (a ``{name:converter}`` too)."""
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path).format(**values)


@pytest.mark.parametrize("actor", list(EXPECTED))
def test_matrix(ctx, actor):
    for (method, path), route in MATRIX.items():
        call = route.prepare(ctx)
        headers = _headers(ctx, actor, call)
        expected = EXPECTED[actor][route.needs]
        before = db_snapshot(ctx.database) if expected != 200 else None
        files_before = _media_files(ctx.media_dir)
        response = _send(ctx, method, path, call, headers, ctx.org_a)
        label = f"{actor} {method} {path}: {response.status_code} {response.text[:200]}"
        if expected == 200:
            assert 200 <= response.status_code < 300, label
            continue
        if route.refused_with_empty_list:
            assert response.status_code == 200 and response.json()["data"] == [], label
        else:
            assert response.status_code == expected, label
            code = {**DEFAULT_CODES, **route.codes}[expected]
            assert response.json()["error"]["code"] == code, label
        assert db_snapshot(ctx.database) == before, f"refused call changed data: {label}"
        assert _media_files(ctx.media_dir) == files_before, label


def test_owner_of_b_cannot_reach_a_rows_through_b(ctx):
    """B's owner passes B's own slug with A's ids: still not found, nothing changes."""
    headers = ctx.headers["owner_b"]
    tried = 0
    for (method, path), route in MATRIX.items():
        if not path.startswith(ORG):
            continue  # reached by an id alone: test_matrix
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


# --- the pages -------------------------------------------------------------------------

PAGE_ACTORS = ("anonymous", "owner_b", "staff_a", "owner_a")
OK, LOGIN = "ok", "login"  # served (past the access checks); sent to log in
# The buyer's pages answer 404 to all these browsers: none holds the order's token.
PAGE_EXPECTED = {
    "anonymous": {
        **dict.fromkeys(ALL, LOGIN),
        BUYER: 404,
        ORDER_READER: 404,
        PUBLIC: OK,
        ACCOUNT: LOGIN,
    },
    "owner_b": {**dict.fromkeys(ALL, 404), BUYER: 404, ORDER_READER: 404, PUBLIC: OK, ACCOUNT: OK},
    # Staff do not see orders.
    "staff_a": {
        **dict.fromkeys(ALL, 403),
        READ: OK,
        CHECK_IN: OK,
        BUYER: 404,
        ORDER_READER: 404,
        PUBLIC: OK,
        ACCOUNT: OK,
    },
    "owner_a": {**dict.fromkeys(ALL, OK), BUYER: 404, ORDER_READER: OK, PUBLIC: OK, ACCOUNT: OK},
}


def _published_slug_params(ctx) -> Call:
    return Call({"slug": _published_event(ctx)["slug"]})


def _ticket_pdf_params(ctx) -> Call:
    order = _paid_order(ctx)
    return Call({"order_id": order["id"], "ticket_id": order["ticket_id"]})


_EVENT_PAGE = "/organizer/{org}/events/{event_id}"
PAGES: dict[tuple[str, str], Route] = {
    ("GET", "/organizer/{org}"): Route(READ, lambda ctx: Call({})),
    ("GET", "/organizer/{org}/events/new"): Route(WRITE, lambda ctx: Call({})),
    ("POST", "/organizer/{org}/events/new"): Route(WRITE, lambda ctx: Call({})),
    ("GET", "/organizer/{org}/events/{event_id:uuid}"): Route(READ, _event_params),
    ("GET", _EVENT_PAGE + "/edit"): Route(WRITE, _event_params),
    ("POST", _EVENT_PAGE + "/edit"): Route(WRITE, _event_params),
    ("POST", _EVENT_PAGE + "/publish"): Route(
        WRITE, lambda ctx: Call({"event_id": _event_with_type(ctx)[0]})
    ),
    ("POST", _EVENT_PAGE + "/image"): Route(WRITE, _event_params),
    ("POST", _EVENT_PAGE + "/image/remove"): Route(WRITE, _event_params),
    ("POST", _EVENT_PAGE + "/duplicate"): Route(WRITE, _event_params),
    ("GET", _EVENT_PAGE + "/cancel"): Route(WRITE, _event_params),
    ("POST", _EVENT_PAGE + "/cancel"): Route(WRITE, _event_params),
    ("GET", _EVENT_PAGE + "/ticket-types/new"): Route(WRITE, _event_params),
    ("POST", _EVENT_PAGE + "/ticket-types/new"): Route(WRITE, _event_params),
    ("GET", _EVENT_PAGE + "/ticket-types/{ticket_type_id}/edit"): Route(WRITE, _ticket_type_params),
    ("POST", _EVENT_PAGE + "/ticket-types/{ticket_type_id}/edit"): Route(
        WRITE, _ticket_type_params
    ),
    ("POST", _EVENT_PAGE + "/ticket-types/{ticket_type_id}/delete"): Route(
        WRITE, _ticket_type_params
    ),
    ("GET", _EVENT_PAGE + "/checkin-lists"): Route(READ, _event_params),
    ("POST", _EVENT_PAGE + "/checkin-lists"): Route(WRITE, _event_params),
    ("GET", _EVENT_PAGE + "/checkin-lists/{list_id}/edit"): Route(WRITE, _checkin_list_params),
    ("POST", _EVENT_PAGE + "/checkin-lists/{list_id}/edit"): Route(WRITE, _checkin_list_params),
    ("POST", _EVENT_PAGE + "/checkin-lists/{list_id}/delete"): Route(WRITE, _checkin_list_params),
    ("GET", _EVENT_PAGE + "/checkin-lists/{list_id}/stats"): Route(READ, _checkin_list_params),
    ("GET", _EVENT_PAGE + "/devices"): Route(READ, _event_params),
    ("POST", _EVENT_PAGE + "/devices/{device_id}/revoke"): Route(WRITE, _device_params),
    ("GET", _EVENT_PAGE + "/checkin-conflicts"): Route(READ, _event_params),
    ("GET", _EVENT_PAGE + "/checkin-conflicts.csv"): Route(READ, _event_params),
    ("GET", _EVENT_PAGE + "/cashless"): Route(READ, _event_params),
    ("POST", _EVENT_PAGE + "/cashless"): Route(WRITE, _event_params),
    # The organizer's cashless pages: stands (as the stands API), money (as the reports
    # API: who sees the orders), the wallet desk (as the wallets API).
    ("GET", _EVENT_PAGE + "/stands"): Route(READ, _event_params),
    ("POST", _EVENT_PAGE + "/stands"): Route(WRITE, _event_params),
    ("GET", _EVENT_PAGE + "/stands/{stand_id}"): Route(READ, _stand_params),
    ("POST", _EVENT_PAGE + "/stands/{stand_id}"): Route(WRITE, _stand_params),
    ("POST", _EVENT_PAGE + "/stands/{stand_id}/products"): Route(WRITE, _stand_params),
    ("GET", _EVENT_PAGE + "/stands/{stand_id}/products/{product_id}/edit"): Route(
        WRITE, _product_params
    ),
    ("POST", _EVENT_PAGE + "/stands/{stand_id}/products/{product_id}/edit"): Route(
        WRITE, _product_params
    ),
    ("POST", _EVENT_PAGE + "/stands/{stand_id}/cashiers"): Route(WRITE, _stand_params),
    ("POST", _EVENT_PAGE + "/stands/{stand_id}/cashiers/{user_id}/remove"): Route(
        WRITE, _cashier_params
    ),
    # The organizer's lineup pages (as the lineup API): seen with the event, changed by
    # who manages it.
    ("GET", _EVENT_PAGE + "/lineup"): Route(READ, _event_params),
    ("POST", _EVENT_PAGE + "/lineup/stages"): Route(WRITE, _event_params),
    ("GET", _EVENT_PAGE + "/lineup/stages/{stage_id}/edit"): Route(
        WRITE, lambda ctx: _lineup_params(ctx, "stage_id")
    ),
    ("POST", _EVENT_PAGE + "/lineup/stages/{stage_id}"): Route(
        WRITE, lambda ctx: _lineup_params(ctx, "stage_id")
    ),
    ("POST", _EVENT_PAGE + "/lineup/artists"): Route(WRITE, _event_params),
    ("GET", _EVENT_PAGE + "/lineup/artists/{artist_id}/edit"): Route(
        WRITE, lambda ctx: _lineup_params(ctx, "artist_id")
    ),
    ("POST", _EVENT_PAGE + "/lineup/artists/{artist_id}"): Route(
        WRITE, lambda ctx: _lineup_params(ctx, "artist_id")
    ),
    ("POST", _EVENT_PAGE + "/lineup/artists/{artist_id}/image"): Route(
        WRITE, lambda ctx: _lineup_params(ctx, "artist_id")
    ),
    ("POST", _EVENT_PAGE + "/lineup/slots"): Route(WRITE, _event_params),
    ("GET", _EVENT_PAGE + "/lineup/slots/{slot_id}/edit"): Route(
        WRITE, lambda ctx: _lineup_params(ctx, "slot_id")
    ),
    ("POST", _EVENT_PAGE + "/lineup/slots/{slot_id}"): Route(
        WRITE, lambda ctx: _lineup_params(ctx, "slot_id")
    ),
    ("POST", _EVENT_PAGE + "/lineup/slots/{slot_id}/cancel"): Route(
        WRITE, lambda ctx: _lineup_params(ctx, "slot_id")
    ),
    ("GET", _EVENT_PAGE + "/cashless/reports"): Route(ORDERS, _event_params),
    ("GET", _EVENT_PAGE + "/cashless/reports/sales.csv"): Route(ORDERS, _event_params),
    ("GET", _EVENT_PAGE + "/cashless/reports/topups.csv"): Route(ORDERS, _event_params),
    ("GET", _EVENT_PAGE + "/cashless/reports/registers.csv"): Route(ORDERS, _event_params),
    ("GET", _EVENT_PAGE + "/cashless/reports/liability.csv"): Route(ORDERS, _event_params),
    ("GET", _EVENT_PAGE + "/cashless/reports/devices.csv"): Route(ORDERS, _event_params),
    ("GET", _EVENT_PAGE + "/cashless/reconciliation"): Route(ORDERS, _event_params),
    ("GET", _EVENT_PAGE + "/cashless/wallets"): Route(READ, _event_params),
    ("POST", _EVENT_PAGE + "/cashless/wallets/{wallet_id}/block"): Route(WRITE, _wallet_params),
    ("POST", _EVENT_PAGE + "/cashless/wallets/{wallet_id}/unblock"): Route(WRITE, _wallet_params),
    ("POST", _EVENT_PAGE + "/cashless/wallets/{wallet_id}/replace-pass"): Route(
        REPLACE_PASSES, _wallet_params
    ),
    ("GET", "/organizer/{org}/team"): Route(MEMBERS, lambda ctx: Call({})),
    ("POST", "/organizer/{org}/team"): Route(MEMBERS, lambda ctx: Call({})),
    ("POST", "/organizer/{org}/team/{member_id}"): Route(
        MEMBERS, lambda ctx: Call({"member_id": _member(ctx)})
    ),
    ("POST", "/organizer/{org}/two-factor"): Route(SECURITY, lambda ctx: Call({})),
    ("GET", _EVENT_PAGE + "/orders"): Route(ORDERS, _event_params),
    ("GET", _EVENT_PAGE + "/attendees.csv"): Route(ORDERS, _event_params),
    ("GET", _EVENT_PAGE + "/orders/{order_id}"): Route(ORDERS, _paid_order_params),
    ("POST", _EVENT_PAGE + "/orders/{order_id}/resend"): Route(ORDERS, _paid_order_params),
    ("GET", _EVENT_PAGE + "/orders/{order_id}/refund"): Route(REFUNDS, _paid_order_params),
    ("POST", _EVENT_PAGE + "/orders/{order_id}/refund"): Route(REFUNDS, _paid_order_params),
    ("GET", "/scan/{event_id}"): Route(CHECK_IN, _event_params),
    ("GET", "/events/{slug}"): Route(PUBLIC, _published_slug_params),
    ("GET", "/orders/{order_id}"): Route(BUYER, _pending_order_params),
    ("POST", "/orders/{order_id}/pay"): Route(BUYER, _pending_order_params),
    ("POST", "/orders/{order_id}/cancel"): Route(BUYER, _pending_order_params),
    ("POST", "/orders/{order_id}/attendee-names"): Route(BUYER, _named_order_params),
    ("GET", "/orders/{order_id}/tickets/{ticket_id}.pdf"): Route(ORDER_READER, _ticket_pdf_params),
    ("GET", "/orders/{order_id}/tickets.pdf"): Route(ORDER_READER, _paid_order_reader_params),
    ("GET", "/orders/{order_id}/receipt.pdf"): Route(ORDER_READER, _paid_order_reader_params),
    ("GET", "/orders/{order_id}/calendar.ics"): Route(ORDER_READER, _paid_order_reader_params),
    ("GET", "/pay/test/{payment_id}"): Route(BUYER, _pending_payment_params),
    ("POST", "/pay/test/{payment_id}/approve"): Route(BUYER, _pending_payment_params),
    ("POST", "/pay/test/{payment_id}/decline"): Route(BUYER, _pending_payment_params),
    ("GET", "/pay/test/{payment_id}/done"): Route(BUYER, _pending_payment_params),
    # "My wallet" at an event of A: any logged-in account, its own wallet.
    ("GET", "/wallets/{event_id}"): Route(ACCOUNT, _cashless_event_params),
    ("POST", "/wallets/{event_id}/topups"): Route(ACCOUNT, _cashless_event_params),
    # The cashier's till at a stand of A: as selling there (a stand of another org is 404).
    ("GET", "/pos/{stand_id}"): Route(SELL, _stand_params),
    ("POST", "/wallets/{event_id}/refund"): Route(ACCOUNT, _cashless_event_params),
    # The programme of a published event of A; the stars are any account's own.
    ("GET", "/events/{slug}/programme"): Route(
        PUBLIC, lambda ctx: _public_lineup_params(ctx, "slug")
    ),
    ("GET", "/events/{slug}/artists/{artist_id}"): Route(
        PUBLIC, lambda ctx: _public_lineup_params(ctx, "slug", "artist_id")
    ),
    ("POST", "/events/{slug}/programme/{slot_id}/star"): Route(
        ACCOUNT, lambda ctx: _public_lineup_params(ctx, "slug", "slot_id")
    ),
    ("POST", "/events/{slug}/programme/{slot_id}/unstar"): Route(
        ACCOUNT, lambda ctx: _public_lineup_params(ctx, "slug", "slot_id")
    ),
}


def _browser(ctx: Context, actor: str) -> tuple[TestClient, str]:
    """A browser of ``actor``, logged in on the pages (but the anonymous one), with a
    CSRF token for its forms."""
    browser = TestClient(ctx.client.app, raise_server_exceptions=False)
    if actor != "anonymous":
        web_login(browser, ctx.emails[actor])
    return browser, csrf_from(get_page(browser, "/").text)


@pytest.mark.parametrize("actor", PAGE_ACTORS)
def test_pages(ctx, actor):
    """The pages as each kind of browser: the guest's link (``?token=``) and the
    buyer's own account are the page tests' (tests/web); here, everyone else."""
    browser, csrf = _browser(ctx, actor)
    for (method, path), route in PAGES.items():
        call = route.prepare(ctx)
        expected = PAGE_EXPECTED[actor][route.needs]
        before = db_snapshot(ctx.database) if expected != OK else None
        url = _filled(path, org=ctx.org_a, **call.params)
        data = {"csrf_token": csrf} if method == "POST" else None
        response = browser.request(method, url, data=data, headers=HTML, follow_redirects=False)
        location = response.headers.get("location", "")
        label = f"{actor} {method} {path}: {response.status_code} {location}"
        if expected == OK:
            # Past the access checks: a page, a redirect (not to log in), or an empty
            # form's own 422 (these calls post no fields).
            served = response.status_code < 400 or response.status_code == 422
            assert served and not location.startswith("/login"), label
            continue
        if expected == LOGIN:
            assert response.status_code == 303 and location.startswith("/login"), label
        else:
            assert response.status_code == expected, label
        assert db_snapshot(ctx.database) == before, f"refused call changed data: {label}"


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
