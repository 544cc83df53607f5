"""An event's cashless settings: read with view_events, set with manage_events, every
rule between fields a 422 naming the field that changes nothing; the table's CHECKs as
the second net."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from admitone.cashless.models import CashlessSettings
from tests.cashless.wallet_helpers import SETTINGS, festival
from tests.helpers import add_member, register


def test_an_event_never_set_up_answers_the_defaults_switched_off(client, clean_database):
    shop = festival(client, clean_database, unset=True)
    response = client.get(shop.url("cashless"), headers=shop.headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["configured"], data["enabled"], data["currency"]) == (False, False, "EUR")
    assert data["topup_minimum_minor"] > 0 and data["unclaimed_policy"] == "keep"


def test_settings_are_set_whole_and_read_back(client, clean_database):
    shop = festival(client, clean_database)
    data = client.get(shop.url("cashless"), headers=shop.headers).json()["data"]
    assert data == {
        **SETTINGS,
        "event_id": str(shop.event_id),
        "currency": "EUR",
        "configured": True,
    }
    # A PUT replaces every setting: what it omits takes its default.
    changed = client.put(
        shop.url("cashless"),
        json={
            "unit_name": "  ",
            "topup_minimum_minor": 1000,
            "unclaimed_policy": "donate",
            "donation_recipient": "Les Restos du Cœur",
        },
        headers=shop.headers,
    )
    assert changed.status_code == 200, changed.text
    data = changed.json()["data"]
    assert data["unit_name"] is None  # blank is none
    assert (data["topup_minimum_minor"], data["pass_validity_minutes"]) == (1000, 360)
    assert data["donation_recipient"] == "Les Restos du Cœur"
    # Keeping the unclaimed balances names no recipient.
    kept = client.put(
        shop.url("cashless"),
        json={"unclaimed_policy": "keep", "donation_recipient": "Someone"},
        headers=shop.headers,
    ).json()["data"]
    assert kept["donation_recipient"] is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"topup_maximum_minor": 400}, "topup_maximum_minor"),
        ({"balance_maximum_minor": 100, "topup_maximum_minor": 500}, "balance_maximum_minor"),
        ({"offline_sale_cap_minor": 5000}, "offline_sale_cap_minor"),
        ({"unclaimed_policy": "donate", "donation_recipient": None}, "donation_recipient"),
        ({"topup_minimum_minor": 0, "topup_maximum_minor": 0}, "topup_minimum_minor"),
    ],
)
def test_a_rule_broken_between_fields_names_the_field_and_changes_nothing(
    client, clean_database, changes, field
):
    shop = festival(client, clean_database)
    before = client.get(shop.url("cashless"), headers=shop.headers).json()["data"]
    response = client.put(shop.url("cashless"), json={**SETTINGS, **changes}, headers=shop.headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert field in {problem["field"] for problem in error["details"]["errors"]}
    assert client.get(shop.url("cashless"), headers=shop.headers).json()["data"] == before


@pytest.mark.parametrize(
    "changes",
    [
        {"topup_minimum_minor": -1},
        {"topup_minimum_minor": "500"},
        {"pass_validity_minutes": 0},
        {"refund_window_days": 1000},
        {"unit_name": "x" * 31},
        {"unit_name": "two\nlines"},
        {"unclaimed_policy": "burn"},
        {"currency": "USD"},  # the event's, never chosen here
    ],
)
def test_a_field_out_of_bounds_is_refused_by_the_schema(client, clean_database, changes):
    shop = festival(client, clean_database)
    response = client.put(shop.url("cashless"), json={**SETTINGS, **changes}, headers=shop.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_members_read_with_view_events_and_set_with_manage_events(client, clean_database):
    shop = festival(client, clean_database)
    cashier = register(client)
    add_member(client, shop.headers, shop.org_slug, cashier["email"], "cashier")
    assert client.get(shop.url("cashless"), headers=cashier["headers"]).status_code == 200
    refused = client.put(shop.url("cashless"), json=SETTINGS, headers=cashier["headers"])
    assert refused.status_code == 403
    stranger = register(client)
    assert client.get(shop.url("cashless"), headers=stranger["headers"]).status_code == 404


def test_the_table_refuses_what_the_service_would(clean_database):
    """The CHECK constraints hold even for a write that skips the service."""
    from tests.factories import make_shop

    shop = make_shop(clean_database)
    bad = {
        key: value
        for key, value in SETTINGS.items()
        if key not in ("unclaimed_policy", "donation_recipient")
    }
    bad["offline_sale_cap_minor"] = bad["offline_wallet_cap_minor"] + 1
    with pytest.raises(IntegrityError), clean_database.session() as session:
        session.add(CashlessSettings(event_id=shop.event_id, **bad))
        session.flush()
