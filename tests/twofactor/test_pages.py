"""Two-factor on the pages: the second login step, the admin and organization rules."""

from __future__ import annotations

from admitone.accounts import service as accounts
from tests.helpers import PASSWORD, add_member, create_org, register
from tests.twofactor.helpers import enable_totp
from tests.web.helpers import HTML, csrf_from, get_page, post_form, web_login


def test_password_page_login_of_a_two_factor_account_needs_the_code(client):
    account = register(client)
    app = enable_totp(client, account["headers"])
    response = post_form(client, "/login", {"email": account["email"], "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login/second-factor")
    # No login yet: account pages still send to the login page.
    assert get_page(client, "/account", follow_redirects=False).status_code == 303
    page = get_page(client, "/login/second-factor")
    assert page.status_code == 200
    wrong = client.post(
        "/login/second-factor",
        data={"csrf_token": csrf_from(page.text), "code": app.wrong_code()},
        headers=HTML,
        follow_redirects=False,
    )
    assert wrong.status_code == 422
    assert "The code is incorrect" in wrong.text
    right = client.post(
        "/login/second-factor",
        data={"csrf_token": csrf_from(page.text), "code": app.code()},
        headers=HTML,
        follow_redirects=False,
    )
    assert right.status_code == 303
    assert get_page(client, "/account").status_code == 200


def test_second_step_without_a_pending_login_goes_back_to_the_password(client):
    response = get_page(client, "/login/second-factor", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_platform_admin_without_two_factor_is_sent_to_set_it_up(client, clean_database):
    with clean_database.session() as session:
        accounts.register_user(
            session, email="root@example.com", password=PASSWORD, is_platform_admin=True
        )
    web_login(client, "root@example.com")
    organizer = get_page(client, "/organizer", follow_redirects=False)
    assert organizer.status_code == 303
    assert organizer.headers["location"].startswith("/account/security")
    security = get_page(client, organizer.headers["location"])
    assert security.status_code == 200
    assert "Set up an authenticator app" in security.text
    assert "before anything else" in security.text


def test_organization_requirement_page_and_member_refused(client):
    owner = register(client)
    enable_totp(client, owner["headers"])
    org = create_org(client, owner["headers"])["slug"]
    member = register(client)
    add_member(client, owner["headers"], org, member["email"], "admin")
    client.put(
        f"/api/v1/organizations/{org}/two-factor-requirement",
        json={"require_two_factor": True},
        headers=owner["headers"],
    )
    web_login(client, member["email"])
    refused = get_page(client, f"/organizer/{org}")
    assert refused.status_code == 403
    assert "requires two-factor authentication" in refused.text
    assert 'href="/account/security"' in refused.text
    # In French too, by its code.
    french = get_page(client, f"/organizer/{org}", headers={"accept-language": "fr"})
    assert "exige la double authentification" in french.text


def test_owner_turns_the_requirement_on_and_off_from_the_team_page(client, clean_database):
    owner = register(client)
    app = enable_totp(client, owner["headers"])
    org = create_org(client, owner["headers"])["slug"]
    post_form(client, "/login", {"email": owner["email"], "password": PASSWORD})
    step = post_form(client, "/login/second-factor", {"code": app.code()})
    assert step.status_code == 303
    team_url = f"/organizer/{org}/team"
    team = get_page(client, team_url)
    assert "Require two-factor authentication of every member" in team.text
    turned_on = post_form(
        client, f"/organizer/{org}/two-factor", {"require_two_factor": "on"}, from_url=team_url
    )
    assert turned_on.status_code == 303
    assert _required(client, owner, org) is True
    turned_off = post_form(client, f"/organizer/{org}/two-factor", {}, from_url=team_url)
    assert turned_off.status_code == 303
    assert _required(client, owner, org) is False


def _required(client, owner, org) -> bool:
    from sqlalchemy import select

    from admitone.organizations.models import Organization

    database = client.app.state.db
    with database.session(write=False) as session:
        return session.scalar(
            select(Organization.require_two_factor).where(Organization.slug == org)
        )


def test_admin_member_sees_no_requirement_form(client):
    owner = register(client)
    org = create_org(client, owner["headers"])["slug"]
    member = register(client)
    add_member(client, owner["headers"], org, member["email"], "admin")
    web_login(client, member["email"])
    team = get_page(client, f"/organizer/{org}/team")
    assert team.status_code == 200
    assert "Require two-factor authentication" not in team.text
    refused = post_form(
        client,
        f"/organizer/{org}/two-factor",
        {"require_two_factor": "on"},
        from_url=f"/organizer/{org}/team",
    )
    assert refused.status_code == 403
