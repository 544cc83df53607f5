"""The password policy (accounts/passwords.py)."""

from __future__ import annotations

import pytest

from admitone.accounts.passwords import password_problems

EMAIL = "ada.lovelace@example.com"
NAME = "Ada Lovelace"


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        (" " * 12, "must not be only spaces"),
        ("\t \t \t \t \t ", "must not be only spaces"),
        ("x" * 12, "must not be one repeated character"),
        ("éééééééééééé", "must not be one repeated character"),
        (EMAIL, "must not be your e-mail address"),
        ("my-" + EMAIL + "-key", "must not contain your e-mail address or your name"),
        ("Ada.Lovelace-1815", "must not contain your e-mail address or your name"),
        ("quiet-lovelace-harbour", "must not contain your e-mail address or your name"),
        ("harbour-ecalevol-quiet", "must not contain your e-mail address or your name"),
        ("quiet-l0v3l4c3-harbour", "must not contain your e-mail address or your name"),
    ],
)
def test_refused(password: str, problem: str) -> None:
    assert problem in password_problems(password, email=EMAIL, full_name=NAME)


@pytest.mark.parametrize(
    "password",
    ["correct-horse-battery", "moonlit-harbour-lantern", "ab" * 6, "a" * 11 + "b"],
)
def test_accepted(password: str) -> None:
    assert password_problems(password, email=EMAIL, full_name=NAME) == []


def test_short_name_parts_do_not_refuse_everything() -> None:
    # "Jo" and "al@" are too short to count: they appear in many good passwords.
    assert password_problems("jovial-harbour-lantern", email="al@example.com", full_name="Jo") == []


def test_long_passwords_are_checked_without_zxcvbn_failing() -> None:
    assert password_problems("z" * 100 + "-lovelace", email=EMAIL, full_name=NAME) == [
        "must not contain your e-mail address or your name"
    ]
    assert password_problems("q7-" * 80, email=EMAIL, full_name=NAME) == []
