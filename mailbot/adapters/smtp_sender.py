"""Outgoing mail over SMTP (smtplib), with every failure sorted into "retry" or "give up".

The outbox drain decides what to do with a row from the exception type alone:
:class:`TemporaryDeliveryError` (connection refused/reset, timeouts, disconnects, 4xx) is retried
with backoff; :class:`PermanentDeliveryError` (5xx, every recipient refused with 5xx) marks the row
failed with the server's answer. The answer is kept as ``detail`` with e-mail addresses masked,
because servers like to echo the recipient and ``detail`` ends up in logs and the digest.

TLS follows RFC 8314 (R-C20): ``tls`` is implicit TLS (port 465), ``starttls`` requires the server
to offer STARTTLS and refuses to continue in plaintext when it does not (a stripped STARTTLS is
an attack or a misconfiguration, and either way our mail must not go out in the clear); ``plain``
is for a relay on loopback only. Certificates are verified with ``ssl.create_default_context()``.

Duplicates: smtplib sends the message and waits for the server's 250. If the connection breaks
after the server accepted the data but before we read the 250, we report a temporary failure and
the message goes out again on retry. That window is one network round trip; it is inherent to
SMTP and documented for the outbox (the lead's drain loop marks a row sent immediately after
``send`` returns, in its own short transaction).
"""

from __future__ import annotations

import contextlib
import re
import select
import smtplib
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Literal

from mailbot.errors import plain_reason
from mailbot.services.ports import PermanentDeliveryError, TemporaryDeliveryError

__all__ = ["Security", "SmtpMailer"]

Security = Literal["tls", "starttls", "plain"]
_Work = Callable[[smtplib.SMTP], None]
_ADDRESS = re.compile(r"[^\s<>@\"']+@[^\s<>@\"']+")


def _mask(text: str) -> str:
    """The server's answer without e-mail addresses (they are personal data)."""
    return _ADDRESS.sub("<address>", text)


def _answer(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return _mask(f"{code} {' '.join(text.split())}".strip())


def _by_code(code: int, detail: str) -> TemporaryDeliveryError | PermanentDeliveryError:
    if 500 <= code < 600:
        return PermanentDeliveryError(detail)
    return TemporaryDeliveryError(detail)


class SmtpMailer:
    """A :class:`mailbot.services.ports.SessionMailer` over SMTP: one connection per message, or
    one for many inside ``session()`` (the outbox drain).

    A fresh connection per mail cost a TCP (and TLS) handshake, EHLO and QUIT each time: three of
    its five round trips. Inside a session the connection is kept from one mail to the next and
    dropped on any failure, so a broken session never carries over; before reuse a zero-timeout
    select makes sure the server has not hung up or sent a 421 meanwhile. Each mail is still its
    own MAIL/RCPT/DATA, answered before the outbox marks it sent: the exactly-once accounting is
    unchanged. Sends are serialised (one connection, one lock). ``ssl_context`` exists for tests
    with a private CA; production uses the default context.
    """

    def __init__(
        self,
        host: str,
        port: int,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        *,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in ("tls", "starttls", "plain"):
            raise ValueError(f"unknown SMTP security {security!r}")
        if username and password is None:
            raise ValueError("SMTP username without password")
        self.host = host
        self.port = port
        self.security: Security = security
        self.username = username
        self.password = password
        self.timeout = timeout
        self.local_hostname = local_hostname
        self._ssl_context = ssl_context
        self._lock = threading.RLock()
        self._smtp: smtplib.SMTP | None = None
        self._sessions = 0

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context if self._ssl_context is not None else ssl.create_default_context()

    def _open(self) -> smtplib.SMTP:
        """Connect, secure and authenticate; the caller closes the connection."""
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=self._context(),
            )
        else:
            smtp = smtplib.SMTP(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
            )
        try:
            smtp.ehlo()
            if self.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise TemporaryDeliveryError("server does not offer STARTTLS; not sending in plaintext")
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if self.username:
                assert self.password is not None
                smtp.login(self.username, self.password)
        except BaseException:
            _close(smtp)
            raise
        return smtp

    def _connection(self) -> smtplib.SMTP:
        """The session's open connection if it is still good, else a new one."""
        if self._smtp is not None and not _idle_and_open(self._smtp):
            self._drop(polite=False)  # the server said something unasked (421) or hung up
        if self._smtp is None:
            self._smtp = self._open()
        return self._smtp

    def _drop(self, *, polite: bool) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            if polite:
                _quit(smtp)
            else:
                _close(smtp)

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Mails sent inside share one connection (QUIT at the end); other threads wait."""
        with self._lock:
            self._sessions += 1
            try:
                yield
            finally:
                self._sessions -= 1
                if not self._sessions:
                    self._drop(polite=True)

    def _run(self, action: str, work: _Work, *, keep: bool = True) -> None:
        with self._lock:
            try:
                self._attempt(action, work)
            except BaseException:
                self._drop(polite=False)  # whatever state the connection is in, it is not reused
                raise
            if not (keep and self._sessions):
                self._drop(polite=True)

    def _attempt(self, action: str, work: _Work) -> None:
        try:
            work(self._connection())
        except (TemporaryDeliveryError, PermanentDeliveryError):
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(_answer(code, msg) for code, msg in exc.recipients.values())
            if codes and all(400 <= code < 500 for code in codes):
                raise TemporaryDeliveryError(f"{action}: recipients refused: {detail}") from None
            raise PermanentDeliveryError(f"{action}: recipients refused: {detail}") from None
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, f"{action}: {_answer(exc.smtp_code, exc.smtp_error)}") from None
        except smtplib.SMTPServerDisconnected as exc:
            raise TemporaryDeliveryError(f"{action}: server disconnected: {_mask(str(exc))}") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise TemporaryDeliveryError(f"{action}: not supported by server: {_mask(str(exc))}") from None
        except smtplib.SMTPException as exc:
            raise TemporaryDeliveryError(f"{action}: {_mask(plain_reason(exc))}") from None
        except TimeoutError:
            raise TemporaryDeliveryError(f"{action}: timed out after {self.timeout:g}s") from None
        except ssl.SSLError as exc:
            raise TemporaryDeliveryError(f"{action}: {plain_reason(exc)}") from None
        except OSError as exc:
            raise TemporaryDeliveryError(f"{action}: {plain_reason(exc)}") from None

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
        """Send one serialised message; raises Temporary/PermanentDeliveryError.

        If only some recipients are refused the message has already gone to the others, so a
        retry would double it: that is reported as permanent, with the refusals as detail.
        """
        if not recipients:
            raise PermanentDeliveryError("no recipients")

        def work(smtp: smtplib.SMTP) -> None:
            refused = smtp.sendmail(sender, list(recipients), message)
            if refused:
                detail = "; ".join(_answer(code, msg) for code, msg in refused.values())
                raise PermanentDeliveryError(f"send: some recipients refused: {detail}")

        self._run("send", work)

    def check_connection(self) -> str:
        """Connect, secure, authenticate and say NOOP: for ``check-config --connect``.

        Returns a short description of what worked; raises like :meth:`send` when it does not.
        """

        def work(smtp: smtplib.SMTP) -> None:
            code, msg = smtp.noop()
            if code != 250:
                raise _by_code(code, f"noop: {_answer(code, msg)}")

        self._run("connect", work, keep=False)
        auth = ", authenticated" if self.username else ""
        return f"SMTP {self.host}:{self.port} ({self.security}{auth}) OK"


def _idle_and_open(smtp: smtplib.SMTP) -> bool:
    """A kept session is only reused when nothing is waiting to be read: a server that timed it
    out or is shutting down has sent a 421 or closed the socket, which makes it readable. No
    round trip: a select with zero timeout."""
    sock = smtp.sock
    if sock is None:
        return False
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        _close(smtp)


def _close(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        smtp.close()
