"""Alembic, driven from code: ``mailbot init`` and ``mailbot run`` upgrade to head automatically.

Alembic itself (with Mako and Pygments behind it) costs about 11 MiB of every process that loads
it, and almost every start finds the database at head already. So :func:`upgrade` first compares
the database's revision with the newest migration script's, read from the scripts' text, and loads
Alembic only when they differ (or when either cannot be read): issue 15's memory target.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION_LINE = re.compile(r'^(down_)?revision: str(?: \| None)? = (?:"([^"\n]*)"|None)\s*$', re.M)


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    head = script_head()
    if head is not None and _stored_revisions(engine) == [head]:
        return  # at head: nothing for Alembic to do
    from alembic import command

    cfg = alembic_config(engine)
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            # The driver sends no BEGIN before DDL, so each CREATE would commit alone: a start
            # killed mid-migration left tables without their revision, and the next start failed
            # on "table … already exists". One transaction, holding the write lock: all or nothing,
            # and a second process starting at the same moment waits, then finds head.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def script_head() -> str | None:
    """The revision no script builds on, read from the scripts' text; None unless exactly one."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for down, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            (parents if down else revisions).add(value)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _stored_revisions(engine: Engine) -> list[str] | None:
    try:
        with engine.connect() as connection:
            return list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except DBAPIError:  # no such table yet: a new database
        return None


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
