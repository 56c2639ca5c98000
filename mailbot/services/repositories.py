"""The storage ports: one repository per aggregate, all behind one unit of work.

Services get a ``UnitOfWork`` for one transaction and talk to it in mailbot's terms — customers,
tickets with their correspondence, the outbox, the mailbox's raw messages and cursor, the
quarantine, the audit trail. They hand in and get back plain values (``mailbot.domain.model``):
no ORM rows, no SQL, no ciphertext, no blind index. Sealing and opening happen inside the
repositories (``mailbot.adapters.db``), so a service cannot store personal data in the clear by
mistake, and a service test can run on any implementation of these protocols.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Generator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from mailbot.domain.audit_chain import ChainedEvent
from mailbot.domain.deadlines import Extension, Pause
from mailbot.domain.model import (
    AuditRecord,
    Customer,
    NewMessage,
    RecipientTaskView,
    StoredAttachment,
    StoredMessage,
    Ticket,
)
from mailbot.domain.retention import LedgerEntry, Retained
from mailbot.domain.staff_account import StaffAccount, StaffSession
from mailbot.services.ports import Cursor


class Conflict(Exception):
    """Another transaction recorded the same unique fact first (a step, a dedupe key): nothing of
    this transaction was kept, and the caller may treat the work as done by the other."""


@dataclass(frozen=True)
class StoredRaw:
    """A message as ingest stored it, opened for processing."""

    id: str
    raw: bytes
    received_at: datetime
    customer_id: str | None
    state: str


@dataclass(frozen=True)
class QuarantineEntry:
    id: int
    raw_id: str
    error: str
    attempts: int
    quarantined_at: datetime
    detail: str


@dataclass(frozen=True)
class MessageLink:
    """Where an earlier message was filed (for the possible-duplicate check)."""

    id: str
    ticket_id: str | None


@dataclass(frozen=True)
class OutgoingEntry:
    """A serialised mail to queue; ``automatic`` counts it against the per-address daily cap."""

    purpose: str
    payload: bytes
    sender: str
    recipients: tuple[str, ...]
    message_id: str
    automatic: bool
    ticket_id: str | None = None
    customer_id: str | None = None
    dedupe_key: str | None = None
    #: Sealed under a data key of its own, not the customer's: a letter that must outlive the
    #: customer's erasure (the erasure report), destroyed by the retention purge once sent.
    own_key: bool = False


@dataclass(frozen=True)
class ClaimedMail:
    """An outbox row taken for sending, locked until the transaction ends."""

    id: str
    purpose: str
    ticket_id: str | None
    payload: bytes
    sender: str
    recipients: tuple[str, ...]
    attempts: int
    created_at: datetime


@dataclass(frozen=True)
class MailRecord:
    """An outbox row's bookkeeping (no payload): for bounces and the digest's failed list."""

    id: str
    purpose: str
    ticket_id: str | None
    status: str
    last_error: str | None


class CustomerRepository(Protocol):
    def find_or_create(self, address: str, name: str | None, now: datetime) -> Customer: ...
    def get(self, customer_id: str) -> Customer | None: ...
    def by_address(self, address: str) -> Customer | None: ...
    def create(self, address: str, values: Mapping[str, str | None], source: str, now: datetime) -> Customer:
        """A new customer with ``values`` (by field name: name, company, address, phone)."""
        ...

    def set_fields(self, customer_id: str, values: Mapping[str, str | None]) -> list[str]:
        """Overwrite the given fields (None or "" clears one), keeping no old value; the names of
        the fields that changed."""
        ...


class MailboxRepository(Protocol):
    """Stage one: raw messages as received, and how far each source has been read (R-C16)."""

    def cursor(self, source: str) -> Cursor: ...
    def advance(self, source: str, cursor: Cursor, now: datetime) -> None: ...
    def is_stored(self, raw: bytes) -> bool:
        """True when these exact bytes were stored before (their keyed fingerprint is known)."""
        ...

    def add_if_new(
        self,
        *,
        source: str,
        key: str,
        raw: bytes,
        message_id: str | None,
        customer_id: str | None,
        received_at: datetime,
        now: datetime,
    ) -> str | None:
        """Store the raw bytes sealed; None when the same bytes were stored before (fingerprint)."""
        ...

    def pending_ids(self, limit: int) -> list[str]: ...
    def claim(self, raw_id: str) -> StoredRaw | None:
        """Lock a pending message for this transaction; None when it is not pending any more or
        another worker holds it (``FOR UPDATE SKIP LOCKED``), so two workers never process it both."""
        ...

    def mark_processed(self, raw_id: str, outcome: str, now: datetime) -> None: ...
    def record_failure(
        self, raw_id: str, error_kind: str, detail: str, max_attempts: int, now: datetime
    ) -> bool:
        """Count a failed attempt; quarantine after ``max_attempts``. True when quarantined."""
        ...

    def count(self) -> int: ...
    def of_customer(self, customer_id: str) -> list[StoredRaw]:
        """The customer's messages exactly as received, oldest first (for the access export)."""
        ...


class QuarantineRepository(Protocol):
    def entries(self) -> list[QuarantineEntry]: ...
    def release(self, quarantine_id: int, now: datetime) -> str | None: ...
    def count_open(self) -> int: ...


class TicketRepository(Protocol):
    def next_ref(self, prefix: str, year: int) -> str: ...
    def add(self, ticket: Ticket, subject: str, evidence: Sequence[str]) -> None: ...
    def get(self, ticket_id: str) -> Ticket | None: ...
    def by_ref(self, ref: str) -> Ticket | None: ...
    def save(self, ticket: Ticket) -> None: ...
    def subject(self, ticket: Ticket) -> str: ...
    def evidence(self, ticket: Ticket) -> list[str]: ...
    def is_participant(self, ticket_id: str, address: str) -> bool: ...
    def add_participant(self, ticket_id: str, address: str) -> None: ...
    def by_message_ids(self, message_ids: Sequence[str]) -> Ticket | None:
        """The ticket whose correspondence or outbox carries one of these Message-IDs."""
        ...

    def list(self, status: str | None = None, limit: int | None = None) -> list[Ticket]: ...
    # ``builtins.list``: the method ``list`` above shadows the builtin in this class's scope.
    def open_ids_with_deadlines(self, closed: Sequence[str]) -> builtins.list[str]: ...
    def open_tickets(self, closed: Sequence[str]) -> builtins.list[Ticket]: ...
    def refs(self, ticket_ids: Collection[str] | None = None) -> dict[str, str]:
        """Ticket id → reference, of these tickets (all when None)."""
        ...

    def of_customer(self, customer_id: str) -> builtins.list[Ticket]:
        """The customer's tickets, oldest first."""
        ...

    def closed_unpurged(self, closed_before: datetime, limit: int) -> builtins.list[Ticket]:
        """Closed/resolved tickets, not purged nor on legal hold, last changed before the bound."""
        ...


class MessageRepository(Protocol):
    def add(self, message: NewMessage) -> str: ...
    def of_customer(self, customer_id: str) -> list[StoredMessage]:
        """Every message sealed for this customer, on any ticket or none, oldest first."""
        ...

    def add_attachment(self, message_id: str, filename: str, content_type: str, content: bytes) -> None: ...
    def of_ticket(self, ticket_id: str) -> list[StoredMessage]: ...
    def attachments(self, message_id: str) -> list[StoredAttachment]: ...
    def automated(self, unattached_only: bool = False) -> list[StoredMessage]: ...
    def earlier_inbound(self, message_id: str, exclude_raw_id: str) -> MessageLink | None: ...
    def last_customer_message_id(self, ticket_id: str) -> str | None: ...
    def first_customer_raw(self, ticket_id: str) -> bytes | None:
        """The original bytes of the customer's first message on the ticket, opened (None once
        purged or erased)."""
        ...

    def filed_since(self, kinds: Sequence[str], since: datetime) -> list[tuple[str | None, str, datetime]]:
        """(ticket id, kind, received) of messages filed as ``kinds`` since ``since``."""
        ...


class OutboxRepository(Protocol):
    def add(self, entry: OutgoingEntry, now: datetime) -> str: ...
    def automatic_count_since(self, address: str, since: datetime) -> int: ...
    def first_message_id(self, ticket_id: str, purpose: str) -> str | None: ...
    def has_dedupe_key(self, key: str) -> bool: ...
    def claim_due(self, now: datetime) -> ClaimedMail | None: ...
    def mark_sent(self, mail_id: str, now: datetime) -> None: ...
    def defer(self, mail_id: str, until: datetime, error: str) -> None: ...
    def fail(self, mail_id: str, error: str) -> None: ...
    def bounce(self, message_ids: Sequence[str]) -> list[MailRecord]: ...
    def failed(self) -> list[MailRecord]: ...


class AuditRepository(Protocol):
    def record(
        self,
        kind: str,
        now: datetime,
        *,
        ticket_id: str | None = None,
        customer_id: str | None = None,
        actor: str = "mailbot",
        **detail: Any,
    ) -> None: ...
    def of_ticket(self, ticket_id: str) -> list[AuditRecord]: ...
    def last_at(self, kind: str) -> datetime | None: ...
    def ticket_ids_of(self, kind: str) -> list[str]:
        """Distinct tickets with at least one event of ``kind`` (e.g. staff reclassifications)."""
        ...

    def about(self, customer_id: str, ticket_ids: Sequence[str]) -> list[AuditRecord]:
        """Events about a customer or their tickets (for the access export)."""
        ...

    def chain(self, until_seq: int | None = None) -> Generator[ChainedEvent, None, None]:
        """Events with their chain links in sequence order, up to ``until_seq``; close it when done."""
        ...

    def head(self) -> tuple[int, str] | None:
        """The chain head: the last sequence number and hash; None before the first event."""
        ...


class StepRepository(Protocol):
    """Reminder/escalation steps, each recorded once under a unique key."""

    def keys_of(self, ticket_id: str) -> set[str]: ...
    def record(self, ticket_id: str, key: str, outcome: str, now: datetime) -> bool:
        """False when another sweep recorded the step first."""
        ...


class DecisionRepository(Protocol):
    """Extensions and pauses of a GDPR request's legal term."""

    def extensions_of(self, ticket_id: str) -> list[Extension]: ...
    def add_extension(
        self, ticket_id: str, customer_id: str, months: int, reason: str, now: datetime
    ) -> None: ...
    def pauses_of(self, ticket_id: str) -> list[Pause]: ...
    def has_open_pause(self, ticket_id: str) -> bool: ...
    def start_pause(self, ticket_id: str, now: datetime) -> None: ...
    def end_pause(self, ticket_id: str, now: datetime) -> bool: ...


class PrivacyRepository(Protocol):
    """Restriction flags, the suppression list (R-A15) and recipient tasks (R-A13)."""

    def set_restricted(self, customer_id: str, restricted: bool) -> bool: ...
    def suppress(self, address: str, now: datetime) -> bool: ...
    def is_suppressed(self, address: str) -> bool: ...
    def suppressed(self) -> builtins.list[tuple[str | None, datetime]]: ...
    def add_task(
        self, reference: str, ticket_id: str | None, recipient: str, action: str, now: datetime
    ) -> int: ...
    def open_tasks(self) -> builtins.list[RecipientTaskView]: ...
    def finish_task(self, task_id: int, actor: str, now: datetime) -> RecipientTaskView | None: ...


@dataclass(frozen=True)
class Shredded:
    """What ``ErasureRepository.shred`` removed (counts by kind) and the keyed hashes the erasure
    ledger keeps to do it again after a restore."""

    removed: Mapping[str, int]
    address_hash: str
    customer_hash: str
    data_key_id: int


class ErasureRepository(Protocol):
    """Crypto-shredding (R-D5), what a legal duty keeps (R-A12) and the erasure ledger."""

    def record(
        self, reference: str, requested_at: datetime, erased_at: datetime, outcome: str, retained: str
    ) -> str:
        """The minimal record of the request itself (reference, dates, outcome; no content)."""
        ...

    def retain(self, erasure_id: str, retained: Retained, now: datetime) -> None:
        """Keep what a duty requires, sealed under a retention key of its own (not the customer's)."""
        ...

    def shred(self, customer_id: str, now: datetime) -> Shredded:
        """Delete every row sealed under the customer's data key or about their tickets' content,
        blank their tickets' sealed fields, destroy the key, and leave a tombstone customer row."""
        ...

    def add_ledger(self, entry: LedgerEntry) -> None: ...
    def reapply(self, entry: LedgerEntry, now: datetime) -> Shredded | None:
        """Erase the ledger entry's person again if this (restored) database still holds them."""
        ...

    def was_erased(self, address: str) -> bool:
        """True when an erasure of this address is on the ledger (an import must not undo it)."""
        ...

    def purge_ticket(self, ticket_id: str, now: datetime) -> dict[str, int]:
        """Delete a closed ticket's correspondence; the ticket stays as a husk (``purged_at``)."""
        ...

    def purge(self, now: datetime, sent_before: datetime) -> dict[str, int]:
        """Destroy retained records whose term ended, and letters sealed apart that were sent
        before ``sent_before``; counts by kind."""
        ...


class LeaseRepository(Protocol):
    def acquire(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool: ...
    def release(self, name: str, holder: str) -> None: ...
    def holder_of(self, name: str, now: datetime) -> str | None: ...


class StaffAccountRepository(Protocol):
    """Web accounts of staff, their recovery codes and login sessions (issue 18). Secrets arrive
    and leave as plain values; the repository seals the TOTP secret."""

    def add(self, account: StaffAccount) -> None: ...
    def get(self, account_id: str) -> StaffAccount | None: ...
    def by_email(self, email: str) -> StaffAccount | None: ...
    def by_enrol_token(self, token_hash: str) -> StaffAccount | None: ...
    def save(self, account: StaffAccount) -> None: ...
    def all(self) -> builtins.list[StaffAccount]: ...
    def replace_recovery_codes(self, account_id: str, code_hashes: Sequence[str]) -> None: ...
    def use_recovery_code(self, account_id: str, code_hash: str, now: datetime) -> bool:
        """Mark an unused code used; False when there is none with this hash."""
        ...

    def unused_recovery_codes(self, account_id: str) -> int: ...
    def add_session(self, session: StaffSession) -> None: ...
    def find_session(self, token_hash: str) -> StaffSession | None: ...
    def save_session(self, session: StaffSession) -> None: ...
    def drop_session(self, token_hash: str) -> None: ...
    def drop_sessions_of(self, account_id: str) -> None: ...


class UnitOfWork(Protocol):
    """One transaction: everything done through it is committed together, or nothing is."""

    customers: CustomerRepository
    mailbox: MailboxRepository
    quarantine: QuarantineRepository
    tickets: TicketRepository
    messages: MessageRepository
    outbox: OutboxRepository
    audit: AuditRepository
    steps: StepRepository
    decisions: DecisionRepository
    leases: LeaseRepository
    privacy: PrivacyRepository
    erasures: ErasureRepository
    staff_accounts: StaffAccountRepository

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested transaction: an exception inside rolls back only what was done inside."""
        ...


class Database(Protocol):
    """Hands out one unit of work per transaction: commit on success, roll back on any exception.
    A unique fact recorded first by a concurrent transaction surfaces as ``Conflict``."""

    def transaction(self) -> AbstractContextManager[UnitOfWork]: ...
    def scrub(self) -> None:
        """Make deleted key material unrecoverable from the database files (after an erasure):
        SQLite checkpoints its WAL (deletes are zeroed by ``secure_delete``); PostgreSQL rewrites
        the data key table so no dead tuple keeps a destroyed key."""
        ...
