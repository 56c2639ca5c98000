"""Crypto-shredding a customer (R-D5), the data a legal duty keeps (R-A12) and the erasure ledger.

``shred`` deletes the live rows first and then destroys the data key, so even a row this module
does not know of (a table added later) is unreadable: every table with a ``data_key_id`` column
loses the customer's rows by that column, whatever its name. Tickets stay as husks — reference,
category, dates and status, which hold no personal data and prove the request was answered in
time (R-A18) — with their sealed subject and evidence cleared. The customer row stays as a
tombstone: no blind index (a new mail from the same address is a new customer), no fields.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Column, Executable, Table, delete, or_, select, update
from sqlalchemy.orm import Session

from mailbot.adapters.db.models import (
    Attachment,
    Base,
    Customer,
    DataKey,
    Erasure,
    ErasureLedgerEntry,
    Extension,
    Message,
    Outbox,
    Quarantine,
    RawMessage,
    RetainedRecord,
    Ticket,
    TicketParticipant,
    new_id,
)
from mailbot.adapters.db.repos.base import SqlRepository
from mailbot.adapters.db.vault import RETENTION_OWNER, TRANSIENT_OWNER
from mailbot.domain.retention import LedgerEntry, Retained
from mailbot.services.repositories import Shredded

CUSTOMER_ID_PURPOSE = "customer-id"
#: Tables shredded explicitly below; any other table with a data_key_id column is swept by it.
_EXPLICIT = {
    "customers",
    "data_keys",
    "raw_messages",
    "messages",
    "attachments",
    "outbox",
    "retained_records",
}


def _count(session: Session, statement: Executable) -> int:
    """Run a bulk DELETE/UPDATE; how many rows it touched."""
    return int(getattr(session.execute(statement), "rowcount", 0) or 0)


def _keyed_tables() -> list[tuple[Table, Column[int]]]:
    found: list[tuple[Table, Column[int]]] = []
    for table in Base.metadata.sorted_tables:
        if table.name not in _EXPLICIT and "data_key_id" in table.c:
            found.append((table, table.c.data_key_id))
    return found


class SqlErasures(SqlRepository):
    def record(
        self, reference: str, requested_at: datetime, erased_at: datetime, outcome: str, retained: str
    ) -> str:
        row = Erasure(
            id=new_id(),
            reference=reference[:40],
            requested_at=requested_at,
            erased_at=erased_at,
            outcome=outcome[:24],
            retained=retained[:255],
        )
        self.session.add(row)
        self.session.flush()
        return row.id

    def retain(self, erasure_id: str, retained: Retained, now: datetime) -> None:
        key_id = self.vault.new_key(self.session, RETENTION_OWNER, now)
        row_id = new_id()
        fields = json.dumps(dict(retained.values), ensure_ascii=False, sort_keys=True)
        self.session.add(
            RetainedRecord(
                id=row_id,
                erasure_id=erasure_id,
                duty=retained.duty[:48],
                data_key_id=key_id,
                fields_enc=self.seal(key_id, "retained_records", "fields", row_id, RETENTION_OWNER, fields)
                or b"",
                retain_until=retained.until,
                created_at=now,
            )
        )

    def customer_hash(self, customer_id: str) -> str:
        return self.vault.keyring.blind_index(customer_id, CUSTOMER_ID_PURPOSE)

    def shred(self, customer_id: str, now: datetime) -> Shredded:
        customer = self.session.get(Customer, customer_id)
        if customer is None:
            raise LookupError("no such customer")
        key_id, address_hash = customer.data_key_id, customer.address_index
        s = self.session
        tickets = select(Ticket.id).where(Ticket.customer_id == customer_id).scalar_subquery()
        raws = [
            r
            for r in s.scalars(
                select(RawMessage.id).where(
                    or_(RawMessage.customer_id == customer_id, RawMessage.data_key_id == key_id)
                )
            )
        ]
        messages = [
            m
            for m in s.scalars(
                select(Message.id).where(
                    or_(
                        Message.customer_id == customer_id,
                        Message.data_key_id == key_id,
                        Message.ticket_id.in_(tickets),
                        Message.raw_message_id.in_(raws),
                    )
                )
            )
        ]
        removed = {
            "attachments": _count(
                s,
                delete(Attachment).where(
                    or_(Attachment.message_id.in_(messages), Attachment.data_key_id == key_id)
                ),
            ),
            "messages": _count(s, delete(Message).where(Message.id.in_(messages))),
            "quarantined": _count(s, delete(Quarantine).where(Quarantine.raw_message_id.in_(raws))),
            "raw_messages": _count(s, delete(RawMessage).where(RawMessage.id.in_(raws))),
            "outgoing": _count(
                s,
                delete(Outbox).where(
                    or_(
                        Outbox.customer_id == customer_id,
                        Outbox.data_key_id == key_id,
                        Outbox.ticket_id.in_(tickets),
                    )
                ),
            ),
        }
        for table, column in _keyed_tables():
            removed[table.name] = _count(s, delete(table).where(column == key_id))
        _count(
            s,
            delete(TicketParticipant).where(
                or_(TicketParticipant.ticket_id.in_(tickets), TicketParticipant.address_index == address_hash)
            ),
        )
        removed["tickets_blanked"] = _count(
            s,
            update(Ticket)
            .where(Ticket.customer_id == customer_id)
            .values(subject_enc=None, evidence_enc=None),
        )
        _count(s, update(Extension).where(Extension.ticket_id.in_(tickets)).values(reason_enc=b""))
        self._destroy_key(key_id, now)
        customer.address_index = f"erased:{customer.id}"[:64]
        customer.address_enc = b""
        customer.name_enc = customer.company_enc = customer.postal_address_enc = customer.phone_enc = None
        customer.verified = customer.restricted = False
        customer.erased_at = now
        s.flush()
        return Shredded(
            removed=removed,
            address_hash=address_hash,
            customer_hash=self.customer_hash(customer_id),
            data_key_id=key_id,
        )

    def _destroy_key(self, key_id: int, now: datetime) -> None:
        self.session.execute(
            update(DataKey).where(DataKey.id == key_id).values(wrapped=None, destroyed_at=now)
        )
        self.vault.forget(key_id)

    def add_ledger(self, entry: LedgerEntry) -> None:
        self.session.add(
            ErasureLedgerEntry(
                at=entry.at,
                erasure_id=entry.erasure_id,
                address_hash=entry.address_hash,
                customer_hash=entry.customer_hash,
                data_key_id=entry.data_key_id,
            )
        )

    def reapply(self, entry: LedgerEntry, now: datetime) -> Shredded | None:
        """Match by the address's blind index, or by data key id *and* the customer id's keyed hash
        (a key id alone could have been given to someone else after an older restore)."""
        customer = self.session.scalar(select(Customer).where(Customer.address_index == entry.address_hash))
        if customer is None:
            candidate = self.session.scalar(select(Customer).where(Customer.data_key_id == entry.data_key_id))
            if candidate is not None and self.customer_hash(candidate.id) == entry.customer_hash:
                customer = candidate
        known = self.session.scalar(
            select(ErasureLedgerEntry.id).where(ErasureLedgerEntry.erasure_id == entry.erasure_id)
        )
        if known is None:
            self.add_ledger(entry)
        if customer is None or customer.erased_at is not None:
            return None
        return self.shred(customer.id, now)

    def was_erased(self, address: str) -> bool:
        index = self.address_index(address)
        return (
            self.session.scalar(
                select(ErasureLedgerEntry.id).where(ErasureLedgerEntry.address_hash == index).limit(1)
            )
            is not None
        )

    def purge(self, now: datetime, sent_before: datetime) -> dict[str, int]:
        s = self.session
        expired = list(
            s.execute(
                select(RetainedRecord.id, RetainedRecord.data_key_id).where(
                    RetainedRecord.retain_until <= now
                )
            )
        )
        for row_id, key_id in expired:
            _count(s, delete(RetainedRecord).where(RetainedRecord.id == row_id))
            self._destroy_key(key_id, now)
        apart = list(
            s.execute(
                select(Outbox.id, Outbox.data_key_id)
                .join(DataKey, DataKey.id == Outbox.data_key_id)
                .where(
                    DataKey.owner == TRANSIENT_OWNER,
                    Outbox.status.in_(("sent", "failed")),
                    Outbox.created_at < sent_before,
                )
            )
        )
        for row_id, key_id in apart:
            _count(s, delete(Outbox).where(Outbox.id == row_id))
            self._destroy_key(key_id, now)
        return {"retained": len(expired), "letters": len(apart)}

    def purge_ticket(self, ticket_id: str, now: datetime) -> dict[str, int]:
        """Delete a closed ticket's correspondence (messages, attachments, original mails, sent
        mail) and blank its sealed fields; the ticket stays as a husk with ``purged_at`` set."""
        s = self.session
        messages = list(s.scalars(select(Message.id).where(Message.ticket_id == ticket_id)))
        raws = [
            r
            for r in s.scalars(select(Message.raw_message_id).where(Message.id.in_(messages)))
            if r is not None
        ]
        removed = {
            "attachments": _count(s, delete(Attachment).where(Attachment.message_id.in_(messages))),
            "messages": _count(s, delete(Message).where(Message.id.in_(messages))),
            "quarantined": _count(s, delete(Quarantine).where(Quarantine.raw_message_id.in_(raws))),
            "raw_messages": _count(s, delete(RawMessage).where(RawMessage.id.in_(raws))),
            "outgoing": _count(
                s, delete(Outbox).where(Outbox.ticket_id == ticket_id, Outbox.status != "pending")
            ),
        }
        _count(s, delete(TicketParticipant).where(TicketParticipant.ticket_id == ticket_id))
        _count(s, update(Extension).where(Extension.ticket_id == ticket_id).values(reason_enc=b""))
        _count(
            s,
            update(Ticket)
            .where(Ticket.id == ticket_id)
            .values(subject_enc=None, evidence_enc=None, purged_at=now),
        )
        return removed
