"""``mailbot backup create|verify|restore|list``: daily encrypted backups, restic off-site (issue 16).

Example: mailbot backup create            (snapshot, seal, copy to the restic repository)
         mailbot backup restore --latest  (the newest restic snapshot into an empty database)
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import click

from mailbot.adapters.erasure_ledger import LEDGER_FILE, read_ledger
from mailbot.cli.common import opened_app, settings_of
from mailbot.cli.output import json_option, report, table
from mailbot.domain.retention import LedgerEntry
from mailbot.errors import plain_reason


def _fail(message: str) -> None:
    click.echo(f"mailbot: {message}", err=True)
    sys.exit(2)


@click.group()
def backup() -> None:
    """Encrypted backups of the database, copied to another location with restic."""


@backup.command("create")
@click.option("--no-offsite", is_flag=True, help="Only the local sealed folder; skip restic.")
@json_option()
@click.pass_context
def backup_create(ctx: click.Context, no_offsite: bool, as_json: bool) -> None:
    """Snapshot the database while the service runs, seal it with the backup key, copy it off-site."""
    from mailbot.adapters.backup import BackupError

    try:
        with opened_app(ctx) as app:
            manifest = app.backup_now(offsite=not no_offsite)
    except BackupError as exc:
        _fail(f"backup failed: {exc}")
    except OSError as exc:
        _fail(f"backup failed: {plain_reason(exc)}{f' ({exc.filename})' if exc.filename else ''}")
    result = {"folder": str(manifest.folder), "backend": manifest.backend, "size": manifest.size}
    click.echo(
        json.dumps(result)
        if as_json
        else f"backup {manifest.folder} ({manifest.size} bytes, {manifest.backend})"
    )


@backup.command("verify")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@json_option()
@click.pass_context
def backup_verify(ctx: click.Context, folder: Path, as_json: bool) -> None:
    """Check a backup opens with the backup key and matches its manifest (nothing is restored)."""
    from mailbot.adapters.backup import load_or_create_backup_key, open_backup
    from mailbot.adapters.backup_crypto import BackupIntegrityError

    settings = settings_of(ctx).backup
    assert settings is not None
    if not settings.key_file.exists():
        _fail(f"no backup key at {settings.key_file}")
    with tempfile.TemporaryDirectory() as work:
        try:
            manifest = open_backup(folder, load_or_create_backup_key(settings.key_file), Path(work) / "db")
        except BackupIntegrityError as exc:
            click.echo(f"mailbot: backup refused: {exc}", err=True)
            sys.exit(1)
    data = {"folder": str(folder), "backend": manifest.backend, "created_at": manifest.created_at}
    report(
        as_json,
        {**data, "size": manifest.size, "ok": True},
        f"ok: {manifest.backend} backup of {manifest.created_at}, {manifest.size} bytes, checksum matches",
    )


@backup.command("restore")
@click.argument("folder", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--latest", is_flag=True, help="Fetch the newest snapshot from the restic repository.")
@json_option()
@click.pass_context
def backup_restore(ctx: click.Context, folder: Path | None, latest: bool, as_json: bool) -> None:
    """Restore a backup into the configured (empty) database, then re-apply the erasure ledger."""
    from mailbot.adapters import backup as backups
    from mailbot.adapters.backup_crypto import BackupIntegrityError

    settings = settings_of(ctx)
    conf = settings.backup
    assert conf is not None
    if (folder is None) == (not latest):
        _fail("give a backup FOLDER or --latest (not both)")
    if not conf.key_file.exists():
        _fail(f"no backup key at {conf.key_file}: restore needs the copy you kept")
    key = backups.load_or_create_backup_key(conf.key_file)
    with tempfile.TemporaryDirectory() as work:
        try:
            if latest:
                if not conf.restic_repository:
                    _fail("no restic repository configured (backup.restic_repository)")
                folder = backups.fetch_latest(conf.restic_repository, conf.restic_password_file, Path(work))
            assert folder is not None
            carried = read_ledger(folder / LEDGER_FILE)
            manifest, reapplied = backups.restore(
                folder, key, settings.storage.database_url, reapply=lambda: _reapply_ledger(ctx, carried)
            )
        except BackupIntegrityError as exc:
            click.echo(f"mailbot: backup refused: {exc}", err=True)
            sys.exit(1)
        except backups.BackupError as exc:
            _fail(str(exc))
    report(
        as_json,
        {"backend": manifest.backend, "created_at": manifest.created_at, "erasures_reapplied": reapplied},
        f"restored the {manifest.backend} backup of {manifest.created_at}; erasures re-applied: {reapplied}",
    )


def _reapply_ledger(ctx: click.Context, carried: list[LedgerEntry]) -> int:
    """Bring the restored database up to this version's schema (``build_app`` migrates it), then
    erase again everyone on the ledger — the file beside the keys and the copy the backup carried —
    whom the restored database still holds (R-D10)."""
    with opened_app(ctx) as app:
        return app.erasure.reapply(carried)


@backup.command("list")
@json_option()
@click.pass_context
def backup_list(ctx: click.Context, as_json: bool) -> None:
    """The sealed backup folders here, newest last."""
    conf = settings_of(ctx).backup
    assert conf is not None
    folders = (
        sorted(p for p in conf.dir.glob("mailbot-*") if (p / "manifest.json").exists())
        if conf.dir.exists()
        else []
    )
    rows = []
    for folder in folders:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        rows.append({"folder": folder.name, "backend": manifest["backend"], "size": manifest["size"]})
    if as_json:
        report(True, rows, "")
        return
    table(
        ("FOLDER", "BACKEND", "BYTES"), [(r["folder"], r["backend"], r["size"]) for r in rows], "no backups"
    )


commands = [backup]
