"""The embedded "sender": outgoing mail lands in a local Maildir instead of an SMTP relay.

With no relay configured, a newcomer can read in ``storage/sent/`` exactly what would have been
sent. Delivery follows the Maildir protocol: write into ``tmp/``, fsync, then rename into
``new/``, so a reader never sees half a message and a crash leaves at most a stray file in
``tmp/``. The embedded SMTP listener uses :func:`deliver_to_maildir` for inbound mail too.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from mailbot.services.ports import PermanentDeliveryError, TemporaryDeliveryError

__all__ = ["MaildirMailer", "deliver_to_maildir", "ensure_maildir"]


def ensure_maildir(path: Path) -> None:
    """Create ``tmp``, ``new`` and ``cur`` (private to the service: mail is personal data)."""
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(parents=True, exist_ok=True, mode=0o700)


def _unique_name() -> str:
    host = socket.gethostname().replace("/", r"\057").replace(":", r"\072") or "localhost"
    return f"{time.time_ns()}.M{uuid.uuid4().hex}P{os.getpid()}.{host}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def deliver_to_maildir(path: Path, data: bytes) -> str:
    """Store ``data`` atomically in ``path/new`` and return the file's unique name.

    Durable before it returns (file and directory fsynced): callers acknowledge the message to
    someone else right after, so "returned" must mean "survives a power cut".
    """
    ensure_maildir(path)
    name = _unique_name()
    tmp = path / "tmp" / name
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.rename(tmp, path / "new" / name)
    _fsync_dir(path / "new")
    return name


class MaildirMailer:
    """A :class:`mailbot.services.ports.Mailer` that delivers into a local Maildir."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
        """Deliver one message; the envelope is recorded as ``Return-Path``/``X-Mailbot-Envelope-To``.

        Lines are stored with LF endings, as local Maildir readers expect.
        """
        envelope = [sender, *recipients]
        if not recipients or any(ch in value for value in envelope for ch in ("\r", "\n", "\x00", "<", ">")):
            raise PermanentDeliveryError("invalid envelope address")
        head = f"Return-Path: <{sender}>\r\n" + "".join(
            f"X-Mailbot-Envelope-To: <{rcpt}>\r\n" for rcpt in recipients
        )
        data = (head.encode("utf-8") + message).replace(b"\r\n", b"\n")
        try:
            deliver_to_maildir(self.path, data)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise TemporaryDeliveryError(f"maildir write failed: {reason}") from exc
