"""The seams between use cases and the outside world.

Services depend on these protocols; ``bootstrap`` hands in the adapters that implement them
(IMAP, Maildir, SMTP, the clock), and tests hand in fakes or real loopback servers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from mailbot.domain.retention import LedgerEntry


@dataclass(frozen=True)
class IncomingMessage:
    """Raw bytes plus the stable key the source knows them by.

    ``key`` is unique within the source and survives reconnects (IMAP: ``"<uidvalidity>:<uid>"``,
    R-C16; Maildir: the file's unique name). ``received_at`` is the server's INTERNALDATE (R-A1)
    or None when the source has none (then the time of arrival at mailbot is used).
    """

    key: str
    raw: bytes
    received_at: datetime | None = None
    #: Set when the message is over the configured maximum size: ``raw`` is then only its first
    #: :data:`OVERSIZE_PREFIX_BYTES` (headers and the start of the body, for staff to see who wrote)
    #: and this is the full size the source reported. Such a message is quarantined at intake,
    #: never loaded whole (issue 13); the whole message stays at the source.
    full_size: int | None = None


#: How much of an over-size message a source reads: enough for the headers of any real mail.
OVERSIZE_PREFIX_BYTES = 64 * 1024


@dataclass(frozen=True)
class Cursor:
    """How far a source has been read (IMAP: UIDVALIDITY and the highest stored UID)."""

    validity: int = 0
    last_uid: int = 0


@dataclass(frozen=True)
class Batch:
    """Messages fetched together, and the cursor to store once they are committed."""

    messages: Sequence[IncomingMessage]
    cursor: Cursor


class Source(Protocol):
    """Where mail comes from. Fetching must not change the source (R-C17: BODY.PEEK)."""

    name: str

    def batches(self, cursor: Cursor) -> Iterator[Batch]:
        """Yield batches of messages newer than ``cursor``.

        A source whose validity changed (IMAP UIDVALIDITY, R-C16) ignores ``cursor.last_uid`` and
        yields everything again with the new validity: ingest deduplicates by fingerprint.
        """
        ...

    def done(self, messages: Sequence[IncomingMessage]) -> None:
        """Move or flag messages at the source. Called only after they are committed."""
        ...

    def close(self) -> None: ...


class Clock(Protocol):
    def __call__(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class Mailer(Protocol):
    """Delivers one serialised message; raises TemporaryDeliveryError or PermanentDeliveryError."""

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None: ...


@runtime_checkable
class SessionMailer(Mailer, Protocol):
    """A mailer that can keep one connection for many messages (SMTP): the drain opens a session
    around its rows, each still sent, answered and accounted one by one."""

    def session(self) -> AbstractContextManager[None]: ...


class DeliveryError(Exception):
    """Base for delivery failures; ``detail`` is the server's answer (no personal data)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class TemporaryDeliveryError(DeliveryError):
    """Connection refused, timeout, 4xx: retry later with backoff."""


class PermanentDeliveryError(DeliveryError):
    """5xx: give up, mark the outbox row failed, alert staff."""


class ErasureLedgerFile(Protocol):
    """The erasure ledger kept outside the database (beside the keys), so that restoring an older
    backup can erase again everyone erased since (R-D5, R-D10). Entries hold keyed hashes only."""

    def append(self, entry: LedgerEntry) -> None:
        """Add the entry durably (fsync) before the erasure commits."""
        ...

    def entries(self) -> list[LedgerEntry]: ...


class PasswordHasher(Protocol):
    """A slow, salted password hash (argon2id in production)."""

    def hash(self, password: str) -> str: ...
    def verify(self, hashed: str, password: str) -> bool:
        """False for a wrong password (never raises for one)."""
        ...


class StrengthMeter(Protocol):
    def __call__(self, password: str, user_inputs: Sequence[str]) -> int:
        """A guessability score from 0 (guessed at once) to 4 (zxcvbn's scale)."""
        ...


class Authenticator(Protocol):
    """Time-based one-time passwords (RFC 6238) for the second login factor."""

    def new_secret(self) -> str: ...
    def matching_step(self, secret: str, code: str, now: datetime) -> int | None:
        """The time step whose code ``code`` is (this one or its neighbours, for clock drift), or
        None when it matches none."""
        ...

    def uri(self, secret: str, account: str, issuer: str) -> str:
        """The ``otpauth://`` URI an authenticator app reads from the QR code."""
        ...
