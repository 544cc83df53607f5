"""Error codes and their page texts match, both ways, in English and in French.

"The codes that can be raised" are found, not listed: every module of ``admitone`` is
imported (but ``admitone.main``, which builds a serving app, and the Alembic scripts),
which defines every subclass of ``DomainError``; a class counts as raised when code in
``admitone/`` (its source, read with ``ast``) instantiates it (``X(...)``), raises it as
a class (``raise X``), or hands it to a function that will (a keyword argument such as
``not_found=X`` or ``error=X``). A family base that only other classes derive from, or
that is only caught (``except IdentityLoginFailed``), raises no code of its own. No error
code is written inline: ``DomainError`` takes no code argument, and the handlers' own
codes (unknown route, validation, 500, in ``error_handlers.py``) are answered with their
HTTP status's text (``STATUS_TEXT``), checked last.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import admitone
from admitone.errors import DomainError
from admitone.web import i18n
from admitone.web.messages import ERROR_CODES, STATUS_TEXT

ROOT = Path(admitone.__file__).parent
NOT_IMPORTED = ("admitone.main", "admitone.migrations")


def _error_classes() -> list[type[DomainError]]:
    for module in pkgutil.walk_packages(admitone.__path__, "admitone."):
        if not module.name.startswith(NOT_IMPORTED):
            importlib.import_module(module.name)

    def subclasses(cls: type[DomainError]) -> Iterator[type[DomainError]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    return [
        DomainError,
        *(c for c in subclasses(DomainError) if c.__module__.startswith("admitone")),
    ]


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _names_raised_in_source() -> set[str]:
    """Names instantiated, raised as a class, or passed by keyword, anywhere in admitone/."""
    names: set[str | None] = set()
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.relative_to(ROOT).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _name(node.func) not in ("isinstance", "issubclass"):
                names.add(_name(node.func))
                names.update(_name(keyword.value) for keyword in node.keywords)
            elif isinstance(node, ast.Raise) and node.exc is not None:
                names.add(_name(node.exc))
    return {name for name in names if name}


def _raised_codes() -> dict[str, list[str]]:
    """Each code that can be raised -> the classes raising it."""
    raised = _names_raised_in_source()
    codes: dict[str, list[str]] = {}
    for cls in _error_classes():
        if cls.__name__ in raised:
            codes.setdefault(cls.code, []).append(f"{cls.__module__}.{cls.__name__}")
    return codes


def test_error_classes_are_defined_once():
    """One class per error (EventNotFound lived in three packages, TicketTypeNotFound in
    two): a name defined twice is a duplicate to merge, or two errors to name apart."""
    seen: dict[str, str] = {}
    for cls in _error_classes():
        where = f"{cls.__module__}.{cls.__name__}"
        assert cls.__name__ not in seen, f"{where} duplicates {seen[cls.__name__]}"
        seen[cls.__name__] = where


def test_every_code_raised_has_a_page_text_and_every_text_a_code():
    raised = _raised_codes()
    assert len(raised) > 60  # the search finds the errors at all
    missing = {code: classes for code, classes in raised.items() if code not in ERROR_CODES}
    assert not missing, f"add a page text (web/messages.py ERROR_CODES) for: {missing}"
    unused = sorted(set(ERROR_CODES) - set(raised))
    assert not unused, f"no error raises these codes; remove their texts: {unused}"


def _english_and_french(text) -> tuple[str, str]:
    try:
        i18n.set_locale("en")
        english = text()
        i18n.set_locale("fr")
        french = text()
    finally:
        i18n.set_locale("en")
    return english, french


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_each_page_text_is_in_english_and_french(code: str):
    english, french = _english_and_french(ERROR_CODES[code])
    assert english.strip() and french.strip()
    assert french != english, f"{code} has no French text: {english!r}"


def test_the_status_texts_are_in_english_and_french():
    """The texts of the handlers' own codes (and of any code without a text)."""
    for status, text in STATUS_TEXT.items():
        english, french = _english_and_french(text)
        assert english.strip() and french != english, status
