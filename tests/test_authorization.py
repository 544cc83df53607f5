"""The rules of admitone/authorization.py that no route test pins on its own.

The authorization matrix (tests/test_authorization_matrix.py) calls every route as every
kind of caller; here: the role table read the one way, and the order token's single
length limit on every route that takes one (found in the app, so a new route that takes
the token is checked too).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from admitone.authorization import (
    ORDER_TOKEN_MAX_LENGTH,
    ROLE_PERMISSIONS,
    BuyerProof,
    Permission,
    acting_role,
    acts_everywhere_with,
    hash_order_token,
    order_access_token,
    proves_buyer,
    roles_allowed,
)
from admitone.organizations.models import Role
from tests.web.helpers import csrf_from, get_page

# Routes whose ``?token=`` is another secret than the order token: the account e-mails'
# links (password reset, address verification), which take no order, ticket or payment.
ACCOUNT_LINK_ROUTES = frozenset({("GET", "/password-reset/confirm"), ("GET", "/verify-email")})
ORDER_OBJECT = re.compile(r"\{(order_id|ticket_id|payment_id)(:\w+)?\}")


class _User:
    def __init__(self, *, platform_admin: bool) -> None:
        self.is_platform_admin = platform_admin
        self.two_factor_enabled = True


def test_platform_admins_act_as_owners_everywhere():
    admin, member = _User(platform_admin=True), _User(platform_admin=False)
    for role in (None, *Role):
        assert acting_role(admin, role) == Role.owner  # type: ignore[arg-type]
        assert acting_role(member, role) == role  # type: ignore[arg-type]
    assert acts_everywhere_with(admin, Permission.view_orders)  # type: ignore[arg-type]
    assert not acts_everywhere_with(member, Permission.view_orders)  # type: ignore[arg-type]
    assert not acts_everywhere_with(None, Permission.view_orders)


def test_roles_allowed_reads_the_one_table():
    for permission in Permission:
        assert set(roles_allowed(permission)) == {
            role for role, allowed in ROLE_PERMISSIONS.items() if permission in allowed
        }
    assert set(ROLE_PERMISSIONS) == set(Role)


def test_order_tokens_made_fit_the_limit_and_prove_the_buyer():
    order_id = uuid.uuid4()
    keyed = order_access_token("a-secret-key", order_id)
    # The server can give an order's token again: the same order, the same token.
    assert keyed == order_access_token("a-secret-key", order_id)
    assert keyed != order_access_token("another-key", order_id)
    assert keyed != order_access_token("a-secret-key", uuid.uuid4())
    token = keyed
    assert 40 <= len(token) <= ORDER_TOKEN_MAX_LENGTH
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    stored = hash_order_token(token)
    assert stored != token and len(stored) == 64
    assert proves_buyer(
        BuyerProof(user_id=None, order_token=token), buyer_user_id=None, order_token_hash=stored
    )
    assert not proves_buyer(
        BuyerProof(user_id=None, order_token=token + "x"),
        buyer_user_id=None,
        order_token_hash=stored,
    )
    buyer_id = uuid.uuid4()
    assert proves_buyer(
        BuyerProof(user_id=buyer_id, order_token=None), buyer_user_id=buyer_id, order_token_hash=""
    )
    assert not proves_buyer(
        BuyerProof(user_id=uuid.uuid4(), order_token=None),
        buyer_user_id=buyer_id,
        order_token_hash="",
    )


def _parameters(dependant: Dependant) -> Iterator[tuple[str, str]]:
    """(location, name on the wire) of every query and header parameter, however deep."""
    for field in dependant.query_params:
        yield "query", field.alias
    for field in dependant.header_params:
        yield "header", field.alias.lower()
    for sub in dependant.dependencies:
        yield from _parameters(sub)


def _routes_taking_the_order_token(app) -> list[tuple[str, str, str]]:
    """(method, path, location) of each way a route of the app takes the order token."""
    found = []
    reachable: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        route = context.route
        if not isinstance(route, APIRoute):
            continue
        parameters = set(_parameters(route.dependant))
        for method in sorted(context.methods or ()):
            if (method, context.path) in reachable:
                continue  # shadowed: the first route of a method and path answers
            reachable.add((method, context.path))
            if method == "HEAD" or (method, context.path) in ACCOUNT_LINK_ROUTES:
                continue
            if ("query", "token") in parameters:
                assert ORDER_OBJECT.search(context.path), (
                    f"{method} {context.path} takes ?token= but no order, ticket or payment: "
                    "add it to ACCOUNT_LINK_ROUTES if it is another secret"
                )
                found.append((method, context.path, "query"))
            if ("header", "x-order-token") in parameters:
                found.append((method, context.path, "header"))
    return found


# The JSON bodies of the buyer's routes that take one (a valid body, for the test below).
JSON_BODIES = {
    ("PATCH", "/api/v1/orders/{order_id}/tickets/{ticket_id}"): {"holder_name": "Grace"},
}


def test_every_route_taking_the_order_token_has_the_one_length_limit(app, client):
    routes = _routes_taking_the_order_token(app)
    # The buyer's API (order, pay, cancel, test provider), tickets, documents and pages.
    assert len({(method, path) for method, path, _where in routes}) >= 15
    # A page's form is posted with its CSRF token, so that the token's bound is reached.
    form = {"csrf_token": csrf_from(get_page(client, "/login").text)}
    for method, path, where in routes:
        url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        data = form if method == "POST" and not path.startswith("/api/") else None
        # A route that takes a JSON body gets a valid one: only the token may be wrong.
        body = JSON_BODIES.get((method, path))
        for length in (ORDER_TOKEN_MAX_LENGTH + 1, ORDER_TOKEN_MAX_LENGTH):
            token = "t" * length
            if where == "query":
                response = client.request(
                    method, url, params={"token": token}, data=data, json=body
                )
            else:
                headers = {"X-Order-Token": token}
                response = client.request(method, url, headers=headers, data=data, json=body)
            label = f"{method} {path} ({where}, {length} characters): {response.status_code}"
            too_long = length > ORDER_TOKEN_MAX_LENGTH
            assert (response.status_code == 422) == too_long, label


@pytest.mark.parametrize("token", ["", None])
def test_no_order_token_proves_nothing(token):
    assert not proves_buyer(
        BuyerProof(user_id=None, order_token=token),
        buyer_user_id=None,
        order_token_hash=hash_order_token("x"),
    )
