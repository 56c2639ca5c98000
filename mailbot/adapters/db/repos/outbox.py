"""The outbox table: queued mail sealed under its owner's key, claimed for sending one row at a time.

``claim_due`` takes the row with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL), so several senders never
take the same row; the lock lasts until the sending transaction marks the row sent and commits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update

from mailbot.adapters.db.models import Outbox, new_id
from mailbot.adapters.db.repos.base import SqlRepository, owner_of
from mailbot.adapters.db.vault import TRANSIENT_OWNER
from mailbot.services.repositories import ClaimedMail, MailRecord, OutgoingEntry


def _record(row: Outbox) -> MailRecord:
    return MailRecord(
        id=row.id, purpose=row.purpose, ticket_id=row.ticket_id, status=row.status, last_error=row.last_error
    )


class SqlOutbox(SqlRepository):
    def add(self, entry: OutgoingEntry, now: datetime) -> str:
        row_id = new_id()  # now, not at flush: the id is sealed into the payload's associated data
        key_id, owner = self.key_for(entry.customer_id, now)
        if entry.own_key:  # outlives the customer's key; the retention purge destroys it once sent
            key_id = self.vault.new_key(self.session, TRANSIENT_OWNER, now)
        envelope = json.dumps({"from": entry.sender, "to": list(entry.recipients)})
        self.session.add(
            Outbox(
                id=row_id,
                ticket_id=entry.ticket_id,
                customer_id=entry.customer_id,
                data_key_id=key_id,
                purpose=entry.purpose,
                automatic=entry.automatic,
                message_id=entry.message_id,
                recipient_index=(
                    self.address_index(entry.recipients[0]) if len(entry.recipients) == 1 else None
                ),
                dedupe_key=entry.dedupe_key,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                payload_enc=self.seal(key_id, "outbox", "payload", row_id, owner, entry.payload) or b"",
                envelope_enc=self.seal(key_id, "outbox", "envelope", row_id, owner, envelope) or b"",
            )
        )
        return row_id

    def automatic_count_since(self, address: str, since: datetime) -> int:
        return int(
            self.session.scalar(
                select(func.count(Outbox.id)).where(
                    Outbox.recipient_index == self.address_index(address),
                    Outbox.automatic.is_(True),
                    Outbox.created_at > since,
                )
            )
            or 0
        )

    def first_message_id(self, ticket_id: str, purpose: str) -> str | None:
        return self.session.scalar(
            select(Outbox.message_id).where(Outbox.ticket_id == ticket_id, Outbox.purpose == purpose).limit(1)
        )

    def has_dedupe_key(self, key: str) -> bool:
        return self.session.scalar(select(Outbox.id).where(Outbox.dedupe_key == key)) is not None

    def claim_due(self, now: datetime) -> ClaimedMail | None:
        if self.session.get_bind().dialect.name == "sqlite":
            # SQLite has no row locks: take its write lock first (a no-op UPDATE), so a second
            # drainer (the scheduler's job, `send --once`) waits instead of sending the same row.
            self.session.execute(
                update(Outbox)
                .where(Outbox.id == "")
                .values(attempts=Outbox.attempts)
                .execution_options(synchronize_session=False)
            )
        row = self.session.scalars(
            select(Outbox)
            .where(Outbox.status == "pending", Outbox.next_attempt_at <= now)
            .order_by(Outbox.next_attempt_at, Outbox.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if row is None:
            return None
        owner = owner_of(row.customer_id)
        payload = self.open_bytes(row.payload_enc, "outbox", "payload", row.id, owner)
        envelope = json.loads(self.open_text(row.envelope_enc, "outbox", "envelope", row.id, owner) or "{}")
        row.attempts += 1
        return ClaimedMail(
            id=row.id,
            purpose=row.purpose,
            ticket_id=row.ticket_id,
            payload=payload,
            sender=envelope["from"],
            recipients=tuple(envelope["to"]),
            attempts=row.attempts,
            created_at=row.created_at,
        )

    def _row(self, mail_id: str) -> Outbox:
        row = self.session.get(Outbox, mail_id)
        assert row is not None
        return row

    def mark_sent(self, mail_id: str, now: datetime) -> None:
        row = self._row(mail_id)
        row.status, row.sent_at, row.last_error = "sent", now, None

    def defer(self, mail_id: str, until: datetime, error: str) -> None:
        row = self._row(mail_id)
        row.next_attempt_at, row.last_error = until, error[:500]

    def fail(self, mail_id: str, error: str) -> None:
        row = self._row(mail_id)
        row.status, row.last_error = "failed", error[:500]

    def bounce(self, message_ids: Sequence[str]) -> list[MailRecord]:
        if not message_ids:
            return []
        rows = list(self.session.scalars(select(Outbox).where(Outbox.message_id.in_(list(message_ids)))))
        for row in rows:
            row.status = "bounced"
            row.last_error = "bounced (delivery status notification received)"
        return [_record(row) for row in rows]

    def failed(self) -> list[MailRecord]:
        query = select(Outbox).where(Outbox.status.in_(("failed", "bounced"))).order_by(Outbox.created_at)
        return [_record(row) for row in self.session.scalars(query)]
