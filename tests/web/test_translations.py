"""The French catalogue covers every user-facing string of the web front."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from admitone.web import i18n

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "admitone" / "web"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _extracted() -> set[str]:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options_map = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    messages: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(WEB), method_map, options_map
    ):
        messages.add(message[0] if isinstance(message, tuple) else message)
    return messages


def _french() -> dict[str, object]:
    with (WEB / "locale" / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale="fr")
    return {
        (m.id[0] if isinstance(m.id, tuple) else m.id): m for m in catalog if m.id and not m.fuzzy
    }


def test_every_string_has_a_french_translation() -> None:
    french = _french()
    extracted = _extracted()
    assert len(extracted) > 50
    missing = sorted(m for m in extracted if m not in french or not french[m].string)
    assert missing == [], f"untranslated: {missing[:20]}"


def test_translations_keep_their_placeholders() -> None:
    for message_id, message in _french().items():
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            assert set(PLACEHOLDER.findall(text)) <= set(PLACEHOLDER.findall(message_id)) | {
                "num"
            }, message_id
            assert set(PLACEHOLDER.findall(message_id)) - {"num"} <= set(
                PLACEHOLDER.findall(text)
            ), message_id


def test_catalogue_compiles_from_the_po_file_at_run_time() -> None:
    i18n.translations.cache_clear()
    french = i18n.translations("fr")
    assert french.gettext("My tickets") == "Mes billets"
    assert i18n.translations("en").gettext("My tickets") == "My tickets"
