from __future__ import annotations

from alembic import context

from admitone.db import build_engine
from admitone.models import Base

config = context.config
target_metadata = Base.metadata


# Built by migration 0002 outside the models: autogenerate must not drop them.
SEARCH_OBJECTS = {"events_fts", "search_vector"}


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    return not (name or "").startswith(tuple(SEARCH_OBJECTS))


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    engine = build_engine(url, pool_size=1)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
