"""Tickets with their correspondence: numbering, threading look-ups, sealed subjects and bodies.

A ``Ticket`` value is copied from its row and back (``save``), so services change plain fields and
never hold an ORM object; the subject and the classification evidence stay sealed in the row and
are opened only when asked for (a ticket list never decrypts what it does not show).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import fields
from datetime import datetime

from sqlalchemy import ColumnElement, bindparam, or_, select
from sqlalchemy.exc import IntegrityError

from mailbot.adapters.db.models import (
    Attachment,
    Customer,
    Message,
    Outbox,
    RawMessage,
    TicketParticipant,
    TicketSequence,
    new_id,
)
from mailbot.adapters.db.models import Ticket as TicketRow
from mailbot.adapters.db.repos.base import SqlRepository, owner_of
from mailbot.domain.model import NewMessage, StoredAttachment, StoredMessage, Ticket, format_ticket_ref
from mailbot.services.repositories import MessageLink

#: The plain (unsealed) fields a Ticket value and its row share.
TICKET_FIELDS = tuple(f.name for f in fields(Ticket))


def ticket_of(row: TicketRow) -> Ticket:
    return Ticket(**{name: getattr(row, name) for name in TICKET_FIELDS})


class SqlTickets(SqlRepository):
    def next_ref(self, prefix: str, year: int) -> str:
        """The next number for (prefix, year) under a row lock (PostgreSQL) / write lock (SQLite)."""
        query = (
            select(TicketSequence)
            .where(TicketSequence.prefix == prefix, TicketSequence.year == year)
            .with_for_update()
        )
        seq = self.session.execute(query).scalar_one_or_none()
        if seq is None:
            try:
                with self.session.begin_nested():
                    seq = TicketSequence(prefix=prefix, year=year, last=0)
                    self.session.add(seq)
                    self.session.flush()
            except IntegrityError:
                seq = self.session.execute(query).scalar_one()
        seq.last += 1
        self.session.flush()
        return format_ticket_ref(prefix, year, seq.last)

    def add(self, ticket: Ticket, subject: str, evidence: Sequence[str]) -> None:
        key_id = self.vault.customer_key(self.session, ticket.customer_id)
        row = TicketRow(**{name: getattr(ticket, name) for name in TICKET_FIELDS})
        owner = ticket.customer_id
        row.subject_enc = self.seal(key_id, "tickets", "subject", ticket.id, owner, subject)
        row.evidence_enc = self.seal(
            key_id, "tickets", "evidence", ticket.id, owner, json.dumps(list(evidence))
        )
        self.session.add(row)
        self.session.flush()  # the participant's foreign key points at the row
        address_index = self.session.scalar(
            select(Customer.address_index).where(Customer.id == ticket.customer_id)
        )
        if address_index is not None:
            self.session.add(TicketParticipant(ticket_id=ticket.id, address_index=address_index))

    def get(self, ticket_id: str) -> Ticket | None:
        row = self.session.get(TicketRow, ticket_id)
        return ticket_of(row) if row is not None else None

    def by_ref(self, ref: str) -> Ticket | None:
        row = self.session.scalar(select(TicketRow).where(TicketRow.ref == ref.upper()))
        return ticket_of(row) if row is not None else None

    def save(self, ticket: Ticket) -> None:
        row = self.session.get(TicketRow, ticket.id)
        if row is None:
            raise LookupError(f"no ticket {ticket.ref}")
        for name in TICKET_FIELDS:
            if getattr(row, name) != getattr(ticket, name):
                setattr(row, name, getattr(ticket, name))

    def closed_unpurged(self, closed_before: datetime, limit: int) -> list[Ticket]:
        """Closed or resolved tickets not purged nor on hold, last changed before the bound."""
        rows = self.session.scalars(
            select(TicketRow)
            .where(
                TicketRow.status.in_(("closed", "resolved")),
                TicketRow.purged_at.is_(None),
                TicketRow.legal_hold.is_(False),
                TicketRow.updated_at <= closed_before,
            )
            .order_by(TicketRow.updated_at)
            .limit(limit)
        )
        return [ticket_of(row) for row in rows]

    def subject(self, ticket: Ticket) -> str:
        row = self.session.get(TicketRow, ticket.id)
        return (
            self.open_text(row.subject_enc, "tickets", "subject", ticket.id, ticket.customer_id)
            if row
            else ""
        )

    def evidence(self, ticket: Ticket) -> list[str]:
        row = self.session.get(TicketRow, ticket.id)
        if row is None:
            return []
        value = self.open_text(row.evidence_enc, "tickets", "evidence", ticket.id, ticket.customer_id)
        return list(json.loads(value)) if value else []

    def is_participant(self, ticket_id: str, address: str) -> bool:
        return self.session.get(TicketParticipant, (ticket_id, self.address_index(address))) is not None

    def add_participant(self, ticket_id: str, address: str) -> None:
        index = self.address_index(address)
        if self.session.get(TicketParticipant, (ticket_id, index)) is None:
            self.session.add(TicketParticipant(ticket_id=ticket_id, address_index=index))

    def by_message_ids(self, message_ids: Sequence[str]) -> Ticket | None:
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
        return self.get(ticket_id) if ticket_id else None

    def list(self, status: str | None = None, limit: int | None = None) -> list[Ticket]:
        query = select(TicketRow).order_by(TicketRow.opened_at)
        if status:
            query = query.where(TicketRow.status == status)
        if limit:
            query = query.limit(limit)
        return [ticket_of(row) for row in self.session.scalars(query)]

    def open_ids_with_deadlines(self, closed: Sequence[str]) -> list[str]:
        return list(
            self.session.scalars(
                select(TicketRow.id)
                .where(
                    _open(closed),
                    or_(
                        TicketRow.first_response_due.is_not(None),
                        TicketRow.legal_due.is_not(None),
                        TicketRow.resolution_due.is_not(None),
                    ),
                )
                .order_by(TicketRow.opened_at)
            )
        )

    def open_tickets(self, closed: Sequence[str]) -> list[Ticket]:
        query = select(TicketRow).where(_open(closed)).order_by(TicketRow.opened_at)
        return [ticket_of(row) for row in self.session.scalars(query)]

    def refs(self, ticket_ids: Collection[str] | None = None) -> dict[str, str]:
        query = select(TicketRow.id, TicketRow.ref)
        if ticket_ids is not None:
            query = query.where(TicketRow.id.in_(list(ticket_ids)))
        return {ticket_id: ref for ticket_id, ref in self.session.execute(query)}

    def of_customer(self, customer_id: str) -> list[Ticket]:
        query = select(TicketRow).where(TicketRow.customer_id == customer_id).order_by(TicketRow.opened_at)
        return [ticket_of(row) for row in self.session.scalars(query)]


class SqlMessages(SqlRepository):
    def add(self, message: NewMessage) -> str:
        row_id = new_id()
        key_id, owner = self.key_for(message.customer_id, message.created_at)

        def sealed(column: str, value: str | None) -> bytes | None:
            return self.seal(key_id, "messages", column, row_id, owner, value)

        self.session.add(
            Message(
                id=row_id,
                ticket_id=message.ticket_id,
                customer_id=message.customer_id,
                raw_message_id=message.raw_id,
                data_key_id=key_id,
                direction=message.direction,
                kind=message.kind,
                category=message.category,
                rule=message.rule[:64] if message.rule else None,
                language=message.language,
                message_id_index=self.message_id_index(message.message_id) if message.message_id else None,
                automated=message.automated,
                possible_duplicate=message.possible_duplicate,
                received_at=message.received_at,
                created_at=message.created_at,
                subject_enc=sealed("subject", message.subject),
                body_enc=sealed("body", message.body),
                sender_enc=sealed("sender", message.sender),
                recipients_enc=sealed("recipients", json.dumps(list(message.recipients))),
                meta_enc=sealed("meta", json.dumps(message.meta, default=str)),
            )
        )
        # Not flushed here: the next query's autoflush writes it (add_attachment's get is one, so
        # the row exists before an attachment references it), batching it with what follows.
        return row_id

    def of_customer(self, customer_id: str) -> list[StoredMessage]:
        query = (
            select(Message)
            .where(Message.customer_id == customer_id)
            .order_by(Message.received_at, Message.created_at)
        )
        return [self._stored(row) for row in self.session.scalars(query)]

    def add_attachment(self, message_id: str, filename: str, content_type: str, content: bytes) -> None:
        message = self.session.get(Message, message_id)
        assert message is not None
        row_id = new_id()
        owner = owner_of(message.customer_id)
        key_id = message.data_key_id
        self.session.add(
            Attachment(
                id=row_id,
                message_id=message_id,
                data_key_id=key_id,
                content_type=content_type[:255],
                size=len(content),
                filename_enc=self.seal(key_id, "attachments", "filename", row_id, owner, filename) or b"",
                content_enc=self.seal(key_id, "attachments", "content", row_id, owner, content) or b"",
            )
        )

    def _stored(self, row: Message) -> StoredMessage:
        owner = owner_of(row.customer_id)
        return StoredMessage(
            id=row.id,
            ticket_id=row.ticket_id,
            customer_id=row.customer_id,
            direction=row.direction,
            kind=row.kind,
            received_at=row.received_at,
            subject=self.open_text(row.subject_enc, "messages", "subject", row.id, owner),
            body=self.open_text(row.body_enc, "messages", "body", row.id, owner),
            sender=self.open_text(row.sender_enc, "messages", "sender", row.id, owner),
            rule=row.rule,
            automated=row.automated,
            possible_duplicate=row.possible_duplicate,
            recipients=tuple(
                json.loads(
                    self.open_text(row.recipients_enc, "messages", "recipients", row.id, owner) or "[]"
                )
            ),
        )

    def of_ticket(self, ticket_id: str) -> list[StoredMessage]:
        query = (
            select(Message)
            .where(Message.ticket_id == ticket_id)
            .order_by(Message.received_at, Message.created_at)
        )
        return [self._stored(row) for row in self.session.scalars(query)]

    def attachments(self, message_id: str) -> list[StoredAttachment]:
        message = self.session.get(Message, message_id)
        if message is None:
            return []
        owner = owner_of(message.customer_id)
        return [
            StoredAttachment(
                filename=self.open_text(a.filename_enc, "attachments", "filename", a.id, owner),
                content_type=a.content_type,
                content=self.open_bytes(a.content_enc, "attachments", "content", a.id, owner),
            )
            for a in self.session.scalars(select(Attachment).where(Attachment.message_id == message_id))
        ]

    def automated(self, unattached_only: bool = False) -> list[StoredMessage]:
        query = select(Message).where(Message.automated.is_(True)).order_by(Message.received_at)
        if unattached_only:
            query = query.where(Message.ticket_id.is_(None))
        return [self._stored(row) for row in self.session.scalars(query)]

    def filed_since(self, kinds: Sequence[str], since: datetime) -> list[tuple[str | None, str, datetime]]:
        """(ticket id, kind, received) of messages filed under ``kinds`` since ``since`` (digest)."""
        query = (
            select(Message.ticket_id, Message.kind, Message.received_at)
            .where(Message.kind.in_(list(kinds)), Message.created_at > since)
            .order_by(Message.received_at)
        )
        return [(row[0], row[1], row[2]) for row in self.session.execute(query)]

    def last_customer_message_id(self, ticket_id: str) -> str | None:
        """The Message-ID of the customer's newest message on the ticket (an answer threads under it)."""
        row = self.session.scalars(
            select(Message)
            .where(Message.ticket_id == ticket_id, Message.direction == "in", Message.kind == "customer")
            .order_by(Message.received_at.desc(), Message.created_at.desc())
            .limit(1)
        ).first()
        if row is None or row.meta_enc is None:
            return None
        meta = json.loads(self.open_text(row.meta_enc, "messages", "meta", row.id, owner_of(row.customer_id)))
        found = meta.get("message_id")
        return found if isinstance(found, str) and found else None

    def first_customer_raw(self, ticket_id: str) -> bytes | None:
        row = self.session.execute(
            select(RawMessage.id, RawMessage.raw_enc, RawMessage.customer_id)
            .join(Message, Message.raw_message_id == RawMessage.id)
            .where(Message.ticket_id == ticket_id, Message.direction == "in", Message.kind == "customer")
            .order_by(Message.received_at, Message.created_at)
            .limit(1)
        ).first()
        if row is None:
            return None
        raw_id, sealed, customer_id = row
        return self.open_bytes(sealed, "raw_messages", "raw", raw_id, owner_of(customer_id))

    def earlier_inbound(self, message_id: str, exclude_raw_id: str) -> MessageLink | None:
        row = self.session.execute(
            select(Message.id, Message.ticket_id)
            .where(
                Message.message_id_index == self.message_id_index(message_id),
                Message.direction == "in",
                or_(Message.raw_message_id.is_(None), Message.raw_message_id != exclude_raw_id),
            )
            .order_by(Message.created_at)
            .limit(1)
        ).first()
        return MessageLink(id=row[0], ticket_id=row[1]) if row is not None else None


def _open(closed: Sequence[str]) -> ColumnElement[bool]:
    """Not in ``closed``, with the statuses written into the SQL as constants, so the planner can
    match the partial index ``ix_tickets_open`` (a bound parameter would hide them from it)."""
    return TicketRow.status.not_in(
        bindparam("closed_statuses", list(closed), expanding=True, literal_execute=True)
    )
