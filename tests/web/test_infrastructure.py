"""Pages through the TestClient: login cookie, CSRF, language, error pages, no inline code."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.helpers import PASSWORD, register
from tests.web.helpers import HTML, csrf_from, get_page, post_form, web_login, web_register


def test_home_is_html_in_english_by_default(client: TestClient) -> None:
    response = get_page(client, "/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in response.text
    assert "Skip to main content" in response.text
    assert '<main id="main"' in response.text


def test_pages_have_no_inline_script_or_style(client: TestClient) -> None:
    for url in ("/", "/login", "/register", "/does-not-exist"):
        html = get_page(client, url).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert "<style" not in html, url
        assert not re.search(r"\sstyle=", html), url
        assert not re.search(r"\son[a-z]+=", html), url


def test_csp_forbids_inline_code_on_pages(client: TestClient) -> None:
    csp = get_page(client, "/").headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "style-src 'self'" in csp
    assert "unsafe-inline" not in csp


def test_static_files_are_served(client: TestClient) -> None:
    css = client.get("/static/css/app.css")
    assert css.status_code == 200
    assert "--bg" in css.text
    assert client.get("/static/js/app.js").status_code == 200
    assert client.get("/static/vendor/jsqr/jsQR.js").status_code == 200
    assert client.get("/static/vendor/jsqr/LICENSE").status_code == 200


def test_html_404_page_but_json_for_the_api(client: TestClient) -> None:
    page = get_page(client, "/no/such/page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text
    api = client.get("/api/v1/no/such/thing", headers=HTML)
    assert api.status_code == 404
    assert api.json()["error"]["code"] == "NOT_FOUND"
    # A client that does not ask for HTML keeps the JSON body outside /api/ too.
    assert client.get("/no/such/page").json()["error"]["code"] == "NOT_FOUND"


def test_html_500_page_hides_the_error(make_app: Callable[..., FastAPI]) -> None:
    app = make_app()

    def explode() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/explode", explode)
    app.add_api_route("/api/v1/explode", explode)
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/explode", headers={**HTML, "accept-language": "fr"})
        assert page.status_code == 500
        assert "Un problème est survenu" in page.text
        assert "secret internals" not in page.text
        api = client.get("/api/v1/explode", headers=HTML)
        assert api.status_code == 500
        assert api.json()["error"]["code"] == "INTERNAL_ERROR"


def test_register_sets_an_httponly_samesite_cookie_and_logs_in(client: TestClient) -> None:
    page = get_page(client, "/register")
    response = client.post(
        "/register",
        data={
            "csrf_token": csrf_from(page.text),
            "email": "ada@example.com",
            "password": PASSWORD,
            "full_name": "Ada",
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert response.status_code == 303
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("admitone_session="))
    assert "HttpOnly" in session_cookie
    assert "samesite=lax" in session_cookie.lower()
    assert "Secure" not in session_cookie  # test environment: plain http
    home = get_page(client, "/")
    assert "Log out" in home.text
    assert "My tickets" in home.text


def test_cookies_are_secure_in_production(make_app: Callable[..., FastAPI]) -> None:
    app = make_app(
        env="production", secret_key="p" * 40, unsafe_allow_test_payments_in_production=True
    )
    with TestClient(app, base_url="https://testserver") as client:
        page = get_page(client, "/login")
        cookie = next(
            c for c in page.headers.get_list("set-cookie") if c.startswith("admitone_csrf=")
        )
        assert "Secure" in cookie


def test_register_shows_field_errors_next_to_the_fields(client: TestClient) -> None:
    response = post_form(
        client, "/register", {"email": "not-an-email", "password": "short", "full_name": ""}
    )
    assert response.status_code == 422
    assert 'id="f-email-error"' in response.text
    assert 'aria-invalid="true"' in response.text
    weak = post_form(client, "/register", {"email": "b@example.com", "password": "short"})
    assert weak.status_code == 422
    assert "at least 10 characters" in weak.text
    taken = register(client)["email"]
    again = post_form(client, "/register", {"email": taken, "password": PASSWORD})
    assert again.status_code == 422
    assert "already exists" in again.text


def test_login_wrong_password_and_then_right(client: TestClient) -> None:
    email = register(client)["email"]
    wrong = post_form(client, "/login", {"email": email, "password": "wrong-password-1"})
    assert wrong.status_code == 422
    assert "E-mail or password is incorrect." in wrong.text
    right = post_form(client, "/login", {"email": email, "password": PASSWORD, "next": "/events"})
    assert right.status_code == 303
    assert right.headers["location"].startswith("/events")


def test_login_refuses_to_redirect_to_another_site(client: TestClient) -> None:
    email = register(client)["email"]
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = post_form(
            client, "/login", {"email": email, "password": PASSWORD, "next": target}
        )
        assert response.status_code == 303
        assert response.headers["location"].startswith("/?"), target
        client.cookies.clear()


def test_protected_page_redirects_to_login_with_next(client: TestClient) -> None:
    response = get_page(client, "/account", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Faccount"


def test_logout_revokes_the_login_server_side(client: TestClient) -> None:
    email = web_register(client)
    stolen = client.cookies.get("admitone_session")
    assert stolen
    home = get_page(client, "/")
    response = client.post(
        "/logout", data={"csrf_token": csrf_from(home.text)}, headers=HTML, follow_redirects=False
    )
    assert response.status_code == 303
    assert "Log in" in get_page(client, "/").text
    # The copied cookie of the closed login no longer logs anyone in.
    client.cookies.set("admitone_session", stolen)
    assert "Log out" not in get_page(client, "/").text
    client.cookies.clear()
    web_login(client, email)
    assert "Log out" in get_page(client, "/").text


def test_forged_session_cookie_is_ignored(client: TestClient) -> None:
    client.cookies.set("admitone_session", "eyJ1aWQiOiJ4In0.forged.signature")
    page = get_page(client, "/")
    assert page.status_code == 200
    assert "Log in" in page.text


def test_post_without_csrf_token_is_refused(client: TestClient) -> None:
    email = register(client)["email"]
    get_page(client, "/login")  # gets the CSRF cookie
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD}, headers=HTML, follow_redirects=False
    )
    assert response.status_code == 403
    assert "did not come from this site" in response.text
    assert "admitone_session" not in response.headers.get("set-cookie", "")


def test_csrf_token_of_another_browser_is_refused(app: FastAPI) -> None:
    with TestClient(app) as attacker, TestClient(app) as victim:
        token = csrf_from(get_page(attacker, "/login").text)
        get_page(victim, "/login")
        response = victim.post(
            "/language",
            data={"csrf_token": token, "language": "fr", "next": "/"},
            headers=HTML,
            follow_redirects=False,
        )
        assert response.status_code == 403


def test_tampered_csrf_token_is_refused(client: TestClient) -> None:
    token = csrf_from(get_page(client, "/").text)
    response = client.post(
        "/language",
        data={"csrf_token": token[:-2] + "xx", "language": "fr"},
        headers=HTML,
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_csrf_token_from_before_login_stops_working_after_login(client: TestClient) -> None:
    email = register(client)["email"]
    old_token = csrf_from(get_page(client, "/").text)
    web_login(client, email)
    response = client.post(
        "/logout", data={"csrf_token": old_token}, headers=HTML, follow_redirects=False
    )
    assert response.status_code == 403
    assert "Log out" in get_page(client, "/").text


def test_language_follows_the_browser(client: TestClient) -> None:
    page = get_page(client, "/login", headers={"accept-language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert '<html lang="fr">' in page.text
    assert "Se connecter" in page.text
    english = get_page(client, "/login", headers={"accept-language": "de, en;q=0.4, fr;q=0.3"})
    assert '<html lang="en">' in english.text


def test_language_switcher_sets_a_cookie_and_keeps_the_page(client: TestClient) -> None:
    response = post_form(client, "/language", {"language": "fr", "next": "/login"}, from_url="/")
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    page = get_page(client, "/login", headers={"accept-language": "en"})
    assert '<html lang="fr">' in page.text
    assert "Mot de passe" in page.text
    back = post_form(client, "/language", {"language": "en", "next": "/"}, from_url="/")
    assert back.status_code == 303
    assert '<html lang="en">' in get_page(client, "/").text


def test_language_switch_is_saved_on_the_profile(client: TestClient) -> None:
    account = register(client)
    web_login(client, account["email"])
    post_form(client, "/language", {"language": "fr", "next": "/"}, from_url="/")
    me = client.get("/api/v1/me", headers=account["headers"])
    assert me.json()["data"]["locale"] == "fr"


def test_error_page_is_translated(client: TestClient) -> None:
    page = get_page(client, "/nothing-here", headers={"accept-language": "fr"})
    assert page.status_code == 404
    assert "Page introuvable" in page.text


def test_static_files_are_cached_by_version_and_compressed(client: TestClient) -> None:
    page = get_page(client, "/")
    css_url = re.search(r'href="(/static/css/app\.css\?v=[0-9a-f]+)"', page.text)
    assert css_url, "the page names its stylesheet by version"

    current = client.get(css_url.group(1), headers={"Accept-Encoding": "gzip"})
    assert current.status_code == 200
    assert current.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert current.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in current.headers["vary"].lower()
    assert "--bg" in current.text  # httpx decodes it: the same file
    plain = client.get(css_url.group(1), headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.text == current.text
    # What travels: less than half (content-length is the compressed body's).
    assert 2 * int(current.headers["content-length"]) < int(plain.headers["content-length"])

    # Without its version, or by an old one, a file is revalidated, never kept stale.
    for url in ("/static/css/app.css", "/static/css/app.css?v=0123456789"):
        assert client.get(url).headers["cache-control"] == "no-cache", url
    etag = client.get("/static/css/app.css").headers["etag"]
    again = client.get("/static/css/app.css", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_api_answers_are_not_compressed(client: TestClient) -> None:
    answer = client.get("/api/v1/events", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    assert "content-encoding" not in answer.headers


def test_public_pages_travel_compressed_to_visitors_who_are_not_logged_in(
    client: TestClient,
) -> None:
    for url in ("/", "/events", "/login", "/register"):
        page = client.get(url, headers={**HTML, "Accept-Encoding": "gzip"})
        assert page.status_code == 200, url
        assert page.headers["content-encoding"] == "gzip", url
        assert "accept-encoding" in page.headers["vary"].lower(), url
        assert "x-admitone-compressible" not in page.headers, url
        plain = client.get(url, headers={**HTML, "Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers, url
        assert 2 * int(page.headers["content-length"]) < len(plain.content), url
        assert "</html>" in page.text, url  # decoded: a whole page


def test_no_two_pages_carry_the_same_csrf_token_and_each_still_works(client: TestClient) -> None:
    tokens = {csrf_from(get_page(client, "/login").text) for _ in range(3)}
    # The signed payloads differ, not only their timestamps (payload.timestamp.signature):
    # masked anew, nothing stays the same for BREACH-style guessing.
    assert len({token.rsplit(".", 2)[0] for token in tokens}) == 3
    for token in tokens:
        switched = client.post(
            "/language",
            data={"csrf_token": token, "language": "fr", "next": "/"},
            headers=HTML,
            follow_redirects=False,
        )
        assert switched.status_code == 303


def test_pages_with_secrets_or_a_login_are_never_compressed(client: TestClient) -> None:
    # A logged-in visitor: the header names them, so no page of theirs is compressed.
    web_register(client)  # and logged in
    for url in ("/", "/events", "/account/tickets"):
        page = client.get(url, headers={**HTML, "Accept-Encoding": "gzip"})
        assert page.status_code == 200, url
        assert "content-encoding" not in page.headers, url


def test_an_error_page_offers_the_way_back_to_where_the_person_was(client: TestClient) -> None:
    here = "http://testserver/events?q=jazz"
    missing = get_page(client, "/events/no-such-event", headers={**HTML, "Referer": here})
    assert missing.status_code == 404
    assert 'href="/events?q=jazz">Back to where you were</a>' in missing.text
    # Another site's address, or none: no such link, the home page as before.
    for referer in ("https://evil.example/phish", "javascript:alert(1)", "//evil.example/x", ""):
        page = get_page(client, "/events/no-such-event", headers={**HTML, "Referer": referer})
        assert "Back to where you were" not in page.text, referer
        assert 'href="/">Back to the home page</a>' in page.text
    french = get_page(
        client,
        "/events/no-such-event",
        headers={**HTML, "Referer": here, "Accept-Language": "fr"},
    )
    assert "Revenir là où vous étiez" in french.text
