"""Dates and times read naturally: no seconds, the zone named, a night's end as a time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from admitone.web import formatting, i18n
from tests.helpers import create_org, register
from tests.web.helpers import create_event, get_page

PARIS = "Europe/Paris"
START = datetime(2027, 6, 1, 18, 0, tzinfo=UTC)  # 20:00 in Paris (CEST)


@pytest.fixture(params=["en", "fr"])
def locale(request: pytest.FixtureRequest) -> Iterator[str]:
    token = i18n._current_locale.set(request.param)
    yield request.param
    i18n._current_locale.reset(token)


def test_a_moment_has_no_seconds_and_names_its_zone(locale: str) -> None:
    text = formatting.datetime_in(START, PARIS, "medium")
    assert text == {"en": "Jun 1, 2027, 8:00\u202fPM CEST", "fr": "1 juin 2027, 20:00 CEST"}[locale]
    assert formatting.datetime_in(START, "UTC", "medium").endswith(" UTC")
    assert formatting.datetime_in(START, PARIS, "medium", zone=False).endswith(
        {"en": "PM", "fr": "20:00"}[locale]
    )


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        (datetime(2027, 6, 1, 22, 0, tzinfo=UTC), {"en": "midnight", "fr": "00:00"}),
        (datetime(2027, 6, 2, 0, 30, tzinfo=UTC), {"en": "2:30\u202fAM", "fr": "02:30"}),
        (datetime(2027, 6, 1, 21, 15, tzinfo=UTC), {"en": "11:15\u202fPM", "fr": "23:15"}),
        # Past the night: the end says its day.
        (
            datetime(2027, 6, 2, 8, 0, tzinfo=UTC),
            {"en": "6/2/27, 10:00\u202fAM", "fr": "02/06/2027 10:00"},
        ),
    ],
)
def test_an_end_on_the_same_night_reads_as_a_time(
    locale: str, end: datetime, expected: dict[str, str]
) -> None:
    start_text, end_text = formatting.time_range(START, end, PARIS)
    assert start_text == {"en": "8:00\u202fPM", "fr": "20:00"}[locale]
    assert end_text == expected[locale]


def _visible(html: str) -> str:
    """The text a reader sees: no scripts, tags or attributes (ISO dates live there)."""
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_event_pages_say_the_night_naturally_in_both_languages(client: TestClient) -> None:
    account = register(client)
    org = create_org(client, account["headers"])["slug"]
    event = create_event(client, account["headers"], org, title="Late Show")
    # 20:00 to midnight in Paris (summer time).
    client.patch(
        f"/api/v1/organizations/{org}/events/{event['id']}",
        headers=account["headers"],
        json={"starts_at": "2031-06-21T18:00:00Z", "ends_at": "2031-06-21T22:00:00Z"},
    ).raise_for_status()
    english = _visible(get_page(client, f"/events/{event['slug']}").text)
    french = _visible(
        get_page(client, f"/events/{event['slug']}", headers={"accept-language": "fr"}).text
    )
    assert ":00:00" not in english and ":00:00" not in french  # never seconds
    assert "8:00\u202fPM to midnight" in english
    assert "20:00 à 00:00" in french
    home = _visible(get_page(client, "/").text)
    assert "CET" in home or "CEST" in home  # the card names the zone


def test_vat_rates_read_as_percents_in_the_readers_language(locale: str) -> None:
    rates = [formatting.percent_of_bp(bp) for bp in (0, 550, 2000)]
    assert rates == {"en": ["0%", "5.5%", "20%"], "fr": ["0\xa0%", "5,5\xa0%", "20\xa0%"]}[locale]
