"""Daily encrypted backups (issue 16): a consistent snapshot while the service runs, sealed with a
backup key of its own, a manifest that proves what it holds, and restic for the copy elsewhere.

- Snapshot: SQLite's online backup API (a consistent copy while writers go on), or ``pg_dump
  --format=custom`` for PostgreSQL. The plaintext snapshot exists only inside the backup folder
  (0700), only until it is sealed.
- Sealing: ``backup_crypto`` (streaming AES-GCM), under the backup key (``backup.key_file``,
  created 0600 on first use; keep a copy apart from the database *and* the master key). The
  manifest carries the plaintext's SHA-256 and an HMAC under the backup key, so a changed
  manifest or backup is refused before anything is restored.
- Off-site: restic (encrypted, deduplicating, any back end) copies the sealed folder; its
  retention (``--keep-daily``/``--keep-weekly``) prunes old ones.
- Restore goes only into an empty database, and then re-applies the erasure ledger so that
  nobody erased after the backup was made comes back (``reapply`` is passed in).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from mailbot.adapters.backup_crypto import BackupIntegrityError, decrypt_file, encrypt_file

FORMAT = 1
DATABASE_FILE = "database.enc"
MANIFEST_FILE = "manifest.json"


class BackupError(RuntimeError):
    """The backup or restore could not be done; the message says why (no exception names)."""


def load_or_create_backup_key(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(base64.urlsafe_b64encode(os.urandom(32)).decode() + "\n")
    if os.stat(path).st_mode & 0o077:
        raise BackupError(f"backup key {path} may be read by group/others: chmod 600 it")
    raw = base64.urlsafe_b64decode(path.read_text(encoding="ascii").strip())
    if len(raw) != 32:
        raise BackupError(f"backup key {path} is not a 32-byte key")
    return raw


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _mac(key: bytes, manifest: dict[str, object]) -> str:
    body = json.dumps({k: v for k, v in manifest.items() if k != "mac"}, sort_keys=True).encode()
    return hmac.new(key, b"mailbot-backup-manifest\x00" + body, hashlib.sha256).hexdigest()


def _pg(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL for pg_dump/pg_restore, the password in the environment (not on argv)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def snapshot(database_url: str, out: Path) -> str:
    """A consistent copy of the database at ``out``; returns the backend name."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or not Path(url.database).exists():
            raise BackupError("the SQLite database does not exist (mailbot init creates it)")
        source = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
        target = sqlite3.connect(out)
        try:
            source.backup(target)  # the online backup API: consistent while writers go on
        finally:
            target.close()
            source.close()
        return backend
    if backend == "postgresql":
        libpq, env = _pg(database_url)
        done = subprocess.run(
            ["pg_dump", "--format=custom", "--no-owner", f"--file={out}", libpq],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise BackupError(
                f"pg_dump failed: {done.stderr.strip().splitlines()[-1] if done.stderr else done.returncode}"
            )
        return backend
    raise BackupError(f"no backup method for a {backend} database")


@dataclass(frozen=True)
class Manifest:
    folder: Path
    created_at: str
    backend: str
    size: int
    sha256: str


def create(database_url: str, backups_dir: Path, backup_key: bytes, now: datetime) -> Manifest:
    """Snapshot, seal and describe the database in a new folder under ``backups_dir``."""
    backups_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder = backups_dir / f"mailbot-{now.astimezone(UTC).strftime('%Y%m%dT%H%M%S%fZ')}"
    folder.mkdir(mode=0o700)
    plain = folder / ".snapshot"
    try:
        backend = snapshot(database_url, plain)
        plain.chmod(0o600)
        digest = _sha256(plain)
        size = encrypt_file(plain, folder / DATABASE_FILE, backup_key)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        plain.unlink(missing_ok=True)
    manifest: dict[str, object] = {
        "format": FORMAT,
        "created_at": now.astimezone(UTC).isoformat(),
        "backend": backend,
        "size": size,
        "sha256": digest,
    }
    manifest["mac"] = _mac(backup_key, manifest)
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return Manifest(folder, str(manifest["created_at"]), backend, size, digest)


def open_backup(folder: Path, backup_key: bytes, out: Path) -> Manifest:
    """Check the manifest and decrypt the database to ``out``; ``BackupIntegrityError`` if any of
    it was changed or made with another key."""
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupIntegrityError(f"no readable manifest in {folder}") from exc
    if not isinstance(manifest, dict) or not hmac.compare_digest(
        str(manifest.get("mac", "")), _mac(backup_key, manifest)
    ):
        raise BackupIntegrityError("the manifest was changed, or the backup was made with another key")
    decrypt_file(folder / DATABASE_FILE, out, backup_key)
    if _sha256(out) != manifest["sha256"]:
        out.unlink(missing_ok=True)
        raise BackupIntegrityError("the restored database does not match the manifest's checksum")
    return Manifest(folder, manifest["created_at"], manifest["backend"], manifest["size"], manifest["sha256"])


def restore(
    folder: Path,
    backup_key: bytes,
    database_url: str,
    reapply: Callable[[], int] | None = None,
) -> tuple[Manifest, int]:
    """Restore into an empty database, then ``reapply`` the erasure ledger; (manifest, erasures
    re-applied)."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    work = folder.parent / f".restore-{os.getpid()}"
    work.mkdir(mode=0o700, exist_ok=True)
    plain = work / "database"
    try:
        manifest = open_backup(folder, backup_key, plain)
        if manifest.backend != backend:
            raise BackupError(f"this is a {manifest.backend} backup; the target database is {backend}")
        if backend == "sqlite":
            target = Path(url.database or "")
            if target.exists() and target.stat().st_size > 0:
                raise BackupError(
                    f"{target} exists: restore only into an empty database (move it away first)"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(plain, target)
            target.chmod(0o600)
        else:
            libpq, env = _pg(database_url)
            done = subprocess.run(
                ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={libpq}", str(plain)],
                env=env,
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                last = done.stderr.strip().splitlines()[-1] if done.stderr else str(done.returncode)
                raise BackupError(f"pg_restore failed (restore only into an empty database): {last}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return manifest, (reapply() if reapply else 0)


def restic(repository: str, password_file: Path, *args: str) -> str:
    """Run restic against ``repository``; its stdout, or ``BackupError`` with its last line."""
    if shutil.which("restic") is None:
        raise BackupError("restic is not installed (Debian: apt-get install restic)")
    env = {**os.environ, "RESTIC_REPOSITORY": repository, "RESTIC_PASSWORD_FILE": str(password_file)}
    done = subprocess.run(["restic", "--quiet", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        raise BackupError(f"restic {args[0]} failed: {last}")
    return done.stdout


def offsite(folder: Path, repository: str, password_file: Path, keep_daily: int, keep_weekly: int) -> None:
    """Copy the sealed folder into the restic repository (made on first use) and prune by policy."""
    if not password_file.exists():
        password_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(base64.urlsafe_b64encode(os.urandom(32)).decode() + "\n")
    try:
        restic(repository, password_file, "cat", "config")
    except BackupError:
        restic(repository, password_file, "init")
    restic(repository, password_file, "backup", "--tag", "mailbot", "--host", "mailbot", str(folder))
    restic(
        repository,
        password_file,
        "forget",
        "--tag",
        "mailbot",
        "--keep-daily",
        str(keep_daily),
        "--keep-weekly",
        str(keep_weekly),
        "--prune",
    )


def fetch_latest(repository: str, password_file: Path, target: Path) -> Path:
    """Restore the newest mailbot snapshot from restic into ``target``; the backup folder in it."""
    restic(repository, password_file, "restore", "latest", "--tag", "mailbot", "--target", str(target))
    found = sorted(target.rglob(MANIFEST_FILE))
    if not found:
        raise BackupError("the restic snapshot holds no mailbot backup")
    return found[-1].parent
