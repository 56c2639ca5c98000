"""Issue 16 / R-D4: rotate the master key, retire the old version, and read everything after
each step — on SQLite and PostgreSQL, with a real key file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailbot.adapters.key_rotation import KeyOperationRefused, retire, rotate
from mailbot.bootstrap import App, build_app
from mailbot.cli import main
from mailbot.config import load_settings
from mailbot.services.pipeline import run_pass
from tests.support.app import mailbot_env
from tests.support.fakes import MemorySource, keyword_classifier
from tests.support.mail import make_mail


def key_file_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = mailbot_env(tmp_path, database_url)
    del env["MAILBOT_MASTER_KEY"]
    env["MAILBOT_STORAGE__KEY_FILE"] = str(tmp_path / "keys" / "master.key")
    return env


def open_app(env: dict[str, str], clock) -> App:  # type: ignore[no-untyped-def]
    return build_app(load_settings(None, env), clock=clock, classifier=keyword_classifier)


def everything(app: App) -> list[tuple[str, str, str]]:
    """Every ticket's subject, customer address and message bodies, opened (raises if any fails)."""
    with app.database.transaction() as uow:
        found = []
        for ticket in uow.tickets.list():
            customer = uow.customers.get(ticket.customer_id)
            assert customer is not None
            bodies = "|".join(m.body for m in uow.messages.of_ticket(ticket.id))
            found.append((uow.tickets.subject(ticket), customer.address, bodies))
        return sorted(found)


def test_rotate_retire_and_read_everything(tmp_path: Path, database_url: str, clock) -> None:
    env = key_file_env(tmp_path, database_url)
    app = open_app(env, clock)
    source = MemorySource()
    for n in range(5):
        source.add(
            make_mail(sender=f"klant{n}@example.nl", subject=f"Klacht {n}", body=f"Tekst {n}"), clock()
        )
    run_pass(source, app.database, app.processor, app.clock)
    before = everything(app)
    assert len(before) == 5
    key_file = app.settings.storage.key_file
    report = rotate(app.engine, key_file)
    assert report.new_version == 2 and report.kept_versions == (1, 2) and report.rewrapped >= 5
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with pytest.raises(KeyOperationRefused, match="active"):
        retire(app.engine, key_file, 2)

    # A service still running with version 1 active (this app's keyring) wraps a new key under
    # it: retire refuses until every key is re-wrapped.
    late = MemorySource()
    late.add(make_mail(sender="laat@example.nl", subject="Klacht laat", body="Later"), clock())
    run_pass(late, app.database, app.processor, app.clock)
    with pytest.raises(KeyOperationRefused, match="still need KEK version 1"):
        retire(app.engine, key_file, 1)
    app.close()

    resumed = open_app(env, clock)
    assert rotate(resumed.engine, key_file, new_version=False).new_version == 2
    assert retire(resumed.engine, key_file, 1) == (2,)
    assert json.loads(key_file.read_text())["keks"].keys() == {"2"}
    resumed.close()

    after = open_app(env, clock)  # only version 2 left: everything still opens
    opened = everything(after)
    assert set(before) < set(opened) and len(opened) == 6
    after.close()


def test_cli_refuses_rotation_of_an_environment_key(tmp_path: Path, database_url: str) -> None:
    env = mailbot_env(tmp_path, database_url)
    result = CliRunner().invoke(main, ["keys", "rotate"], env=env)
    assert result.exit_code == 2 and "MAILBOT_MASTER_KEY" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_cli_rotate_then_retire(tmp_path: Path, database_url: str) -> None:
    env = key_file_env(tmp_path, database_url)
    runner = CliRunner()
    assert runner.invoke(main, ["init"], env=env).exit_code == 0
    result = runner.invoke(main, ["keys", "rotate"], env=env)
    assert result.exit_code == 0 and "active version 2" in result.output, result.output
    result = runner.invoke(main, ["keys", "retire", "1"], env=env)
    assert result.exit_code == 0 and "versions in the key file: 2" in result.output, result.output
    result = runner.invoke(main, ["keys", "retire", "7"], env=env)
    assert result.exit_code == 2 and "no KEK version 7" in result.output
