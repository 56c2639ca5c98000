"""Tests' window on the stored rows: a unit of work that also hands out ORM rows.

Storage tests must look at what is really in the tables (ciphertext, states, outbox rows) and set
up odd states directly, which the production repositories deliberately do not allow. ``Store``
is the production ``SqlUnitOfWork`` (so services can be called with it) plus these row-level
reads and writes; it exists only under ``tests/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailbot.adapters.db.models import (
    Attachment,
    AuditEvent,
    Customer,
    MailboxState,
    Message,
    Outbox,
    Quarantine,
    RawMessage,
    Ticket,
    TicketParticipant,
    TicketSequence,
    new_id,
)
from mailbot.adapters.db.repos.uow import SqlUnitOfWork
from mailbot.adapters.db.vault import SYSTEM_OWNER, Vault
from mailbot.domain.model import RawState, format_ticket_ref
from mailbot.services.ports import Cursor
from mailbot.services.repositories import StoredRaw

MESSAGE_ID_PURPOSE = "message-id"


class Store(SqlUnitOfWork):
    """The unit of work plus row-level access for assertions and set-up."""

    def __init__(self, session: Session, vault: Vault) -> None:
        super().__init__(session, vault)
        self.vault = vault

    # -- keyed look-ups ---------------------------------------------------------------------------
    def address_index(self, address: str) -> str:
        return self.vault.keyring.blind_index(address, "address")

    def message_id_index(self, message_id: str) -> str:
        return self.vault.keyring.blind_index(message_id.strip(), MESSAGE_ID_PURPOSE)

    # -- customers ----------------------------------------------------------------------------------
    def find_or_create_customer(self, address: str, name: str | None, now: datetime) -> Customer:
        index = self.address_index(address)
        existing = self.session.scalar(select(Customer).where(Customer.address_index == index))
        if existing is not None:
            return existing
        # The id is set here, not by the column default at flush: it is sealed into the address.
        customer = Customer(id=new_id(), address_index=index, created_at=now)
        customer.data_key_id = self.vault.new_key(self.session, "customer", now)
        customer.address_enc = self._seal(
            customer.data_key_id, "customers", "address", customer.id, customer.id, address
        )
        customer.name_enc = self._seal(
            customer.data_key_id, "customers", "name", customer.id, customer.id, name or None
        )
        # A concurrent ingest may create the same customer: the unique index decides, we re-read.
        try:
            with self.session.begin_nested():
                self.session.add(customer)
                self.session.flush()
        except IntegrityError:
            found = self.session.scalar(select(Customer).where(Customer.address_index == index))
            assert found is not None
            return found
        return customer

    def customer_address(self, customer: Customer) -> str:
        value = self._open(customer.address_enc, "customers", "address", customer.id, customer.id)
        return value or ""

    def customer_name(self, customer: Customer) -> str:
        return self._open(customer.name_enc, "customers", "name", customer.id, customer.id) or ""

    # -- stage one: raw messages ------------------------------------------------------------------
    def cursor(self, source: str) -> Cursor:
        state = self.session.get(MailboxState, source)
        return Cursor(validity=state.validity, last_uid=state.last_uid) if state else Cursor()

    def advance_cursor(self, source: str, cursor: Cursor, now: datetime) -> None:
        state = self.session.get(MailboxState, source)
        if state is None:
            self.session.add(
                MailboxState(
                    source=source,
                    validity=cursor.validity,
                    last_uid=cursor.last_uid,
                    resyncs=0,
                    updated_at=now,
                )
            )
            return
        if state.validity and cursor.validity != state.validity:
            state.resyncs += 1
        state.validity = cursor.validity
        state.last_uid = cursor.last_uid
        state.updated_at = now

    def has_fingerprint(self, fingerprint: str) -> bool:
        return (
            self.session.scalar(select(RawMessage.id).where(RawMessage.fingerprint == fingerprint))
            is not None
        )

    def add_raw(
        self,
        *,
        source: str,
        source_key: str,
        raw: bytes,
        fingerprint: str,
        message_id: str | None,
        customer: Customer | None,
        received_at: datetime,
        now: datetime,
    ) -> str:
        row_id = new_id()
        owner = customer.id if customer else SYSTEM_OWNER
        key_id = customer.data_key_id if customer else self.vault.system_key(self.session, now)
        row = RawMessage(
            id=row_id,
            source=source,
            source_key=source_key[:64],
            fingerprint=fingerprint,
            message_id_index=self.message_id_index(message_id) if message_id else None,
            customer_id=customer.id if customer else None,
            data_key_id=key_id,
            raw_enc=self._seal(key_id, "raw_messages", "raw", row_id, owner, raw),
            size=len(raw),
            received_at=received_at,
            ingested_at=now,
            state=RawState.PENDING.value,
            attempts=0,
        )
        self.session.add(row)
        return row_id

    def pending_raw_ids(self, limit: int) -> list[str]:
        return list(
            self.session.scalars(
                select(RawMessage.id)
                .where(RawMessage.state == RawState.PENDING.value)
                .order_by(RawMessage.received_at, RawMessage.ingested_at)
                .limit(limit)
            )
        )

    def load_raw(self, raw_id: str) -> StoredRaw | None:
        row = self.session.get(RawMessage, raw_id)
        if row is None:
            return None
        owner = row.customer_id or SYSTEM_OWNER
        raw = self.vault.open(self.session, row.raw_enc, ("raw_messages", "raw", row.id, owner)) or b""
        return StoredRaw(
            id=row.id,
            raw=raw,
            received_at=row.received_at,
            customer_id=row.customer_id,
            state=row.state,
        )

    def mark_processed(self, raw_id: str, outcome: str, now: datetime) -> None:
        row = self.session.get(RawMessage, raw_id)
        assert row is not None
        row.state = RawState.PROCESSED.value
        row.outcome = outcome
        row.processed_at = now

    def record_failure(self, raw_id: str, error: BaseException, max_attempts: int, now: datetime) -> bool:
        """Count a failed attempt; quarantine after ``max_attempts``. Returns True when quarantined."""
        row = self.session.get(RawMessage, raw_id)
        if row is None:
            return False
        row.attempts += 1
        row.error_kind = type(error).__name__[:64]
        owner = row.customer_id or SYSTEM_OWNER
        row.error_enc = self._seal(row.data_key_id, "raw_messages", "error", row.id, owner, str(error)[:2000])
        if row.attempts < max_attempts:
            return False
        row.state = RawState.QUARANTINED.value
        row.outcome = "quarantined"
        entry = self.session.scalar(select(Quarantine).where(Quarantine.raw_message_id == raw_id))
        if entry is None:
            self.session.add(
                Quarantine(
                    raw_message_id=raw_id,
                    error_kind=row.error_kind,
                    attempts=row.attempts,
                    quarantined_at=now,
                )
            )
        else:
            entry.error_kind, entry.attempts, entry.quarantined_at, entry.released_at = (
                row.error_kind,
                row.attempts,
                now,
                None,
            )
        return True

    def quarantined(self) -> list[tuple[Quarantine, RawMessage]]:
        rows = self.session.execute(
            select(Quarantine, RawMessage)
            .join(RawMessage, RawMessage.id == Quarantine.raw_message_id)
            .where(Quarantine.released_at.is_(None))
            .order_by(Quarantine.id)
        )
        return [(q, r) for q, r in rows]

    def raw_error(self, row: RawMessage) -> str:
        owner = row.customer_id or SYSTEM_OWNER
        return (
            self.vault.open_text(self.session, row.error_enc, ("raw_messages", "error", row.id, owner)) or ""
        )

    def release_quarantine(self, quarantine_id: int, now: datetime) -> str | None:
        entry = self.session.get(Quarantine, quarantine_id)
        if entry is None or entry.released_at is not None:
            return None
        entry.released_at = now
        row = self.session.get(RawMessage, entry.raw_message_id)
        assert row is not None
        row.state = RawState.PENDING.value
        row.attempts = 0
        row.outcome = None
        return row.id

    # -- tickets -----------------------------------------------------------------------------------
    def next_ticket_ref(self, prefix: str, year: int) -> str:
        """Allocate the next number for (prefix, year) under a row lock (PostgreSQL) / write lock (SQLite)."""
        seq = self.session.execute(
            select(TicketSequence)
            .where(TicketSequence.prefix == prefix, TicketSequence.year == year)
            .with_for_update()
        ).scalar_one_or_none()
        if seq is None:
            try:
                with self.session.begin_nested():
                    seq = TicketSequence(prefix=prefix, year=year, last=0)
                    self.session.add(seq)
                    self.session.flush()
            except IntegrityError:
                seq = self.session.execute(
                    select(TicketSequence)
                    .where(TicketSequence.prefix == prefix, TicketSequence.year == year)
                    .with_for_update()
                ).scalar_one()
        seq.last += 1
        self.session.flush()
        return format_ticket_ref(prefix, year, seq.last)

    def add_ticket(self, ticket: Ticket, customer: Customer, subject: str, evidence: Sequence[str]) -> Ticket:
        ticket.id = ticket.id or new_id()
        ticket.customer_id = customer.id
        ticket.subject_enc = self._seal(
            customer.data_key_id, "tickets", "subject", ticket.id, customer.id, subject
        )
        ticket.evidence_enc = self._seal(
            customer.data_key_id, "tickets", "evidence", ticket.id, customer.id, json.dumps(list(evidence))
        )
        self.session.add(ticket)
        self.session.add(TicketParticipant(ticket_id=ticket.id, address_index=customer.address_index))
        self.session.flush()
        return ticket

    def ticket_by_ref(self, ref: str) -> Ticket | None:
        return self.session.scalar(select(Ticket).where(Ticket.ref == ref.upper()))

    def ticket(self, ticket_id: str) -> Ticket | None:
        return self.session.get(Ticket, ticket_id)

    def customer(self, customer_id: str) -> Customer | None:
        return self.session.get(Customer, customer_id)

    def ticket_subject(self, ticket: Ticket) -> str:
        return self._open(ticket.subject_enc, "tickets", "subject", ticket.id, ticket.customer_id) or ""

    def ticket_evidence(self, ticket: Ticket) -> list[str]:
        value = self._open(ticket.evidence_enc, "tickets", "evidence", ticket.id, ticket.customer_id)
        return list(json.loads(value)) if value else []

    def is_participant(self, ticket: Ticket, address: str) -> bool:
        index = self.address_index(address)
        return self.session.get(TicketParticipant, (ticket.id, index)) is not None

    def add_participant(self, ticket: Ticket, address: str) -> None:
        index = self.address_index(address)
        if self.session.get(TicketParticipant, (ticket.id, index)) is None:
            self.session.add(TicketParticipant(ticket_id=ticket.id, address_index=index))

    def ticket_by_message_ids(self, message_ids: Sequence[str]) -> Ticket | None:
        """The ticket whose correspondence (in or out, or the outbox) carries one of these Message-IDs."""
        if not message_ids:
            return None
        indexes = [self.message_id_index(m) for m in message_ids]
        ticket_id = self.session.scalar(
            select(Message.ticket_id)
            .where(Message.message_id_index.in_(indexes), Message.ticket_id.is_not(None))
            .order_by(Message.created_at.desc())
            .limit(1)
        )
        if ticket_id is None:
            ticket_id = self.session.scalar(
                select(Outbox.ticket_id)
                .where(Outbox.message_id.in_([m.strip() for m in message_ids]), Outbox.ticket_id.is_not(None))
                .limit(1)
            )
        return self.session.get(Ticket, ticket_id) if ticket_id else None

    def outbox_by_message_ids(self, message_ids: Sequence[str]) -> list[Outbox]:
        if not message_ids:
            return []
        return list(self.session.scalars(select(Outbox).where(Outbox.message_id.in_(list(message_ids)))))

    def earlier_inbound_with_message_id(self, message_id: str, exclude_raw_id: str) -> Message | None:
        index = self.message_id_index(message_id)
        return self.session.scalar(
            select(Message)
            .where(
                Message.message_id_index == index,
                Message.direction == "in",
                or_(Message.raw_message_id.is_(None), Message.raw_message_id != exclude_raw_id),
            )
            .order_by(Message.created_at)
            .limit(1)
        )

    def all_tickets(self, status: str | None = None, limit: int | None = None) -> list[Ticket]:
        query = select(Ticket).order_by(Ticket.opened_at)
        if status:
            query = query.where(Ticket.status == status)
        if limit:
            query = query.limit(limit)
        return list(self.session.scalars(query))

    # -- correspondence -----------------------------------------------------------------------------
    def add_message(
        self,
        *,
        ticket: Ticket | None,
        customer: Customer | None,
        raw_id: str | None,
        direction: str,
        kind: str,
        message_id: str | None,
        received_at: datetime,
        now: datetime,
        subject: str,
        body: str,
        sender: str | None,
        recipients: Sequence[str],
        meta: dict[str, Any],
        category: str | None = None,
        rule: str | None = None,
        language: str | None = None,
        automated: bool = False,
        possible_duplicate: bool = False,
    ) -> Message:
        row_id = new_id()
        owner = customer.id if customer else SYSTEM_OWNER
        key_id = customer.data_key_id if customer else self.vault.system_key(self.session, now)

        def sealed(column: str, value: str | bytes | None) -> bytes | None:
            return self._seal(key_id, "messages", column, row_id, owner, value)

        message = Message(
            id=row_id,
            ticket_id=ticket.id if ticket else None,
            customer_id=customer.id if customer else None,
            raw_message_id=raw_id,
            data_key_id=key_id,
            direction=direction,
            kind=kind,
            category=category,
            rule=rule,
            language=language,
            message_id_index=self.message_id_index(message_id) if message_id else None,
            automated=automated,
            possible_duplicate=possible_duplicate,
            received_at=received_at,
            created_at=now,
            subject_enc=sealed("subject", subject),
            body_enc=sealed("body", body),
            sender_enc=sealed("sender", sender),
            recipients_enc=sealed("recipients", json.dumps(list(recipients))),
            meta_enc=sealed("meta", json.dumps(meta, default=str)),
        )
        self.session.add(message)
        self.session.flush()  # no ORM relationships: flush so attachments can reference the row
        return message

    def add_attachment(self, message: Message, filename: str, content_type: str, content: bytes) -> None:
        row_id = new_id()
        owner = message.customer_id or SYSTEM_OWNER
        self.session.add(
            Attachment(
                id=row_id,
                message_id=message.id,
                data_key_id=message.data_key_id,
                content_type=content_type[:255],
                size=len(content),
                filename_enc=self._seal(
                    message.data_key_id, "attachments", "filename", row_id, owner, filename
                )
                or b"",
                content_enc=self._seal(message.data_key_id, "attachments", "content", row_id, owner, content)
                or b"",
            )
        )

    def messages_of(self, ticket: Ticket) -> list[Message]:
        return list(
            self.session.scalars(
                select(Message)
                .where(Message.ticket_id == ticket.id)
                .order_by(Message.received_at, Message.created_at)
            )
        )

    def automated_messages(self, unattached_only: bool = False) -> list[Message]:
        query = select(Message).where(Message.automated.is_(True)).order_by(Message.received_at)
        if unattached_only:
            query = query.where(Message.ticket_id.is_(None))
        return list(self.session.scalars(query))

    def open_message(self, message: Message, column: str) -> str:
        owner = message.customer_id or SYSTEM_OWNER
        return self._open(getattr(message, f"{column}_enc"), "messages", column, message.id, owner) or ""

    def attachments_of(self, message: Message) -> list[tuple[str, str, bytes]]:
        rows = self.session.scalars(select(Attachment).where(Attachment.message_id == message.id))
        owner = message.customer_id or SYSTEM_OWNER
        return [
            (
                self._open(a.filename_enc, "attachments", "filename", a.id, owner) or "",
                a.content_type,
                self.vault.open(self.session, a.content_enc, ("attachments", "content", a.id, owner)) or b"",
            )
            for a in rows
        ]

    def extension_reason(self, row: Any, customer_id: str) -> str:
        where = ("extensions", "reason", str(row.id), customer_id)
        return self.vault.open_text(self.session, row.reason_enc, where) or ""

    # -- audit --------------------------------------------------------------------------------------
    def audit_events(self, ticket_id: str) -> list[AuditEvent]:
        return list(
            self.session.scalars(
                select(AuditEvent).where(AuditEvent.ticket_id == ticket_id).order_by(AuditEvent.id)
            )
        )

    # -- counts for reports -----------------------------------------------------------------------------
    def count_raw(self) -> int:
        return int(self.session.scalar(select(func.count(RawMessage.id))) or 0)

    # -- internals -------------------------------------------------------------------------------------
    def _seal(
        self, key_id: int, table: str, column: str, row_id: str, owner: str, value: str | bytes | None
    ) -> bytes | None:
        return self.vault.seal(self.session, key_id, (table, column, row_id, owner), value)

    def _open(self, ciphertext: bytes | None, table: str, column: str, row_id: str, owner: str) -> str | None:
        return self.vault.open_text(self.session, ciphertext, (table, column, row_id, owner))


@contextmanager
def open_store(app: Any) -> Iterator[Store]:
    """One transaction on ``app``'s database with row-level access: commit on success."""
    session = app.database.sessions()
    try:
        with session.begin():
            yield Store(session, app.database.vault)
    finally:
        session.close()
