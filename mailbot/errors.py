"""What went wrong, in words a user reads: never a Python exception class name.

``plain_reason`` turns the errors of sockets, TLS and the mail libraries into a short phrase
("connection refused", "timed out", "TLS certificate not trusted (…)"); the adapters put it
after what they were doing and where ("IMAP connect to 127.0.0.1:993 failed (connection
refused)"), and the CLI prints that line.
"""

from __future__ import annotations

import errno
import socket
import ssl

_ERRNO = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by the server",
    errno.ETIMEDOUT: "timed out",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.EPIPE: "connection closed by the server",
}


def plain_reason(exc: BaseException) -> str:
    """A short lower-case phrase for ``exc``, without its class name."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = getattr(exc, "verify_message", None) or "verification failed"
        return f"TLS certificate not trusted ({detail}; CERTIFICATE_VERIFY_FAILED)"
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "reason", None) or exc.strerror or "handshake failed"
        return f"TLS error ({reason})"
    if isinstance(exc, socket.gaierror):
        return "host name not found"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, EOFError):
        return "connection closed by the server"
    if isinstance(exc, OSError) and exc.errno in _ERRNO:
        return _ERRNO[exc.errno]
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    text = str(exc).strip()
    return text.splitlines()[0] if text else "failed"


def error_kind_words(kind: str) -> str:
    """A recorded error kind (a class name such as ``UnparseableMail``) in words, "unparseable
    mail": lists of failed messages show what went wrong, not Python's name for it (issue 17)."""
    import re

    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", kind.rsplit(".", 1)[-1]).lower().split()
    if words and words[-1] in ("error", "exception"):
        words = words[:-1]
    return " ".join(words) or "processing failed"
