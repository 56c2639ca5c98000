"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL,
so `mailbot init`/`run` (which upgrade automatically) and the code never disagree."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from mailbot.adapters.db.engine import make_engine
from mailbot.adapters.db.migrate import current_revision, head_revision, upgrade
from mailbot.adapters.db.models import Base


def ours(name: str | None, type_: str, _parent: object) -> bool:
    """APScheduler keeps its own job table in the same database; it is not ours to migrate."""
    return type_ != "table" or name in Base.metadata.tables


def test_migrations_match_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    upgrade(engine)  # idempotent: a second start changes nothing
    assert current_revision(engine) == head_revision(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": ours})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []
