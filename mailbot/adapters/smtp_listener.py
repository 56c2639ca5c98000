"""The embedded inbound SMTP listener (aiosmtpd): mail without a mail server.

Every accepted message is written into a Maildir (``tmp/``, fsync, rename into ``new/``) *before*
the listener answers 250, so a message the sending server believes delivered is on disk; the
Maildir source then ingests it like any other. If the write fails the answer is 451 and the
sender keeps the message and retries.

Each stored message starts with a ``Received`` line, ``X-Mailbot-Received-At`` (UTC, ISO 8601:
the arrival time the deadlines count from when a source has no INTERNALDATE, R-A1) and a
``Return-Path`` with the envelope sender (R-C2: a null sender ``<>`` means "never answer").

Hardening: messages over ``max_size`` (default 25 MB) get 552; aiosmtpd (≥ 1.4.5) ends DATA only
at ``CRLF.CRLF``, and messages with a bare LF or bare CR are refused with 550 (the raw material
of SMTP smuggling; a real mail server sends CRLF). More than ``max_recipients`` (100) RCPT TO get
452, and beyond ``max_connections`` (20) concurrent connections a new one gets 421 and is closed
(issue 13). Binding beyond loopback is refused by the configuration (no authentication here).
"""

from __future__ import annotations

import asyncio
import re
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from mailbot.adapters.maildir_sender import deliver_to_maildir, ensure_maildir

__all__ = ["DEFAULT_MAX_SIZE", "EmbeddedListener"]

DEFAULT_MAX_SIZE = 25 * 1024 * 1024
#: Issue 13: one message is for info@; a hundred recipients is a relay attempt, not a customer.
DEFAULT_MAX_RECIPIENTS = 100
#: Issue 13: a flood of idle connections must not exhaust file descriptors of the whole service.
DEFAULT_MAX_CONNECTIONS = 20
_BARE_LF = re.compile(rb"(?<!\r)\n|\r(?!\n)")
_SAFE_TOKEN = re.compile(r"[^A-Za-z0-9.\-\[\]:_]")
_UNSAFE_PATH = re.compile(r"[\s<>\x00-\x1f\x7f]")


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class _InboxHandler:
    """aiosmtpd handler: store, then answer."""

    def __init__(
        self,
        inbox_dir: Path,
        max_size: int,
        reject_bare_lf: bool,
        clock: Callable[[], datetime],
        hostname: str,
    ) -> None:
        self.inbox_dir = inbox_dir
        self.max_size = max_size
        self.reject_bare_lf = reject_bare_lf
        self.clock = clock
        self.hostname = hostname
        self.max_recipients = DEFAULT_MAX_RECIPIENTS

    def _trace(self, session: Any, envelope: Any, queue_id: str) -> bytes:
        now = self.clock().astimezone(UTC)
        helo = _SAFE_TOKEN.sub("?", str(session.host_name or "unknown"))[:255]
        peer = session.peer[0] if isinstance(session.peer, tuple) else "local"
        proto = "ESMTP" if session.extended_smtp else "SMTP"
        if session.ssl is not None:
            proto += "S"
        if session.authenticated:
            proto += "A"
        lines = [
            f"Received: from {helo} ([{_SAFE_TOKEN.sub('?', str(peer))}])\r\n"
            f"\tby {self.hostname} (mailbot) with {proto} id {queue_id};\r\n"
            f"\t{format_datetime(now)}\r\n",
            f"X-Mailbot-Received-At: {now.isoformat().replace('+00:00', 'Z')}\r\n",
        ]
        sender = envelope.mail_from or ""
        if sender == "<>":  # aiosmtpd keeps the null reverse-path as written
            sender = ""
        if not _UNSAFE_PATH.search(sender):
            lines.insert(0, f"Return-Path: <{sender}>\r\n")
        return "".join(lines).encode("utf-8")

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data: bytes = envelope.original_content or b""
        if len(data) > self.max_size:
            return "552 5.3.4 Message size exceeds fixed maximum message size"
        if self.reject_bare_lf and _BARE_LF.search(data):
            return "550 5.6.11 Bare LF or CR in message refused (see SMTP smuggling); use CRLF"
        queue_id = uuid.uuid4().hex[:16]
        stored = self._trace(session, envelope, queue_id) + data
        try:
            await asyncio.get_running_loop().run_in_executor(None, deliver_to_maildir, self.inbox_dir, stored)
        except OSError:
            return "451 4.3.0 Local storage error, please try again later"
        return f"250 2.0.0 OK queued as {queue_id}"


class _CappedSMTP(SMTP):
    """aiosmtpd's SMTP session, refusing with 421 beyond ``cap`` concurrent connections."""

    def __init__(self, handler: Any, *, open_count: list[int], cap: int, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._open_count = open_count
        self._cap = cap

    def connection_made(self, transport: Any) -> None:
        self._open_count[0] += 1
        super().connection_made(transport)
        if self._open_count[0] > self._cap:
            transport.write(b"421 4.7.0 Too many connections, try again later\r\n")
            transport.close()

    def connection_lost(self, error: Exception | None) -> None:
        self._open_count[0] -= 1
        super().connection_lost(error)


class _CappedController(Controller):
    def __init__(self, handler: Any, *, max_connections: int, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._open_count = [0]
        self._cap = max_connections

    def factory(self) -> SMTP:
        return _CappedSMTP(self.handler, open_count=self._open_count, cap=self._cap, **self.SMTP_kwargs)


class EmbeddedListener:
    """Receives mail on ``host:port`` into the Maildir ``inbox_dir``.

    ``port=0`` picks a free port (read :attr:`port` after :meth:`start`). The listener binds to
    loopback by default: it stores whatever it is sent, so exposing it is a deliberate choice.
    """

    def __init__(
        self,
        host: str,
        port: int,
        inbox_dir: Path,
        max_size: int = DEFAULT_MAX_SIZE,
        *,
        reject_bare_lf: bool = True,
        clock: Callable[[], datetime] | None = None,
        server_hostname: str | None = None,
        max_recipients: int = DEFAULT_MAX_RECIPIENTS,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.max_recipients = max_recipients
        self.max_connections = max_connections
        self.host = host
        self.port = port
        self.inbox_dir = Path(inbox_dir)
        self.max_size = max_size
        self.reject_bare_lf = reject_bare_lf
        self._clock = clock or (lambda: datetime.now(UTC))
        self.server_hostname = server_hostname or "mailbot.localhost"
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        if self._controller is not None:
            return
        ensure_maildir(self.inbox_dir)
        if self.port == 0:
            self.port = _free_port(self.host)
        handler = _InboxHandler(
            self.inbox_dir, self.max_size, self.reject_bare_lf, self._clock, self.server_hostname
        )
        handler.max_recipients = self.max_recipients
        controller = _CappedController(
            handler,
            max_connections=self.max_connections,
            hostname=self.host,
            port=self.port,
            server_hostname=self.server_hostname,
            data_size_limit=self.max_size,
            enable_SMTPUTF8=True,
            decode_data=False,
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> EmbeddedListener:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
