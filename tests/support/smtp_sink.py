"""A real SMTP server on loopback for tests: it records what arrives and can be told to fail.

Use the ``smtp_sink`` fixture (import it into a test module or a conftest), or ``SmtpSink`` directly
for TLS/AUTH variants::

    def test_x(smtp_sink):
        SmtpMailer("127.0.0.1", smtp_sink.port, "plain").send(...)
        [got] = smtp_sink.wait_for(1)

``fail_with(code, text, count)`` answers the next ``count`` messages with that reply (at DATA, RCPT
or MAIL); ``stop()`` then ``start()`` takes the server away and brings it back on the same port,
to simulate an outage.
"""

from __future__ import annotations

import email.policy
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

Stage = Literal["mail", "rcpt", "data"]


@dataclass(frozen=True)
class Delivered:
    """One accepted message: envelope and raw bytes as the server received them."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    authenticated_as: str | None = None
    tls: bool = False
    #: The client's (host, port): mails with the same peer came over one connection.
    peer: tuple[str, int] | None = None

    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=email.policy.default).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        failure = self.sink._take_failure("mail")
        if failure:
            return failure
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        failure = self.sink._take_failure("rcpt")
        if failure:
            return failure
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        failure = self.sink._take_failure("data")
        if failure:
            return failure
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        self.sink._record(
            Delivered(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                data=bytes(envelope.original_content or b""),
                authenticated_as=login,
                tls=session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
                peer=tuple(session.peer[:2]) if session.peer else None,
            )
        )
        return "250 2.0.0 OK"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class _ClosingController(Controller):
    """A Controller that closes its clients' connections when it stops. aiosmtpd stops listening
    and cancels its tasks, but leaves open connections to the garbage collector, whose
    "unclosed socket" warnings then fail whichever test happens to be running (a relay that goes
    down mid-session is exactly what the fault tests do)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sessions: weakref.WeakSet[Any] = weakref.WeakSet()

    def factory(self) -> Any:
        session = super().factory()
        self._sessions.add(session)
        return session

    def stop(self, no_assert: bool = False) -> None:
        def close_all() -> None:
            for session in list(self._sessions):
                transport = getattr(session, "transport", None)
                if transport is not None:
                    transport.abort()  # a relay going down does not say goodbye

        if self.loop.is_running():
            done = threading.Event()
            self.loop.call_soon_threadsafe(lambda: (close_all(), done.set()))
            done.wait(2)
        super().stop(no_assert=no_assert)


class SmtpSink:
    """aiosmtpd on 127.0.0.1, thread-safe record of what arrived.

    ``tls_context``: offer STARTTLS with this server context (``require_starttls`` makes it
    mandatory); ``ssl_context``: implicit TLS. ``credentials=(user, password)`` enables AUTH (only
    after STARTTLS, as aiosmtpd insists).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls_context: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port or _free_port(host)
        self._tls_context = tls_context
        self._require_starttls = require_starttls
        self._ssl_context = ssl_context
        self._credentials = credentials
        self._lock = threading.Condition()
        self._delivered: list[Delivered] = []
        self._failures: list[tuple[Stage, str]] = []
        self._controller: Controller | None = None

    # -- control ---------------------------------------------------------------------------------

    def start(self) -> SmtpSink:
        if self._controller is not None:
            return self
        kwargs: dict[str, Any] = {}
        if self._tls_context is not None:
            kwargs["tls_context"] = self._tls_context
            kwargs["require_starttls"] = self._require_starttls
        if self._credentials is not None:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_require_tls"] = True
        controller = _ClosingController(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            ssl_context=self._ssl_context,
            server_hostname="sink.localhost",
            **kwargs,
        )
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def fail_with(self, code: int, text: str, count: int = 1, stage: Stage = "data") -> None:
        """Answer the next ``count`` commands at ``stage`` with ``code text`` instead of accepting."""
        with self._lock:
            self._failures.extend([(stage, f"{code} {text}")] * count)

    def clear(self) -> None:
        with self._lock:
            self._delivered.clear()
            self._failures.clear()

    # -- observation -----------------------------------------------------------------------------

    @property
    def messages(self) -> list[Delivered]:
        with self._lock:
            return list(self._delivered)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Delivered]:
        """Block until ``count`` messages arrived (or fail the test after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._delivered) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pytest.fail(f"SMTP sink: {len(self._delivered)} of {count} messages after {timeout}s")
                self._lock.wait(remaining)
            return list(self._delivered)

    # -- called from the server thread -----------------------------------------------------------

    def _take_failure(self, stage: Stage) -> str | None:
        with self._lock:
            for index, (failing_stage, reply) in enumerate(self._failures):
                if failing_stage == stage:
                    del self._failures[index]
                    return reply
        return None

    def _record(self, delivered: Delivered) -> None:
        with self._lock:
            self._delivered.append(delivered)
            self._lock.notify_all()

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            self._credentials is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login.decode(), auth_data.password.decode()) == self._credentials
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A started plain SMTP sink on a free loopback port, stopped after the test."""
    sink = SmtpSink().start()
    try:
        yield sink
    finally:
        sink.stop()
