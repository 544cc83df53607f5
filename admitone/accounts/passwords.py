"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256  # argon2 takes any length; this bounds the work per request

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash("admitone-timing-equaliser")


@functools.cache
def _common_passwords() -> frozenset[str]:
    # zxcvbn ships the 30,000 most common leaked passwords.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


# Shorter parts of an address or a name (``al``, ``jo``) would refuse too many passwords.
MIN_PERSONAL_PART = 3
# zxcvbn refuses longer input; the first characters are where a name would be anyway.
ZXCVBN_MAX_LENGTH = 72


def _personal_words(email: str | None, full_name: str | None) -> list[str]:
    """The e-mail, its local part and the name (whole and word by word), lower-cased."""
    words = []
    if email:
        email = email.lower()
        words += [email, email.partition("@")[0]]
    if full_name:
        name = full_name.lower()
        words += [name, *name.replace("-", " ").split()]
    return sorted({word for word in words if len(word) >= MIN_PERSONAL_PART})


def _contains_personal_word(password: str, words: list[str]) -> bool:
    lowered = password.lower()
    if any(word in lowered for word in words):
        return True
    # zxcvbn's user_inputs dictionary also finds them reversed or in l33t ("4d4").
    from zxcvbn import zxcvbn

    sequence = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=words)["sequence"]
    return any(
        match["pattern"] == "dictionary"
        and match.get("dictionary_name") == "user_inputs"
        and len(match["token"]) >= MIN_PERSONAL_PART
        for match in sequence
    )


def password_problems(
    password: str, *, email: str | None = None, full_name: str | None = None
) -> list[str]:
    """What is wrong with a new password; an empty list when it is acceptable."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"must be at most {MAX_PASSWORD_LENGTH} characters long")
    lowered = password.lower()
    if lowered in _common_passwords():
        problems.append("is a commonly used password")
    if not password.strip():
        problems.append("must not be only spaces")
    elif len(set(password)) == 1:
        problems.append("must not be one repeated character")
    if email and lowered == email.lower():
        problems.append("must not be your e-mail address")
    elif _contains_personal_word(password, _personal_words(email, full_name)):
        problems.append("must not contain your e-mail address or your name")
    return problems


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
