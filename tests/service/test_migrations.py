"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL,
so `mailbot init`/`run` (which upgrade automatically) and the code never disagree."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from mailbot.adapters.db.engine import make_engine
from mailbot.adapters.db.migrate import current_revision, head_revision, script_head, upgrade
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


def test_the_head_read_from_the_scripts_is_alembics(database_url: str) -> None:
    engine = make_engine(database_url)
    assert script_head() == head_revision(engine) is not None
    engine.dispose()


def test_a_database_behind_head_is_still_upgraded(database_url: str) -> None:
    """Start-up skips Alembic only at head (issue 15); one revision behind, it migrates."""
    from alembic import command

    from mailbot.adapters.db.migrate import alembic_config

    engine = make_engine(database_url)
    upgrade(engine)
    with engine.begin() as connection:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "-1")
    assert current_revision(engine) != head_revision(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    engine.dispose()


def test_a_start_cut_off_inside_the_migrations_leaves_no_half_made_schema(
    database_url: str, monkeypatch
) -> None:
    """Issue 13: killed while migrating (found by the kill -9 test: the next start met "table
    audit_events already exists"), the database keeps none of it, so the next start migrates
    from where it stood. SQLite's driver runs DDL outside a transaction unless told otherwise."""
    from alembic import command
    from sqlalchemy import inspect

    real_upgrade = command.upgrade

    def upgrade_then_die(cfg, revision):  # type: ignore[no-untyped-def]
        real_upgrade(cfg, revision)
        raise RuntimeError("killed after the last migration ran, before its commit")

    from mailbot.adapters.db.migrate import alembic_config

    engine = make_engine(database_url)
    try:
        if current_revision(engine) is not None:  # the shared PostgreSQL database: start empty
            with engine.begin() as connection:
                cfg = alembic_config(engine)
                cfg.attributes["connection"] = connection
                command.downgrade(cfg, "base")
        monkeypatch.setattr(command, "upgrade", upgrade_then_die)
        try:
            upgrade(engine)
        except RuntimeError:
            pass
        else:
            raise AssertionError("the cut-off upgrade did not fail")
        monkeypatch.setattr(command, "upgrade", real_upgrade)
        assert not set(inspect(engine).get_table_names()) & set(Base.metadata.tables)
    finally:
        monkeypatch.setattr(command, "upgrade", real_upgrade)
        upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    engine.dispose()
