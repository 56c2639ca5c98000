"""A local Maildir as a mail source: the embedded default (the SMTP listener delivers into it).

Messages are read from ``new/`` and, once committed, moved to ``cur/`` with the Seen flag, so the
Maildir itself records what was processed. The arrival time is the file's modification time (the
moment the listener or MTA delivered it), the Maildir analogue of IMAP's INTERNALDATE (R-A1).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from mailbot.services.ports import OVERSIZE_PREFIX_BYTES, Batch, Cursor, IncomingMessage


def ensure_maildir(path: Path) -> None:
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(parents=True, exist_ok=True)


class MaildirSource:
    def __init__(self, path: Path, batch_size: int = 200, max_message_bytes: int | None = None) -> None:
        self.path = path
        self.batch_size = batch_size
        self.max_message_bytes = max_message_bytes
        self.name = f"maildir:{path.resolve()}"[:255]
        ensure_maildir(path)

    def batches(self, cursor: Cursor) -> Iterator[Batch]:
        names = sorted(entry.name for entry in os.scandir(self.path / "new") if entry.is_file())
        for start in range(0, len(names), self.batch_size):
            messages = []
            for name in names[start : start + self.batch_size]:
                file = self.path / "new" / name
                try:
                    messages.append(self._read(file))
                except FileNotFoundError:  # taken by a concurrent reader; it will be committed there
                    continue
            yield Batch(messages=messages, cursor=cursor)

    def _read(self, file: Path) -> IncomingMessage:
        """The file as a message; over the maximum only its first bytes, never the whole (issue 13)."""
        stat = file.stat()
        arrived = datetime.fromtimestamp(stat.st_mtime, UTC)
        key = file.name.split(":", 1)[0][:64]
        if self.max_message_bytes is None or stat.st_size <= self.max_message_bytes:
            return IncomingMessage(key=key, raw=file.read_bytes(), received_at=arrived)
        with file.open("rb") as handle:
            prefix = handle.read(OVERSIZE_PREFIX_BYTES)
        return IncomingMessage(key=key, raw=prefix, received_at=arrived, full_size=stat.st_size)

    def done(self, messages: Sequence[IncomingMessage]) -> None:
        new = self.path / "new"
        for message in messages:
            for candidate in new.glob(f"{message.key}*"):
                target = self.path / "cur" / f"{candidate.name.split(':', 1)[0]}:2,S"
                with contextlib.suppress(FileNotFoundError):
                    os.replace(candidate, target)

    def close(self) -> None:
        return None
