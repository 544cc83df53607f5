"""The organizer's cashless pages (issue 17): stands, products and cashiers through the
forms; the reports and their CSV after real sales; the reconciliation; the wallet desk.
A viewer who may not change anything changes nothing."""

from __future__ import annotations

import csv
import io
import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from admitone.cashless.models import Product, Stand, WalletPass
from admitone.cashless.passes import display_code
from admitone.db import Database
from tests.cashless.pos_helpers import (
    Festival,
    charge,
    make_festival,
    make_wallet,
)
from tests.helpers import add_member, db_snapshot, register
from tests.web.helpers import HTML, csrf_from, get_page, web_login


@pytest.fixture
def festival(client: TestClient, clean_database: Database) -> Festival:
    """A festival (a bar with its products, a desk, a cashier assigned to both), its
    owner logged in on the pages."""
    made = make_festival(client, clean_database)
    me = client.get("/api/v1/me", headers=made.owner)
    assert me.status_code == 200, me.text
    web_login(client, me.json()["data"]["email"])
    return made


def _page(festival: Festival, suffix: str) -> str:
    return f"/organizer/{festival.org}/events/{festival.event_id}{suffix}"


def _post(client: TestClient, url: str, data: dict[str, Any], *, from_url: str) -> Any:
    token = csrf_from(get_page(client, from_url).text)
    return client.post(
        url, data={"csrf_token": token, **data}, headers=HTML, follow_redirects=False
    )


def _errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'class="field-error" id="f-([a-z_]+)-error">([^<]+)<', html))


def _stands(database: Database, event_id: str) -> list[Stand]:
    with database.session(write=False) as session:
        return list(
            session.scalars(
                select(Stand).where(Stand.event_id == uuid.UUID(event_id)).order_by(Stand.name)
            )
        )


def _products(database: Database, stand_id: str) -> dict[str, Product]:
    with database.session(write=False) as session:
        found = session.scalars(select(Product).where(Product.stand_id == uuid.UUID(stand_id)))
        return {product.name: product for product in found}


# --- stands, products, cashiers -----------------------------------------------------------


def test_the_event_nav_links_to_the_cashless_pages(festival: Festival) -> None:
    page = get_page(festival.client, _page(festival, ""))
    assert page.status_code == 200
    assert f'href="{_page(festival, "/stands")}"' in page.text
    assert f'href="{_page(festival, "/cashless/reports")}"' in page.text
    settings = get_page(festival.client, _page(festival, "/cashless"))
    for suffix in ("/stands", "/cashless/reports", "/cashless/reconciliation", "/cashless/wallets"):
        assert f'href="{_page(festival, suffix)}"' in settings.text


def test_add_a_stand_through_the_form(festival: Festival, clean_database: Database) -> None:
    url = _page(festival, "/stands")
    listed = get_page(festival.client, url)
    assert "Main bar" in listed.text and "Desk" in listed.text

    response = _post(festival.client, url, {"name": "Crêpes", "kind": "food"}, from_url=url)
    assert response.status_code == 303, response.text
    made = {stand.name: stand for stand in _stands(clean_database, festival.event_id)}
    assert made["Crêpes"].kind == "food" and made["Crêpes"].active
    assert response.headers["location"].startswith(_page(festival, f"/stands/{made['Crêpes'].id}"))

    # Every field error at once, and nothing added: an empty name, an unknown kind.
    before = db_snapshot(clean_database)
    refused = _post(festival.client, url, {"name": "", "kind": "casino"}, from_url=url)
    assert refused.status_code == 422
    assert set(_errors(refused.text)) == {"name", "kind"}
    # A name another stand has: said next to the name.
    taken = _post(festival.client, url, {"name": "Main bar", "kind": "bar"}, from_url=url)
    assert taken.status_code == 422
    assert "already has this name" in _errors(taken.text)["name"]
    assert db_snapshot(clean_database) == before


def test_edit_and_close_a_stand(festival: Festival, clean_database: Database) -> None:
    url = _page(festival, f"/stands/{festival.bar['id']}")
    response = _post(
        festival.client,
        url,
        {"stand_name": "Big bar", "stand_kind": "bar"},  # "stand_active" unticked: closed
        from_url=url,
    )
    assert response.status_code == 303, response.text
    bar = next(
        s
        for s in _stands(clean_database, festival.event_id)
        if s.id == uuid.UUID(festival.bar["id"])
    )
    assert bar.name == "Big bar" and not bar.active
    assert "Closed" in get_page(festival.client, url).text


def test_add_a_product_with_its_price_typed(festival: Festival, clean_database: Database) -> None:
    url = _page(festival, f"/stands/{festival.bar['id']}")
    action = url + "/products"
    response = _post(
        festival.client,
        action,
        {
            "name": "Cider",
            "price": "4.50",
            "vat_rate_bp": "2000",
            "category": "Drinks",
            "stock": "40",
            "active": "on",
        },
        from_url=url,
    )
    assert response.status_code == 303, response.text
    cider = _products(clean_database, festival.bar["id"])["Cider"]
    assert (cider.price_minor, cider.vat_rate_bp, cider.category, cider.stock) == (
        450,
        2000,
        "Drinks",
        40,
    )
    assert cider.active and not cider.deposit
    page = get_page(festival.client, url).text
    assert "Cider" in page and "€4.50" in page

    # A bad price, an unlisted VAT rate and no name: every error at once, nothing added.
    before = db_snapshot(clean_database)
    refused = _post(
        festival.client,
        action,
        {"name": "", "price": "4.5.0", "vat_rate_bp": "1234", "stock": "many"},
        from_url=url,
    )
    assert refused.status_code == 422
    assert set(_errors(refused.text)) == {"name", "price", "vat_rate_bp", "stock"}
    assert 'value="4.5.0"' in refused.text  # what was typed stays
    too_fine = _post(
        festival.client, action, {"name": "Tea", "price": "2.505", "vat_rate_bp": "0"}, from_url=url
    )
    assert too_fine.status_code == 422 and set(_errors(too_fine.text)) == {"price"}
    assert db_snapshot(clean_database) == before


def test_edit_a_product_and_add_to_its_stock(festival: Festival, clean_database: Database) -> None:
    cap = festival.products["Cap"]  # stock 2
    stand_url = _page(festival, f"/stands/{festival.bar['id']}")
    edit = stand_url + f"/products/{cap['id']}/edit"
    form = get_page(festival.client, edit)
    assert form.status_code == 200 and 'value="15.00"' in form.text
    response = _post(
        festival.client,
        edit,
        {
            "name": "Cap",
            "price": "16",
            "vat_rate_bp": "2000",
            "stock": "2",
            "stock_was": "2",
            "stock_add": "10",
            "active": "on",
        },
        from_url=edit,
    )
    assert response.status_code == 303, response.text
    found = _products(clean_database, festival.bar["id"])["Cap"]
    assert (found.price_minor, found.stock) == (1600, 12)

    # Taking more than is left: refused next to the field, nothing changed.
    before = db_snapshot(clean_database)
    refused = _post(
        festival.client,
        edit,
        {
            "name": "Cap",
            "price": "16",
            "vat_rate_bp": "2000",
            "stock": "12",
            "stock_was": "12",
            "stock_add": "-50",
            "active": "on",
        },
        from_url=edit,
    )
    assert refused.status_code == 422
    assert set(_errors(refused.text)) == {"stock_add"}
    assert db_snapshot(clean_database) == before


def test_assign_and_remove_a_cashier(festival: Festival, clean_database: Database) -> None:
    person = register(festival.client, full_name="Alex Till")
    member = add_member(festival.client, festival.owner, festival.org, person["email"], "cashier")
    user_id = member["user"]["id"]
    staff = register(festival.client, full_name="Sam Gate")
    add_member(festival.client, festival.owner, festival.org, staff["email"], "staff")
    url = _page(festival, f"/stands/{festival.bar['id']}")
    page = get_page(festival.client, url).text
    assert "Alex Till" in page
    assert "Sam Gate" not in page  # gate staff cannot sell: not offered

    response = _post(festival.client, url + "/cashiers", {"member": user_id}, from_url=url)
    assert response.status_code == 303, response.text
    stands = festival.client.get(festival.url(), headers=festival.owner).json()["data"]
    bar = next(s for s in stands if s["id"] == festival.bar["id"])
    assert user_id in bar["cashier_ids"]

    # A member whose role cannot sell, posted by hand: refused, nothing changed.
    staff_id = next(
        m["user"]["id"]
        for m in festival.client.get(
            f"/api/v1/organizations/{festival.org}/members", headers=festival.owner
        ).json()["data"]
        if m["user"]["email"] == staff["email"]
    )
    before = db_snapshot(clean_database)
    refused = _post(festival.client, url + "/cashiers", {"member": staff_id}, from_url=url)
    assert refused.status_code == 422
    assert "cashier role" in _errors(refused.text)["member"]
    assert db_snapshot(clean_database) == before

    removed = _post(festival.client, url + f"/cashiers/{user_id}/remove", {}, from_url=url)
    assert removed.status_code == 303
    stands = festival.client.get(festival.url(), headers=festival.owner).json()["data"]
    bar = next(s for s in stands if s["id"] == festival.bar["id"])
    assert user_id not in bar["cashier_ids"]


def test_a_viewer_sees_the_stands_but_changes_nothing(
    festival: Festival, clean_database: Database
) -> None:
    viewer = TestClient(festival.client.app)
    staff = register(festival.client)
    add_member(festival.client, festival.owner, festival.org, staff["email"], "staff")
    web_login(viewer, staff["email"])
    stand_url = _page(festival, f"/stands/{festival.bar['id']}")
    page = get_page(viewer, stand_url)
    assert page.status_code == 200 and "Beer" in page.text
    assert "Add a product" not in page.text and "Change the stand" not in page.text
    token = csrf_from(page.text)
    before = db_snapshot(clean_database)
    for url, data in (
        (_page(festival, "/stands"), {"name": "Sneaky", "kind": "bar"}),
        (stand_url, {"stand_name": "Sneaky", "stand_kind": "bar"}),
        (stand_url + "/products", {"name": "Gin", "price": "9", "vat_rate_bp": "2000"}),
        (stand_url + "/cashiers", {"member": festival.cashier_id}),
        (stand_url + f"/cashiers/{festival.cashier_id}/remove", {}),
    ):
        response = viewer.post(
            url, data={"csrf_token": token, **data}, headers=HTML, follow_redirects=False
        )
        assert response.status_code == 403, (url, response.status_code)
    # The money pages are for who sees the orders: gate staff do not.
    assert get_page(viewer, _page(festival, "/cashless/reports")).status_code == 403
    assert db_snapshot(clean_database) == before


# --- reports and reconciliation -----------------------------------------------------------


def _sell(festival: Festival) -> None:
    """Two sales at the bar (3 beers, 1 water), one more reversed."""
    wallet = make_wallet(festival.database, festival.event_id, funded=5000)
    beer, water = festival.product_id("Beer"), festival.product_id("Water")
    first = charge(festival.client, festival.cashier, festival.bar["id"], wallet.code, (beer, 2))
    assert first.status_code == 201, first.text
    second = charge(
        festival.client, festival.cashier, festival.bar["id"], wallet.code, (beer, 1), (water, 1)
    )
    assert second.status_code == 201, second.text
    undone = charge(festival.client, festival.cashier, festival.bar["id"], wallet.code, (beer, 5))
    assert undone.status_code == 201, undone.text
    reversed_ = festival.client.post(
        f"/api/v1/pos/charges/{undone.json()['data']['entry_id']}/reverse",
        headers={**festival.cashier, "Idempotency-Key": f"rev-{uuid.uuid4()}"},
    )
    assert reversed_.status_code in (200, 201), reversed_.text


def _table_row(html: str, table_id: str, label: str) -> list[str]:
    table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S):
        cells = [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)
        ]
        if cells and cells[0] == label:
            return cells
    raise AssertionError(f"no row {label!r} in {table_id}")


def test_the_reports_show_the_sales_made(festival: Festival) -> None:
    _sell(festival)
    page = get_page(festival.client, _page(festival, "/cashless/reports"))
    assert page.status_code == 200, page.text
    html = page.text
    # 3 beers at 4.50 and a water at 1.00, net of the reversed sale of 5 beers.
    assert _table_row(html, "sales-stand", "Main bar") == ["Main bar", "2", "4", "€14.50", "€2.30"]
    assert _table_row(html, "sales-product", "Beer")[1:4] == ["2", "3", "€13.50"]
    assert _table_row(html, "sales-product", "Water")[1:4] == ["1", "1", "€1.00"]
    assert _table_row(html, "sales-vat_rate", "20.00 %")[3] == "€13.50"
    hours = html.split('id="sales-hour"', 1)[1].split("</table>", 1)[0]
    assert "€14.50" in hours
    # The wallet's 50.00 came online (make_wallet funds it through the ledger only); what
    # is owed is what is left: 50.00 - 14.50.
    assert 'data-figure="wallets_minor">€35.50<' in html
    assert 'data-figure="sales_minor">€14.50<' in html


def test_each_report_downloads_as_csv_with_its_rows(festival: Festival) -> None:
    _sell(festival)
    base = _page(festival, "/cashless/reports")
    page = get_page(festival.client, base).text
    for name in (
        "sales.csv?by=stand",
        "sales.csv?by=hour",
        "topups.csv",
        "registers.csv",
        "liability.csv",
    ):
        assert f'href="{base}/{name}"' in page
    by_product = festival.client.get(f"{base}/sales.csv?by=product")
    assert by_product.status_code == 200
    assert by_product.headers["content-type"].startswith("text/csv")
    assert "attachment" in by_product.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(by_product.text)))
    assert rows[0] == ["product", "sales", "quantity", "total_minor", "vat_minor"]
    assert sorted(rows[1:]) == [["Beer", "2", "3", "1350", "225"], ["Water", "1", "1", "100", "5"]]
    liability = dict(
        (row[0], row[1])
        for row in csv.reader(io.StringIO(festival.client.get(f"{base}/liability.csv").text))
    )
    assert liability["wallets_minor"] == "3550" and liability["sales_minor"] == "1450"
    assert festival.client.get(f"{base}/sales.csv?by=weekday").status_code == 422


def test_the_reconciliation_sums_to_zero(festival: Festival) -> None:
    _sell(festival)
    page = get_page(festival.client, _page(festival, "/cashless/reconciliation"))
    assert page.status_code == 200, page.text
    assert 'id="trial-balance" data-balanced="true"' in page.text
    assert "sum to €0.00" in page.text
    assert 'id="provider-check"' in page.text
    assert 'data-figure="wallets_minor">€35.50<' in page.text


def test_a_broken_balance_is_highlighted(festival: Festival, clean_database: Database) -> None:
    """The page shows a cached balance that differs from its transfers (negative
    control of the zero sum above: the check can fail)."""
    from sqlalchemy import update

    from admitone.cashless.models import AccountKind, LedgerAccount

    _sell(festival)
    with clean_database.session() as session:
        session.execute(
            update(LedgerAccount)
            .where(
                LedgerAccount.event_id == uuid.UUID(festival.event_id),
                LedgerAccount.kind == AccountKind.online_payments,
            )
            .values(balance_minor=LedgerAccount.balance_minor - 1)
        )
    page = get_page(festival.client, _page(festival, "/cashless/reconciliation")).text
    assert 'data-balanced="false"' in page
    assert 'id="mismatches"' in page and "online_payments" in page


# --- the wallet desk ----------------------------------------------------------------------


def test_the_wallet_desk_finds_blocks_and_replaces_a_pass(
    festival: Festival, clean_database: Database
) -> None:
    wallet = make_wallet(festival.database, festival.event_id, funded=1200)
    other = make_wallet(festival.database, festival.event_id)
    desk = _page(festival, "/cashless/wallets")
    found = get_page(festival.client, desk, params={"search": wallet.code.lower()})
    assert found.status_code == 200
    assert f'id="wallet-{wallet.id}"' in found.text and f'id="wallet-{other.id}"' not in found.text
    assert "€12.00" in found.text

    blocked = _post(
        festival.client, f"{desk}/{wallet.id}/block", {"search": wallet.code}, from_url=desk
    )
    assert blocked.status_code == 303 and "search=" in blocked.headers["location"]
    shown = festival.client.get(
        f"/api/v1/organizations/{festival.org}/events/{festival.event_id}/wallets",
        params={"search": wallet.code},
        headers=festival.owner,
    ).json()["data"][0]
    assert shown["status"] == "blocked"
    unblocked = _post(festival.client, f"{desk}/{wallet.id}/unblock", {}, from_url=desk)
    assert unblocked.status_code == 303

    # No reason: said next to the field, no pass changed.
    before = db_snapshot(clean_database)
    refused = _post(
        festival.client, f"{desk}/{wallet.id}/replace-pass", {"reason": ""}, from_url=desk
    )
    assert refused.status_code == 422
    assert f'id="reason-{wallet.id}-error"' in refused.text
    assert db_snapshot(clean_database) == before

    replaced = _post(
        festival.client, f"{desk}/{wallet.id}/replace-pass", {"reason": "Lost phone"}, from_url=desk
    )
    assert replaced.status_code == 303
    with clean_database.session(write=False) as session:
        passes = session.scalars(select(WalletPass).where(WalletPass.wallet_id == wallet.id)).all()
    assert len(passes) == 2
    old = next(p for p in passes if p.id == wallet.pass_id)
    assert old.revoked_at is not None and old.revoke_reason == "Lost phone"
    # The old code still finds the wallet, now with its new code; the money stayed.
    again = get_page(festival.client, desk, params={"search": wallet.code}).text
    assert f'id="wallet-{wallet.id}"' in again
    shown = re.findall(r'<code class="wallet-code">([^<]+)</code>', again)
    new_code = next(p.code for p in passes if p.id != wallet.pass_id)
    assert shown == [display_code(new_code)] and shown != [wallet.code]
    assert "€12.00" in again


def test_a_cashier_replaces_a_pass_but_cannot_block(
    festival: Festival, clean_database: Database
) -> None:
    wallet = make_wallet(festival.database, festival.event_id, funded=500)
    cashier = TestClient(festival.client.app)
    me = festival.client.get("/api/v1/me", headers=festival.cashier).json()["data"]
    web_login(cashier, me["email"])
    desk = _page(festival, "/cashless/wallets")
    page = get_page(cashier, desk)
    assert page.status_code == 200 and "Replace the pass" in page.text
    assert ">Block<" not in page.text
    before = db_snapshot(clean_database)
    response = cashier.post(
        f"{desk}/{wallet.id}/block",
        data={"csrf_token": csrf_from(page.text)},
        headers=HTML,
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert db_snapshot(clean_database) == before
    replaced = cashier.post(
        f"{desk}/{wallet.id}/replace-pass",
        data={"csrf_token": csrf_from(page.text), "reason": "Wristband torn"},
        headers=HTML,
        follow_redirects=False,
    )
    assert replaced.status_code == 303


def test_a_register_close_out_shows_expected_counted_and_difference(festival: Festival) -> None:
    """A cash register at the desk: a float of 10.00, a cash top-up of 20.00, 29.00
    counted at the close: 1.00 short, on the page and in the CSV."""
    wallet = make_wallet(festival.database, festival.event_id)
    opened = festival.client.post(
        "/api/v1/pos/registers",
        json={"stand_id": festival.desk["id"], "opening_float_minor": 1000},
        headers={**festival.cashier, "Idempotency-Key": f"reg-{uuid.uuid4()}"},
    )
    assert opened.status_code == 201, opened.text
    register_id = opened.json()["data"]["id"]
    topup = festival.client.post(
        "/api/v1/pos/topups",
        json={
            "stand_id": festival.desk["id"],
            "pass": wallet.code,
            "amount_minor": 2000,
            "method": "cash",
            "register_id": register_id,
        },
        headers={**festival.cashier, "Idempotency-Key": f"top-{uuid.uuid4()}"},
    )
    assert topup.status_code == 201, topup.text
    closed = festival.client.post(
        f"/api/v1/pos/registers/{register_id}/close",
        json={"counted_minor": 2900},
        headers={**festival.cashier, "Idempotency-Key": f"close-{uuid.uuid4()}"},
    )
    assert closed.status_code in (200, 201), closed.text
    base = _page(festival, "/cashless/reports")
    html = get_page(festival.client, base).text
    row = _table_row(html, "registers", "Desk")
    assert row[3:] == ["€10.00", "€30.00", "€29.00", "-€1.00"]
    assert _table_row(html, "topups", "Cash")[1:] == ["1", "€20.00"]
    assert 'data-figure="cash_imbalance_minor">-€1.00<' in html
    rows = list(csv.reader(io.StringIO(festival.client.get(f"{base}/registers.csv").text)))
    assert rows[1][0] == register_id and rows[1][4:] == ["1000", "3000", "2900", "-100"]
    reconciliation = get_page(festival.client, _page(festival, "/cashless/reconciliation")).text
    assert 'data-balanced="true"' in reconciliation
