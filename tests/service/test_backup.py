"""Issue 16: back up → change → restore → compare, on SQLite and PostgreSQL; tampered backups are
refused; restic carries the copy to another repository and back."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from mailbot.adapters.maildir import ensure_maildir
from mailbot.adapters.maildir_sender import deliver_to_maildir
from tests.support.app import mailbot_env
from tests.support.app import run_cli as run
from tests.support.db import PG_ADMIN_URL, _pg_url
from tests.support.mail import make_mail
from tests.support.services import service_unavailable


@pytest.fixture
def empty_target(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    """Another, empty database of the same kind to restore into."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'mailbot.db'}"
        return
    name = f"mailbot_restore_{os.getpid()}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield _pg_url(name)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def mail_in(env: dict[str, str], tmp_path: Path, *subjects: str) -> None:
    inbox = tmp_path / "storage" / "inbox"
    ensure_maildir(inbox)
    for n, subject in enumerate(subjects):
        deliver_to_maildir(inbox, make_mail(sender=f"k{n}-{subject[:4].lower()}@example.nl", subject=subject))
    assert run(env, "fetch", "--once")[0] == 0


def tickets(env: dict[str, str]) -> list[tuple[str, str]]:
    code, out = run(env, "tickets", "list", "--all", "--json")
    assert code == 0, out
    return sorted((t["ref"], t["category"]) for t in json.loads(out))


def test_back_up_change_restore_compare(tmp_path: Path, database_url: str, empty_target: str) -> None:
    env = mailbot_env(
        tmp_path, database_url, {"MAILBOT_BACKUP__KEY_FILE": str(tmp_path / "keys" / "backup.key")}
    )
    mail_in(env, tmp_path, "Klacht over de coach", "Vraag over de training")
    before = tickets(env)
    code, out = run(env, "backup", "create", "--no-offsite", "--json")
    assert code == 0, out
    folder = Path(json.loads(out)["folder"])
    assert (folder / "database.enc").exists() and not list(folder.glob(".snapshot*"))
    raw = (folder / "database.enc").read_bytes()
    assert b"Klacht over de coach" not in raw and b"CREATE TABLE" not in raw  # sealed
    assert run(env, "backup", "verify", str(folder))[0] == 0

    mail_in(env, tmp_path, "Klacht na de back-up")
    assert len(tickets(env)) == 3

    restored = {**env, "MAILBOT_STORAGE__DATABASE_URL": empty_target}
    code, out = run(restored, "backup", "restore", str(folder))
    assert code == 0 and "restored" in out, out
    assert tickets(restored) == before  # the state of the backup: the later ticket is not there
    code, out = run(restored, "backup", "restore", str(folder))
    assert code == 2 and "empty database" in out  # never over a database that has data


def test_a_tampered_backup_is_refused(tmp_path: Path, database_url: str) -> None:
    env = mailbot_env(tmp_path, database_url)
    mail_in(env, tmp_path, "Klacht")
    folder = Path(json.loads(run(env, "backup", "create", "--no-offsite", "--json")[1])["folder"])
    data = bytearray((folder / "database.enc").read_bytes())
    data[len(data) // 2] ^= 0x01
    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    (bad / "database.enc").write_bytes(bytes(data))
    code, out = run(env, "backup", "verify", str(bad))
    assert code == 1 and "refused" in out and "changed" in out
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["created_at"] = "2020-01-01T00:00:00+00:00"
    forged = tmp_path / "forged"
    shutil.copytree(folder, forged)
    (forged / "manifest.json").write_text(json.dumps(manifest))
    code, out = run(env, "backup", "verify", str(forged))
    assert code == 1 and "manifest was changed" in out


def test_restic_carries_the_backup_off_site_and_back(
    tmp_path: Path, database_url: str, empty_target: str
) -> None:
    if shutil.which("restic") is None:
        service_unavailable("restic", "not installed (Debian package restic)")
    repo = tmp_path / "elsewhere" / "restic-repo"
    env = mailbot_env(tmp_path, database_url, {"MAILBOT_BACKUP__RESTIC_REPOSITORY": str(repo)})
    mail_in(env, tmp_path, "Klacht over de factuur")
    before = tickets(env)
    code, out = run(env, "backup", "create")
    assert code == 0, out
    assert (repo / "config").exists()
    shutil.rmtree(tmp_path / "storage" / "backups")  # the local copy is lost with the machine
    restored = {**env, "MAILBOT_STORAGE__DATABASE_URL": empty_target}
    code, out = run(restored, "backup", "restore", "--latest")
    assert code == 0, out
    assert tickets(restored) == before
