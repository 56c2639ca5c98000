"""Stage one's storage: raw messages sealed as received, the per-source cursor, the quarantine.

``claim`` is what makes several workers safe: it locks the pending row for the transaction
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one writer at a time and its write lock is
taken by an immediate UPDATE) and re-checks the state inside it, so a message another worker holds
or has finished is skipped, never processed twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult

from mailbot.adapters.db.models import MailboxState, Quarantine, RawMessage, new_id
from mailbot.adapters.db.repos.base import SqlRepository, owner_of
from mailbot.domain.model import RawState
from mailbot.services.ports import Cursor
from mailbot.services.repositories import QuarantineEntry, StoredRaw


class SqlMailbox(SqlRepository):
    #: Whether this transaction took SQLite's write lock already (see ``claim``).
    _write_locked = False
    #: The bytes ``is_stored`` just found absent, with their fingerprint (see ``add_if_new``).
    _absent: tuple[bytes, str] | None = None

    def cursor(self, source: str) -> Cursor:
        state = self.session.get(MailboxState, source)
        return Cursor(validity=state.validity, last_uid=state.last_uid) if state else Cursor()

    def advance(self, source: str, cursor: Cursor, now: datetime) -> None:
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

    def is_stored(self, raw: bytes) -> bool:
        fingerprint = self.vault.keyring.fingerprint(raw)
        stored = (
            self.session.scalar(select(RawMessage.id).where(RawMessage.fingerprint == fingerprint))
            is not None
        )
        if not stored:  # ingest asks this right before add_if_new: one look-up, one HMAC, not two
            self._absent = (raw, fingerprint)
        return stored

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
        checked, self._absent = self._absent, None
        if checked is not None and checked[0] is raw:
            fingerprint = checked[1]  # looked up by is_stored in this transaction, just now
        else:
            fingerprint = self.vault.keyring.fingerprint(raw)
            if self.session.scalar(select(RawMessage.id).where(RawMessage.fingerprint == fingerprint)):
                return None
        row_id = new_id()
        key_id, owner = self.key_for(customer_id, now)
        self.session.add(
            RawMessage(
                id=row_id,
                source=source,
                source_key=key[:64],
                fingerprint=fingerprint,
                message_id_index=self.message_id_index(message_id) if message_id else None,
                customer_id=customer_id,
                data_key_id=key_id,
                raw_enc=self.seal(key_id, "raw_messages", "raw", row_id, owner, raw) or b"",
                size=len(raw),
                received_at=received_at,
                ingested_at=now,
                state=RawState.PENDING.value,
                attempts=0,
            )
        )
        return row_id

    def pending_ids(self, limit: int) -> list[str]:
        return list(
            self.session.scalars(
                select(RawMessage.id)
                .where(RawMessage.state == RawState.PENDING.value)
                .order_by(RawMessage.received_at, RawMessage.ingested_at)
                .limit(limit)
            )
        )

    def claim(self, raw_id: str) -> StoredRaw | None:
        if not self._write_locked and self.session.get_bind().dialect.name == "sqlite":
            # Take SQLite's write lock now (a no-op UPDATE), so the state read below cannot change
            # before this transaction commits. It is held to the end of the transaction (a
            # rolled-back savepoint keeps it), so once per transaction is enough.
            self.session.execute(
                update(RawMessage)
                .where(RawMessage.id == raw_id)
                .values(attempts=RawMessage.attempts)
                .execution_options(synchronize_session=False)
            )
            self._write_locked = True
        row = self.session.scalars(
            select(RawMessage)
            .where(RawMessage.id == raw_id, RawMessage.state == RawState.PENDING.value)
            .with_for_update(skip_locked=True)
        ).first()
        if row is None:
            return None
        raw = self.open_bytes(row.raw_enc, "raw_messages", "raw", row.id, owner_of(row.customer_id))
        return StoredRaw(
            id=row.id, raw=raw, received_at=row.received_at, customer_id=row.customer_id, state=row.state
        )

    def mark_processed(self, raw_id: str, outcome: str, now: datetime) -> None:
        # One UPDATE: the claimed row (and its sealed bytes) is not loaded again for this.
        done = self.session.execute(
            update(RawMessage)
            .where(RawMessage.id == raw_id)
            .values(state=RawState.PROCESSED.value, outcome=outcome, processed_at=now)
        )
        assert cast(CursorResult[Any], done).rowcount == 1

    def record_failure(
        self, raw_id: str, error_kind: str, detail: str, max_attempts: int, now: datetime
    ) -> bool:
        row = self.session.get(RawMessage, raw_id)
        if row is None:
            return False
        row.attempts += 1
        row.error_kind = error_kind[:64]
        owner = owner_of(row.customer_id)
        row.error_enc = self.seal(row.data_key_id, "raw_messages", "error", row.id, owner, detail[:2000])
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
            entry.error_kind, entry.attempts, entry.quarantined_at = row.error_kind, row.attempts, now
            entry.released_at = None
        return True

    def count(self) -> int:
        return int(self.session.scalar(select(func.count(RawMessage.id))) or 0)

    def of_customer(self, customer_id: str) -> list[StoredRaw]:
        query = (
            select(RawMessage)
            .where(RawMessage.customer_id == customer_id)
            .order_by(RawMessage.received_at, RawMessage.ingested_at)
        )
        return [
            StoredRaw(
                id=row.id,
                raw=self.open_bytes(row.raw_enc, "raw_messages", "raw", row.id, customer_id),
                received_at=row.received_at,
                customer_id=customer_id,
                state=row.state,
            )
            for row in self.session.scalars(query)
        ]


class SqlQuarantine(SqlRepository):
    def entries(self) -> list[QuarantineEntry]:
        rows = self.session.execute(
            select(Quarantine, RawMessage)
            .join(RawMessage, RawMessage.id == Quarantine.raw_message_id)
            .where(Quarantine.released_at.is_(None))
            .order_by(Quarantine.id)
        )
        return [
            QuarantineEntry(
                id=q.id,
                raw_id=r.id,
                error=q.error_kind,
                attempts=q.attempts,
                quarantined_at=q.quarantined_at,
                detail=self.open_text(r.error_enc, "raw_messages", "error", r.id, owner_of(r.customer_id)),
            )
            for q, r in rows
        ]

    def release(self, quarantine_id: int, now: datetime) -> str | None:
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

    def count_open(self) -> int:
        return int(
            self.session.scalar(select(func.count(Quarantine.id)).where(Quarantine.released_at.is_(None)))
            or 0
        )
