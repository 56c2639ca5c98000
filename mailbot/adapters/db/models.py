"""SQLAlchemy 2 models: the whole schema, SQLite and PostgreSQL alike.

Every column that can hold personal data ends in ``_enc`` and holds an AES-GCM ciphertext sealed
with the owner's data key (see ``vault.py``); look-ups go through keyed blind indexes (``*_index``).
Primary keys of encrypted rows are UUIDs generated client-side, because the row id is part of the
associated data and must be known before the first flush.

The schema already has the tables later stages need (deadline steps, extensions, pauses, leases)
so that they arrive as features, not as rework of the core.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mailbot.domain.model import new_id


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (which has no time zones) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: mailbot stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class DataKey(Base):
    """A wrapped data key (DEK). Deleting the row crypto-shreds everything sealed under it (R-D5)."""

    __tablename__ = "data_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(16))  # "customer" or "system"
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    destroyed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    address_index: Mapped[str] = mapped_column(String(64), unique=True)
    data_key_id: Mapped[int] = mapped_column(ForeignKey("data_keys.id"))
    address_enc: Mapped[bytes] = mapped_column(LargeBinary)
    name_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    company_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    postal_address_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: "mail" (first seen writing to us) or "import" (from the customer administration).
    source: Mapped[str] = mapped_column(String(16), default="mail", server_default="mail")
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class TicketSequence(Base):
    """Last number handed out per prefix and year; never reused."""

    __tablename__ = "ticket_sequences"
    prefix: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Ticket(Base):
    __tablename__ = "tickets"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    category: Mapped[str] = mapped_column(String(24), index=True)
    secondary: Mapped[str | None] = mapped_column(String(24), nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    triage: Mapped[bool] = mapped_column(Boolean, default=False)
    rule: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float)
    evidence_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    subject_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    assignee: Mapped[str | None] = mapped_column(String(64), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    first_response_due: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)
    first_responded_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    legal_due: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)
    legal_due_unpaused: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    internal_due: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    resolution_due: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    identity_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    identity_method: Mapped[str | None] = mapped_column(String(64), nullable=True)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    purged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class TicketParticipant(Base):
    """Addresses (blind-indexed) allowed to thread onto a ticket by subject reference alone."""

    __tablename__ = "ticket_participants"
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    address_index: Mapped[str] = mapped_column(String(64), primary_key=True)


class RawMessage(Base):
    """Stage one: the message exactly as received, sealed, before anything interprets it."""

    __tablename__ = "raw_messages"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    source: Mapped[str] = mapped_column(String(255))
    source_key: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    message_id_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), nullable=True, index=True)
    data_key_id: Mapped[int] = mapped_column(ForeignKey("data_keys.id"))
    raw_enc: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ingested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(16), index=True)
    outcome: Mapped[str | None] = mapped_column(String(24), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_kind: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Message(Base):
    """Correspondence on a ticket (or unattached automated mail), inbound and outbound."""

    __tablename__ = "messages"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    ticket_id: Mapped[str | None] = mapped_column(ForeignKey("tickets.id"), nullable=True, index=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), nullable=True, index=True)
    raw_message_id: Mapped[str | None] = mapped_column(ForeignKey("raw_messages.id"), nullable=True)
    data_key_id: Mapped[int] = mapped_column(ForeignKey("data_keys.id"))
    direction: Mapped[str] = mapped_column(String(8))  # "in" or "out"
    kind: Mapped[str] = mapped_column(String(24))  # customer, automated, acknowledgement, staff, notice
    category: Mapped[str | None] = mapped_column(String(24), nullable=True)
    rule: Mapped[str | None] = mapped_column(String(64), nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    message_id_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    automated: Mapped[bool] = mapped_column(Boolean, default=False)
    possible_duplicate: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    subject_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    body_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    sender_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    recipients_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    meta_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class Attachment(Base):
    __tablename__ = "attachments"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    data_key_id: Mapped[int] = mapped_column(ForeignKey("data_keys.id"))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    filename_enc: Mapped[bytes] = mapped_column(LargeBinary)
    content_enc: Mapped[bytes] = mapped_column(LargeBinary)


class Outbox(Base):
    """Transactional outbox: written with the ticket, drained by the sender (deliver.py)."""

    __tablename__ = "outbox"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    ticket_id: Mapped[str | None] = mapped_column(ForeignKey("tickets.id"), nullable=True, index=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), nullable=True)
    data_key_id: Mapped[int] = mapped_column(ForeignKey("data_keys.id"))
    purpose: Mapped[str] = mapped_column(String(32))
    automatic: Mapped[bool] = mapped_column(Boolean, default=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    recipient_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    payload_enc: Mapped[bytes] = mapped_column(LargeBinary)
    envelope_enc: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class MailboxState(Base):
    """Per-source cursor (R-C16): advanced in the same transaction as the stored messages."""

    __tablename__ = "mailbox_state"
    source: Mapped[str] = mapped_column(String(255), primary_key=True)
    validity: Mapped[int] = mapped_column(BigInteger, default=0)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    resyncs: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Quarantine(Base):
    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    raw_message_id: Mapped[str] = mapped_column(ForeignKey("raw_messages.id"), unique=True)
    error_kind: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer)
    quarantined_at: Mapped[datetime] = mapped_column(UtcDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AuditEvent(Base):
    """What happened, when, to which ticket (R-A18). ``detail`` never holds personal data.

    Chained (``domain/audit_chain.py``): ``hash`` covers the event and ``prev_hash``; ``seq`` is
    handed out under the lock on ``audit_head``, so the chain has one order even with two writers."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    kind: Mapped[str] = mapped_column(String(48))
    ticket_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    customer_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    actor: Mapped[str] = mapped_column(String(64), default="mailbot")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AuditHead(Base):
    """The chain's last link (one row, id 1). Appends lock it, so they are serialised; it also
    shows when events were cut off the end of the chain."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class Erasure(Base):
    """The minimal record of an erasure request that stays (R-A12): reference, dates, outcome and the
    names of the retention duties that kept something; no content, no address."""

    __tablename__ = "erasures"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    erased_at: Mapped[datetime] = mapped_column(UtcDateTime)
    outcome: Mapped[str] = mapped_column(String(24))
    retained: Mapped[str] = mapped_column(String(255), default="")


class ErasureLedgerEntry(Base):
    """Keyed hashes of who was erased and which data key was destroyed, so an erasure can be
    re-applied after a backup restore (R-D5, R-D10). No plaintext."""

    __tablename__ = "erasure_ledger"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    erasure_id: Mapped[str] = mapped_column(String(36))
    address_hash: Mapped[str] = mapped_column(String(64), index=True)
    customer_hash: Mapped[str] = mapped_column(String(64), index=True)
    data_key_id: Mapped[int] = mapped_column(Integer)


class RetainedRecord(Base):
    """What a legal retention duty keeps after erasure (R-A12: e.g. invoice data, seven years),
    sealed under its own retention key that erasure does not destroy (R-D5)."""

    __tablename__ = "retained_records"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    erasure_id: Mapped[str] = mapped_column(ForeignKey("erasures.id"), index=True)
    duty: Mapped[str] = mapped_column(String(48))
    data_key_id: Mapped[int] = mapped_column(ForeignKey("data_keys.id"))
    fields_enc: Mapped[bytes] = mapped_column(LargeBinary)
    retain_until: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Suppression(Base):
    """Direct-marketing objections (R-A15): a blind index only, so it survives erasure."""

    __tablename__ = "suppressions"
    address_index: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RecipientTask(Base):
    """An art. 19 notice owed to a recipient of the data after a rectification, erasure or
    restriction (R-A13); in the digest until staff mark it done."""

    __tablename__ = "recipient_tasks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(40), index=True)
    ticket_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    recipient: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    done_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class DeadlineStep(Base):
    """A reminder/escalation step sent once: the unique key makes a second send impossible."""

    __tablename__ = "deadline_steps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"))
    step_key: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))  # sent or skipped
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    __table_args__ = (UniqueConstraint("ticket_id", "step_key", name="uq_deadline_step"),)


class Extension(Base):
    __tablename__ = "extensions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    months: Mapped[int] = mapped_column(Integer)
    reason_enc: Mapped[bytes] = mapped_column(LargeBinary)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Pause(Base):
    __tablename__ = "pauses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    started: Mapped[datetime] = mapped_column(UtcDateTime)
    ended: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Lease(Base):
    """Leader election for jobs that must run on one instance only (deadline sweep, digest)."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


Index("ix_outbox_due", Outbox.status, Outbox.next_attempt_at)
#: The open tickets only (issue 15): what staff lists, the digest and the deadline sweep read. With a
#: million tickets nearly all are closed; this partial index keeps those queries off them.
OPEN_TICKET = Ticket.status.not_in(("resolved", "closed"))
Index("ix_tickets_open", Ticket.opened_at, postgresql_where=OPEN_TICKET, sqlite_where=OPEN_TICKET)
Index("ix_messages_sender_recent", Message.customer_id, Message.created_at)
#: One inbound message per stored raw message: a second processed copy is refused (issue 10).
Index("uq_messages_raw_message_id", Message.raw_message_id, unique=True)
#: One event per place in the audit chain.
Index("uq_audit_events_seq", AuditEvent.seq, unique=True)


class StaffAccountRow(Base):
    """A staff member's web login (issue 18): argon2id password hash, the TOTP secret sealed with
    the system key, lockout counters. The address is the staff address from the configuration."""

    __tablename__ = "staff_accounts"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    password_hash: Mapped[str | None] = mapped_column(String(256), nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    totp_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    totp_pending_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    enrol_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    enrol_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class StaffRecoveryCode(Base):
    __tablename__ = "staff_recovery_codes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("staff_accounts.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class StaffSessionRow(Base):
    """A server-side login session: the cookie's token is stored only as its SHA-256."""

    __tablename__ = "staff_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("staff_accounts.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
