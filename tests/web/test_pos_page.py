"""The cashier's till page (web/pages/pos.py): who may open it, the stands offered, the
link in the header, and the offline shell's files (docs/cashless.md, "The till page")."""

from __future__ import annotations

from fastapi.testclient import TestClient

from admitone.db import Database
from admitone.middleware import CSP
from admitone.web.pages import pos, scanner_shell
from tests.helpers import add_member, register
from tests.web.helpers import STATIC_URL, get_page, web_login, worker_shell
from tests.web.pos_setup import till_festival


def test_a_cashier_opens_the_till_of_their_stand_only(
    client: TestClient, database: Database
) -> None:
    festival = till_festival(client, database)
    web_login(client, festival.cashier["email"])

    chooser = get_page(client, "/pos")
    assert chooser.status_code == 200
    assert f'href="/pos/{festival.bar["id"]}"' in chooser.text
    # Assigned to the bar only: the kitchen is not offered...
    assert festival.kitchen["id"] not in chooser.text
    assert 'href="/pos"' in chooser.text  # the header's "Point of sale"

    till = get_page(client, f"/pos/{festival.bar['id']}")
    assert till.status_code == 200
    assert till.headers["content-security-policy"] == CSP.decode()
    assert "<script>" not in till.text  # no inline script under the CSP
    for name in ("Beer", "Cup", "Water", "Cap"):
        assert f'data-name="{name}"' in till.text
    assert 'data-price-minor="450"' in till.text
    assert 'data-unit-name="Jetons"' in till.text
    assert 'data-sw-url="/pos-sw.js" data-sw-scope="/pos"' in till.text

    # ... and its till refuses him: 403 page, no till in it.
    other = get_page(client, f"/pos/{festival.kitchen['id']}")
    assert other.status_code == 403
    assert 'id="pos"' not in other.text


def test_who_may_not_sell_is_refused(client: TestClient, database: Database) -> None:
    festival = till_festival(client, database)
    staff = register(client)
    add_member(client, festival.owner["headers"], festival.org, staff["email"], "staff")
    outsider = register(client)

    web_login(client, staff["email"])
    assert get_page(client, f"/pos/{festival.bar['id']}").status_code == 403
    page = get_page(client, "/pos")
    assert festival.bar["id"] not in page.text
    assert 'href="/pos"' not in page.text  # no "Point of sale" in the header

    client.cookies.clear()
    web_login(client, outsider["email"])
    # Not a member of the stand's organization: the stand is not found (ids do not leak).
    assert get_page(client, f"/pos/{festival.bar['id']}").status_code == 404

    client.cookies.clear()
    assert get_page(client, f"/pos/{festival.bar['id']}", follow_redirects=False).status_code in (
        303,
        401,
    )


def test_an_owner_may_open_every_stand(client: TestClient, database: Database) -> None:
    festival = till_festival(client, database)
    web_login(client, festival.owner["email"])
    chooser = get_page(client, "/pos")
    assert festival.bar["id"] in chooser.text and festival.kitchen["id"] in chooser.text
    assert get_page(client, f"/pos/{festival.kitchen['id']}").status_code == 200


def test_every_file_of_the_till_is_in_its_shell(client: TestClient, database: Database) -> None:
    festival = till_festival(client, database)
    web_login(client, festival.cashier["email"])
    worker = client.get("/pos-sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["service-worker-allowed"] == "/pos"
    assert worker.headers["cache-control"] == "no-cache"
    shell = worker_shell(worker.text)
    assert shell["name"] == "pos" and shell["scope"] == "/pos"
    assert shell["version"] == pos.shell_version()
    # The same worker source as the scanner's, another description.
    assert worker.text.split("\n", 1)[1] == client.get("/scanner-sw.js").text.split("\n", 1)[1]
    assets = set(shell["assets"])
    for path in (f"/pos/{festival.bar['id']}", "/pos"):
        page = get_page(client, path)
        used = set(STATIC_URL.findall(page.text))
        assert used, path
        # Offline, a file missing from the precache would be missing from the page.
        assert used <= assets, used - assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_the_scanner_and_the_till_keep_their_own_caches() -> None:
    assert worker_shell(scanner_shell.service_worker_script())["name"] == "scanner"
    assert worker_shell(pos.service_worker_script())["name"] == "pos"
    assert pos.shell_version() != scanner_shell.shell_version()


def test_the_till_speaks_french(client: TestClient, database: Database) -> None:
    festival = till_festival(client, database)
    web_login(client, festival.cashier["email"])
    page = get_page(client, f"/pos/{festival.bar['id']}", headers={"Accept-Language": "fr"})
    assert page.status_code == 200
    assert "Encaisser" in page.text and "Point de vente" in page.text
    # The script's texts too, and the money in the French way beside the unit name.
    assert 'data-text-paid="Payée"' in page.text
    assert "Il manque %(amount)s" in page.text
    assert "4,50\xa0€" in page.text or "4,50 €" in page.text
