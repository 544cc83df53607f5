"""Full-text search over events, the one place that knows both dialects.

The index itself is built by migration 0002 (kept out of the models on purpose):

* SQLite: ``events_fts``, an FTS5 external-content table over ``events`` (title,
  description, venue name, city) kept in sync by triggers, keyed by the events' rowid.
* PostgreSQL: ``events.search_vector``, a generated ``tsvector`` column with a GIN index,
  using the ``simple`` configuration (no stemming: events are in French and English).

User input never reaches either query language as syntax: it is cut into words of
letters and digits, each is quoted (FTS5) or is a bare lexeme (tsquery), every word must
match, and the last one matches as a prefix so that results follow the typing.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import ColumnElement, TextClause, func, literal_column, text

MAX_TERMS = 8
MAX_TERM_LENGTH = 60

# Latin letters with diacritics -> their base letter, so "theatre" finds "Théâtre" on
# both databases (FTS5's tokenizer folds them too; PostgreSQL's 'simple' config does
# not, so migration 0002 applies translate() with exactly these two strings).
ACCENTED = "".join(
    ch
    for ch in map(chr, range(0xC0, 0x250))
    if len(decomposed := unicodedata.normalize("NFD", ch)) > 1
    and decomposed[0].isascii()
    and decomposed[0].isalpha()
    and all(unicodedata.combining(mark) for mark in decomposed[1:])
)
UNACCENTED = "".join(unicodedata.normalize("NFD", ch)[0] for ch in ACCENTED)
_FOLD = str.maketrans(ACCENTED, UNACCENTED)
# Letters and digits of any script; everything else (quotes, *, -, :, parentheses...)
# separates words.
_WORD = re.compile(r"[^\W_]+")


def search_terms(query: str) -> list[str]:
    """The words of a user's query, folded and lower-cased; empty if there are none."""
    folded = query.translate(_FOLD).lower()
    return [word[:MAX_TERM_LENGTH] for word in _WORD.findall(folded)][:MAX_TERMS]


def fts5_query(terms: list[str]) -> str:
    # A double-quoted FTS5 string is never an operator (AND, NEAR...) or a column filter.
    quoted = [f'"{term}"' for term in terms]
    quoted[-1] += "*"
    return " ".join(quoted)


def tsquery(terms: list[str]) -> str:
    # Terms hold only letters and digits, so none of & | ! ( ) : * ' can appear.
    return " & ".join([*terms[:-1], f"{terms[-1]}:*"])


def match_events(dialect: str, terms: list[str]) -> ColumnElement[bool] | TextClause:
    """A WHERE condition on ``events`` true for the events matching every term."""
    if not terms:
        raise ValueError("no search terms")
    if dialect == "sqlite":
        return text(
            "events.rowid IN (SELECT rowid FROM events_fts WHERE events_fts MATCH :fts_query)"
        ).bindparams(fts_query=fts5_query(terms))
    if dialect == "postgresql":
        return literal_column("events.search_vector").op("@@")(
            func.to_tsquery(literal_column("'simple'::regconfig"), tsquery(terms))
        )
    raise NotImplementedError(f"no full-text search for {dialect}")
