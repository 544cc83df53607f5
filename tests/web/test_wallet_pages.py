"""The attendee's wallet pages: the list from the account menu, "My wallet" (balance with
the unit name beside it, the pass's QR and printed code, the history), a top-up through
the test provider's page and back, refusals said on the page; English and French."""

from __future__ import annotations

import re
import uuid
from html import unescape
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from admitone.cashless import passes
from tests.cashless.wallet_helpers import attendee, festival, topped_up
from tests.web.helpers import HTML, csrf_from, get_page, web_login

FRENCH = {"accept-language": "fr"}


def _plain(html: str) -> str:
    """The page's text with its entities read and its (narrow) no-break spaces plain."""
    return unescape(html).replace("\u202f", " ").replace("\xa0", " ")


def _logged_in(client: TestClient, clean_database, **settings):
    shop = festival(client, clean_database, **settings)
    ada = attendee(client)
    web_login(client, ada["email"])
    return shop, ada


def _top_up_on_the_page(client: TestClient, event_id: uuid.UUID, amount: str, **headers: str):
    page = get_page(client, f"/wallets/{event_id}", headers=headers)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text)
    assert key, "the top-up form has its idempotency key"
    return client.post(
        f"/wallets/{event_id}/topups",
        data={"csrf_token": csrf_from(page.text), "amount": amount, "idempotency_key": key[1]},
        headers={**HTML, **headers},
        follow_redirects=False,
    )


def test_my_wallet_shows_the_balance_the_pass_and_the_history(client, clean_database):
    shop, ada = _logged_in(client, clean_database)
    page = get_page(client, f"/wallets/{shop.event_id}")
    assert page.status_code == 200, page.text
    html = page.text
    assert "My wallet" in html and "€0.00" in html and "Jetons" in html
    qr = re.search(r'data-pass-qr="([A-Z2-7]+)"', html)
    assert qr and passes.parse_pass(qr[1]) is not None  # a future offline copy redraws it
    assert 'class="qr" src="data:image/svg+xml;base64,' in html
    code = re.search(r'class="pass-code">([A-Z0-9-]+)<', html)
    assert code and len(code[1]) == 12
    assert "Nothing yet" in html
    assert 'href="/wallets" aria-current="page"' in html  # the account menu

    topped_up(client, ada["headers"], shop.event_id, 2_000)
    html = get_page(client, f"/wallets/{shop.event_id}").text
    assert "€20.00" in html and "Top-up" in html and "+€20.00" in html

    listed = get_page(client, "/wallets")
    assert listed.status_code == 200
    assert f'href="/wallets/{shop.event_id}"' in listed.text and "€20.00" in listed.text
    # The other account pages link to the wallets.
    assert 'href="/wallets"' in get_page(client, "/account/tickets").text


def test_a_top_up_goes_to_the_test_provider_and_back(client, clean_database):
    shop, _ada = _logged_in(client, clean_database)
    started = _top_up_on_the_page(client, shop.event_id, "12,50")
    assert started.status_code == 303, started.text
    provider_path = urlsplit(started.headers["location"]).path
    assert provider_path.startswith("/pay/test/")
    provider = get_page(client, provider_path)
    assert provider.status_code == 200
    assert "Wallet top-up for Moonlight Jazz" in unescape(provider.text)
    assert "€12.50" in provider.text
    approved = client.post(
        f"{provider_path}/approve",
        data={"csrf_token": csrf_from(provider.text)},
        headers=HTML,
        follow_redirects=False,
    )
    assert (approved.status_code, approved.headers["location"]) == (
        303,
        f"/wallets/{shop.event_id}",
    )
    html = get_page(client, f"/wallets/{shop.event_id}").text
    assert "€12.50" in html and "Top-up" in html
    # The payment is done: its page says so and leads back to the wallet.
    again = get_page(client, provider_path)
    assert "already processed" in again.text and f'href="/wallets/{shop.event_id}"' in again.text


def test_the_same_form_sent_twice_is_one_top_up(client, clean_database):
    shop, _ada = _logged_in(client, clean_database)
    page = get_page(client, f"/wallets/{shop.event_id}")
    data = {
        "csrf_token": csrf_from(page.text),
        "amount": "10",
        "idempotency_key": re.search(r'name="idempotency_key" value="([^"]+)"', page.text)[1],  # type: ignore[index]
    }
    first = client.post(
        f"/wallets/{shop.event_id}/topups", data=data, headers=HTML, follow_redirects=False
    )
    second = client.post(
        f"/wallets/{shop.event_id}/topups", data=data, headers=HTML, follow_redirects=False
    )
    assert first.headers["location"] == second.headers["location"]


def test_only_the_holder_sees_a_top_ups_test_payment(client, clean_database):
    shop, _ada = _logged_in(client, clean_database)
    provider_path = urlsplit(
        _top_up_on_the_page(client, shop.event_id, "10").headers["location"]
    ).path
    stranger = TestClient(client.app, raise_server_exceptions=False)
    assert get_page(stranger, provider_path).status_code == 404
    web_login(stranger, attendee(client, "Eve")["email"])
    assert get_page(stranger, provider_path).status_code == 404


@pytest.mark.parametrize(
    ("amount", "english", "french"),
    [
        ("abc", "Enter an amount, such as 25.00.", "Saisissez un montant, comme 25,00."),
        ("1", "below the minimum", "sous le minimum"),
        ("1000", "above the maximum", "au-dessus du maximum"),
    ],
)
def test_a_refused_top_up_says_why_in_both_languages(
    client, clean_database, amount, english, french
):
    shop, _ada = _logged_in(client, clean_database)
    for headers, text in (({}, english), (FRENCH, french)):
        refused = _top_up_on_the_page(client, shop.event_id, amount, **headers)
        assert refused.status_code == 303
        back = refused.headers["location"]
        assert back.startswith(f"/wallets/{shop.event_id}?topup_error=")
        page = get_page(client, back, headers=headers)
        assert text in unescape(page.text), page.text
        assert f'value="{amount}"' in page.text  # what was typed stays in the field


def test_my_wallet_in_french(client, clean_database):
    shop, ada = _logged_in(client, clean_database)
    topped_up(client, ada["headers"], shop.event_id, 2_000)
    html = _plain(get_page(client, f"/wallets/{shop.event_id}", headers=FRENCH).text)
    for text in ("Mon porte-monnaie", "Solde", "20,00 €", "Jetons", "Recharger", "Historique"):
        assert text in html, text
    listed = unescape(get_page(client, "/wallets", headers=FRENCH).text)
    assert "Mes porte-monnaie" in listed


def test_back_from_the_provider_and_nothing_to_open(client, clean_database):
    shop, _ada = _logged_in(client, clean_database)
    done = get_page(client, f"/wallets/{shop.event_id}?payment=done").text
    assert "as soon as the payment is confirmed" in done
    off = festival(client, clean_database, enabled=False)
    refused = get_page(client, f"/wallets/{off.event_id}")
    assert refused.status_code == 409
    anonymous = TestClient(client.app, raise_server_exceptions=False)
    to_login = anonymous.get(f"/wallets/{shop.event_id}", headers=HTML, follow_redirects=False)
    assert to_login.status_code == 303 and to_login.headers["location"].startswith("/login")


# --- the organizer's settings page ------------------------------------------------------


def test_the_organizer_sets_cashless_on_its_page(client, clean_database):
    shop = festival(client, clean_database, unset=True)
    web_login(client, shop.owner["email"])
    path = f"/organizer/{shop.org_slug}/events/{shop.event_id}/cashless"
    form = get_page(client, path)
    assert form.status_code == 200
    assert "not set up for this event yet" in form.text and 'value="5.00"' in form.text
    fields = {
        "enabled": "on",
        "unit_name": "Jetons",
        "topup_minimum_minor": "5",
        "topup_maximum_minor": "150,50",
        "balance_maximum_minor": "300",
        "offline_wallet_cap_minor": "30",
        "offline_sale_cap_minor": "15",
        "pass_validity_minutes": "120",
        "refund_window_days": "10",
        "refund_minimum_minor": "1",
        "refund_fee_minor": "0.50",
        "unclaimed_policy": "donate",
        "donation_recipient": "Les Restos du Cœur",
    }
    saved = client.post(
        path,
        data={"csrf_token": csrf_from(form.text), **fields},
        headers=HTML,
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    data = client.get(shop.url("cashless"), headers=shop.headers).json()["data"]
    assert (data["enabled"], data["topup_maximum_minor"], data["refund_fee_minor"]) == (
        True,
        15_050,
        50,
    )
    assert (data["wallet_with_ticket"], data["donation_recipient"]) == (False, "Les Restos du Cœur")
    assert "Cashless settings saved." in get_page(client, saved.headers["location"]).text

    # Every problem at once, next to its field, in the reader's language; nothing saved.
    page = get_page(client, path, headers=FRENCH)
    refused = client.post(
        path,
        data={
            "csrf_token": csrf_from(page.text),
            **fields,
            "topup_minimum_minor": "abc",
            "offline_sale_cap_minor": "40",
        },
        headers={**HTML, **FRENCH},
    )
    assert refused.status_code == 422
    text = _plain(refused.text)
    assert "Saisissez un montant, comme 25,00." in text
    again = client.post(
        path,
        data={"csrf_token": csrf_from(page.text), **fields, "offline_sale_cap_minor": "40"},
        headers={**HTML, **FRENCH},
    )
    assert again.status_code == 422
    assert "Le plafond hors ligne par vente" in _plain(again.text)
    assert client.get(shop.url("cashless"), headers=shop.headers).json()["data"] == data
