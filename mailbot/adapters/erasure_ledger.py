"""The erasure ledger file: one JSON line per erasure, beside the keys, never in the database.

A restored backup is older than the ledger: the database's own copy of the ledger is as old as
the backup, so the file is what remembers who was erased since (R-D5, R-D10). Lines hold keyed
hashes and a key id only. Each append is flushed and fsynced before the erasure commits; a torn
last line (a crash mid-write) is skipped on reading, and the next append starts a fresh line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mailbot.domain.retention import LedgerEntry

#: Its name beside the keys, and in a backup folder (a backup carries the ledger of its time).
LEDGER_FILE = "erasure-ledger.jsonl"


class FileErasureLedger:
    """Implements ``mailbot.services.ports.ErasureLedgerFile``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, entry: LedgerEntry) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        line = json.dumps(entry.as_json(), sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            if os.fstat(fd).st_size and not self._ends_with_newline():
                line = "\n" + line
            os.write(fd, line.encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"

    def entries(self) -> list[LedgerEntry]:
        return read_ledger(self.path)


def read_ledger(path: Path) -> list[LedgerEntry]:
    """The entries of a ledger file (none when it does not exist); unreadable lines are skipped."""
    if not path.exists():
        return []
    found: list[LedgerEntry] = []
    for line in path.read_text(encoding="ascii", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            found.append(LedgerEntry.from_json(json.loads(line)))
        except (ValueError, KeyError, TypeError):
            continue  # a torn line from a crash mid-append
    return found
