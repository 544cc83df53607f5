"""The programme pages, in English and French: the timetable, the stars, the overlap
warning, the artist page, and the event page's "Programme" link."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.helpers import PASSWORD, register
from tests.lineup.helpers import make_lineup
from tests.web.helpers import csrf_from, get_page, web_login


def test_the_programme_page_with_stars_and_the_overlap_warning(client: TestClient):
    lineup = make_lineup(client)
    nova = lineup.slot("Main", "Nova", 20, 21, status="confirmed")
    echo = lineup.slot("Tent", "Echo", 20.5, 21.5, status="confirmed")
    lineup.slot("Tent", "Hidden", 22, 23)  # pending
    lineup.publish()
    slug = lineup.event["slug"]
    event_page = client.get(f"/events/{slug}")
    assert f'href="/events/{slug}/programme"' in event_page.text
    page = client.get(f"/events/{slug}/programme")
    assert page.status_code == 200
    assert "Nova" in page.text and "Echo" in page.text and "Hidden" not in page.text
    assert "Europe/Paris" in page.text
    assert f"/api/v1/slots/{nova['id']}/calendar.ics" in page.text
    assert "Add to my schedule" not in page.text  # not logged in

    fan = register(client)
    browser = TestClient(client.app)
    web_login(browser, fan["email"], PASSWORD)
    page = get_page(browser, f"/events/{slug}/programme")
    csrf = csrf_from(page.text)
    for slot in (nova, echo):
        response = browser.post(
            f"/events/{slug}/programme/{slot['id']}/star",
            data={"csrf_token": csrf},
            follow_redirects=False,
        )
        assert response.status_code == 303
    page = get_page(browser, f"/events/{slug}/programme")
    assert "In my schedule" in page.text
    assert 'data-testid="schedule-clash"' in page.text
    assert "Nova overlaps Echo" in page.text
    # A starred slot shows twice (my schedule, the timetable); its id once.
    ids = re.findall(r'\sid="([^"]+)"', page.text)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    browser.cookies.set("admitone_lang", "fr")
    page = get_page(browser, f"/events/{slug}/programme?lang=fr")
    assert "Programme" in page.text and "Mon programme" in page.text
    response = browser.post(
        f"/events/{slug}/programme/{echo['id']}/unstar",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303
    page = get_page(browser, f"/events/{slug}/programme")
    assert 'data-testid="schedule-clash"' not in page.text

    artist = client.get(f"/events/{slug}/artists/{lineup.artists['Nova']}")
    assert artist.status_code == 200 and "Nova" in artist.text
    assert client.get(f"/events/{slug}/artists/{lineup.artists['Hidden']}").status_code == 404


def test_a_draft_has_no_programme_page(client: TestClient):
    lineup = make_lineup(client)
    lineup.slot("Main", "Nova", 20, 21, status="confirmed")
    assert client.get(f"/events/{lineup.event['slug']}/programme").status_code == 404
