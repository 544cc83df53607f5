from __future__ import annotations

from alembic import context

from admitone.db import build_engine
from admitone.models import Base

config = context.config
target_metadata = Base.metadata


# Built by migration 0002 outside the models: autogenerate must not drop them.
SEARCH_OBJECTS = {"events_fts", "search_vector"}


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return not (name or "").startswith(tuple(SEARCH_OBJECTS))


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no database URL: configure Alembic with admitone.migrate")
    engine = build_engine(url, pool_size=1)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # Drafts use plain operations (op.add_column, op.drop_column...), also when
            # made against SQLite: a batch rebuild of a table that others reference breaks
            # their foreign keys there (docs/migrations.md).
            render_as_batch=False,
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
