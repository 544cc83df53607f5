"""db_direct.insert_untracked: fresh rows in one Core INSERT per table, Python defaults
filled in, the objects left out of the session."""

from __future__ import annotations

from sqlalchemy import select

from admitone.accounts.models import User
from admitone.db import Database
from admitone.db_direct import insert_untracked


def test_fresh_rows_go_in_with_their_python_defaults(clean_database: Database):
    given = User(email="ada@example.com", password_hash="x", locale="fr")
    plain = User(email="bob@example.com", password_hash="y")
    with clean_database.session() as session:
        insert_untracked(session, [given, plain])

    # Callable defaults (id, timestamps) and scalar ones (locale, flags) are on the objects...
    assert given.id is not None and plain.id is not None and given.id != plain.id
    assert plain.created_at is not None and plain.locale == "en" and plain.is_active is True
    assert given.locale == "fr"  # a given value is kept
    # ...and in the rows, as the objects say.
    with clean_database.session(write=False) as session:
        rows = {
            row.email: row
            for row in session.execute(
                select(User.email, User.id, User.locale, User.is_active, User.created_at)
            )
        }
    assert rows["ada@example.com"].id == given.id and rows["ada@example.com"].locale == "fr"
    assert rows["bob@example.com"].id == plain.id and rows["bob@example.com"].locale == "en"
    assert rows["bob@example.com"].is_active is True
    assert rows["bob@example.com"].created_at == plain.created_at
