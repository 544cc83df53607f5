"""Short addresses (slugs) made from names: events from their title, organizations from
their name, the same way (lower-case ASCII letters, digits, single dashes)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection

SLUG_MAX = 80
# Room left for a "-NNN" suffix when the address is taken.
_SUFFIX_ROOM = 10


def slugify(text: str, *, fallback: str) -> str:
    """A slug from ``text``; ``fallback`` when nothing of it is left (a name in another
    script than Latin)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    slug = slug[: SLUG_MAX - _SUFFIX_ROOM].strip("-")
    return slug if len(slug) >= 2 else fallback


def first_free(base: str, taken: Collection[str]) -> str:
    """``base``, or ``base-2``, ``base-3``... the first that ``taken`` does not hold."""
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"
