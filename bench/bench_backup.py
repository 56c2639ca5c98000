"""Backup and restore of a large database (issue 16): time and peak memory of ``mailbot backup
create`` (local sealed copy; then with the restic copy to a local repository) and ``mailbot backup
restore`` for a SQLite database of N messages, against a plain copy of the same file measured in
the same run, and a comparison of the restored database with the original.

The database is made real first — ``mailbot fetch --once`` over a few hundred messages of the
repository's corpus — and then grown to N raw and N correspondence rows by copying rows with new
ids (the copies' ciphertext is not readable under its new ids; backup and restore never open it,
they copy and seal the database as a whole, so their cost is the same).

    .venv/bin/python bench/bench_backup.py [--messages 100000] [--seed-messages 400]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

GROWN = ("raw_messages", "messages")


def mailbot(env: dict[str, str], *args: str) -> dict[str, object]:
    """One CLI command as a child process: wall seconds and its own peak RSS (wait4)."""
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        started = time.perf_counter()
        # Files, not pipes: a chatty child would block on a full pipe while we wait for it.
        proc = subprocess.Popen(
            [sys.executable, "-m", "mailbot.cli", *args], env=env, stdout=out_file, stderr=err_file, cwd=REPO
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read().decode(), err_file.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"mailbot {' '.join(args)} failed: {err.strip()[-500:]}")
    return {"seconds": round(wall, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1), "stdout": out}


def seed(env: dict[str, str], inbox: Path, count: int) -> None:
    files = sorted((REPO / "corpus").rglob("*.eml"))[:count]
    new = inbox / "new"
    new.mkdir(parents=True, exist_ok=True)
    for n, file in enumerate(files):
        shutil.copyfile(file, new / f"{n:06d}.seed")
    mailbot(env, "fetch", "--once")


def grow(db_path: Path, target: int) -> None:
    """Copy raw and correspondence rows under new ids until there are ``target`` of each."""
    db = sqlite3.connect(db_path)
    try:
        for table in GROWN:
            columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
            have = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            copy = 0
            while have < target:
                copy += 1
                suffixed = {"id", "fingerprint", "raw_message_id"}
                select = ", ".join(f"{c} || '.{copy}'" if c in suffixed else c for c in columns)
                limit = target - have
                db.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} FROM {table} "
                    f"WHERE id NOT LIKE '%.%' LIMIT {limit}"
                )
                db.commit()
                grown = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                if grown == have:
                    raise SystemExit(f"cannot grow {table}: nothing to copy")
                have = grown
    finally:
        db.close()


def fingerprint(db_path: Path) -> dict[str, object]:
    """Row counts and a digest of every row of every table (the restore must give the same)."""
    db = sqlite3.connect(db_path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        result: dict[str, object] = {}
        for table in tables:
            digest = hashlib.sha256()
            count = 0
            for row in db.execute(f"SELECT * FROM {table} ORDER BY rowid"):
                digest.update(repr(row).encode())
                count += 1
            result[table] = (count, digest.hexdigest()[:16])
        return result
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--seed-messages", type=int, default=400)
    args = parser.parse_args()
    from tests.support.app import mailbot_env

    with tempfile.TemporaryDirectory(prefix="bkb", dir="/tmp") as tmp:
        root = Path(tmp)
        db_path = root / "storage" / "mailbot.db"
        env = {
            **os.environ,
            **mailbot_env(
                root,
                f"sqlite:///{db_path}",
                {"MAILBOT_MODEL__ENABLED": "false", "MAILBOT_PROCESSING__AUTO_REPLY_CAP_PER_DAY": "1000"},
            ),
        }
        mailbot(env, "init")
        seed(env, root / "storage" / "inbox", args.seed_messages)
        grow(db_path, args.messages)
        size = db_path.stat().st_size

        started = time.perf_counter()
        shutil.copyfile(db_path, root / "plain-copy.db")
        copy_seconds = time.perf_counter() - started
        (root / "plain-copy.db").unlink()

        startup = mailbot(env, "check-config")  # what every command costs before it does anything
        local = mailbot(env, "backup", "create", "--no-offsite", "--json")
        before = fingerprint(db_path)  # as the next snapshot will see it
        offsite = mailbot(env, "backup", "create", "--json")
        folder = Path(json.loads(str(offsite["stdout"]))["folder"])
        db_path.rename(root / "original.db")
        restored = mailbot(env, "backup", "restore", str(folder))
        after = fingerprint(db_path)
        differ = sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))
        same = not differ

    rows = {table: before[table][0] for table in GROWN}  # type: ignore[index]
    print(
        json.dumps(
            {
                "messages": rows,
                "database_mib": round(size / 2**20, 1),
                "plain_copy_s": round(copy_seconds, 2),
                "cli_startup_s": startup["seconds"],
                "backup_local": {k: v for k, v in local.items() if k != "stdout"},
                "backup_with_restic": {k: v for k, v in offsite.items() if k != "stdout"},
                "restore": {k: v for k, v in restored.items() if k != "stdout"},
                "backup_vs_plain_copy": round(float(local["seconds"]) / max(copy_seconds, 1e-3), 1),  # type: ignore[arg-type]
                "restored_identical": same,
                "cores": os.cpu_count(),
            }
        )
    )
    if not same:
        raise SystemExit(f"the restored database differs from the original in {', '.join(differ)}")


if __name__ == "__main__":
    main()
