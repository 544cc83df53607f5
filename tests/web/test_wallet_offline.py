""" "My wallet" as an offline app (issue 17, point 9; web/pages/wallet.py): its worker,
the files it precaches against those the pages load, and the signed-out marker that
makes a page delete the kept copies."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from admitone.db import Database
from admitone.web.pages import pos, scanner_shell, wallet
from tests.cashless.wallet_helpers import attendee, festival
from tests.web.helpers import STATIC_URL, get_page, web_login, worker_shell


def test_every_file_of_the_wallet_pages_is_in_their_shell(
    client: TestClient, database: Database
) -> None:
    found = festival(client, database)
    holder = attendee(client)
    web_login(client, holder["email"])
    worker = client.get("/wallet-sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["service-worker-allowed"] == "/wallets"
    assert worker.headers["cache-control"] == "no-cache"
    shell = worker_shell(worker.text)
    assert shell["name"] == "wallet" and shell["scope"] == "/wallets"
    # The scanner's worker source, with the wallet's description.
    assert worker.text.split("\n", 1)[1] == client.get("/scanner-sw.js").text.split("\n", 1)[1]
    assets = set(shell["assets"])
    for path in (f"/wallets/{found.event_id}", "/wallets"):
        page = get_page(client, path)
        assert page.status_code == 200, path
        assert 'data-sw-url="/wallet-sw.js" data-sw-scope="/wallets"' in page.text
        used = set(STATIC_URL.findall(page.text))
        assert used, path
        # Offline, a file missing from the precache would be missing from the page.
        assert used <= assets, used - assets
        assert "data-signed-out" not in page.text
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_a_signed_out_page_says_so_for_its_script(client: TestClient) -> None:
    home = get_page(client, "/")
    assert re.search(r"<body[^>]* data-signed-out", home.text)


def test_each_offline_app_keeps_its_own_caches() -> None:
    names = {
        worker_shell(module.service_worker_script())["name"]
        for module in (scanner_shell, pos, wallet)
    }
    assert names == {"scanner", "pos", "wallet"}
