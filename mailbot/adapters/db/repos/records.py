"""The small bookkeeping tables: audit events, deadline steps, extensions and pauses, leases."""

from __future__ import annotations

import json
from collections.abc import Generator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailbot.adapters.db.models import AuditEvent, AuditHead, DeadlineStep, Lease
from mailbot.adapters.db.models import Extension as ExtensionRow
from mailbot.adapters.db.models import Pause as PauseRow
from mailbot.adapters.db.repos.base import SqlRepository
from mailbot.adapters.db.vault import Vault
from mailbot.domain.audit_chain import GENESIS, ChainedEvent, link_hash
from mailbot.domain.deadlines import Extension, Pause
from mailbot.domain.model import AuditRecord


def _record_of(e: AuditEvent) -> AuditRecord:
    return AuditRecord(
        at=e.at,
        kind=e.kind,
        actor=e.actor,
        ticket_id=e.ticket_id,
        customer_id=e.customer_id,
        detail=dict(e.detail or {}),
    )


class SqlAudit(SqlRepository):
    """The audit trail as a hash chain (``domain/audit_chain.py``).

    Appending takes the chain head's row lock first (an UPDATE: a row lock on PostgreSQL, the
    write lock on SQLite) and holds it until the transaction ends, so two writers cannot take the
    same place in the chain nor link to the same predecessor; the second waits for the first's
    commit and then links to its event. A rolled-back transaction takes its events and its head
    update with it, so the chain stays whole."""

    def __init__(self, session: Session, vault: Vault) -> None:
        super().__init__(session, vault)
        #: (seq, hash) of the last event this transaction appended, and what the head row holds
        #: as this transaction last wrote it. Events after the first link in memory; the head
        #: row is moved once, by ``write_head``, before each savepoint release and the commit
        #: (``SqlUnitOfWork``): two statements per event became about one per message.
        self._last: tuple[int, str] | None = None
        self._written: tuple[int, str] | None = None

    def forget_last(self) -> None:
        """After a savepoint rolled back (its events and head update with it): the next event
        locks and reads the head again."""
        self._last = self._written = None

    def write_head(self) -> None:
        """Move the head to the last event appended. Guarded on what this transaction left in
        the head row (seq and hash), so a head moved by anyone else fails loudly, never links
        two events to one predecessor."""
        if self._last is None or self._last == self._written:
            return
        assert self._written is not None
        moved = self.session.connection().execute(
            update(AuditHead)
            .where(AuditHead.id == 1, AuditHead.seq == self._written[0], AuditHead.hash == self._written[1])
            .values(seq=self._last[0], hash=self._last[1])
        )
        if moved.rowcount != 1:
            raise RuntimeError("the audit chain head moved under this transaction")
        self._written = self._last

    def _next_link(self) -> tuple[int, str]:
        """(sequence number, previous hash) for the event about to be written, head locked."""
        for _ in range(2):
            taken = self.session.execute(
                update(AuditHead)
                .where(AuditHead.id == 1)
                .values(seq=AuditHead.seq + 1)
                .returning(AuditHead.seq, AuditHead.hash)
                .execution_options(synchronize_session=False)
            ).first()
            if taken is not None:
                return int(taken[0]), str(taken[1])
            try:  # the very first event: create the head (a concurrent first writer may win)
                with self.session.begin_nested():
                    self.session.execute(AuditHead.__table__.insert().values(id=1, seq=1, hash=GENESIS))
                return 1, GENESIS
            except IntegrityError:
                continue
        raise RuntimeError("audit chain head could not be locked")

    def record(
        self,
        kind: str,
        now: datetime,
        *,
        ticket_id: str | None = None,
        customer_id: str | None = None,
        actor: str = "mailbot",
        **detail: Any,
    ) -> None:
        # What is hashed is what a later read returns: JSON-native detail, microsecond UTC time.
        detail = json.loads(json.dumps(detail, default=str))
        if self._last is None:
            seq, prev = self._next_link()  # the head row now holds (seq, prev): ours, locked
            self._written = (seq, prev)
        else:
            seq, prev = self._last[0] + 1, self._last[1]
        digest = link_hash(prev, seq, now, kind, actor, ticket_id, customer_id, detail)
        self._last = (seq, digest)
        self.session.add(
            AuditEvent(
                seq=seq,
                prev_hash=prev,
                hash=digest,
                at=now,
                kind=kind,
                ticket_id=ticket_id,
                customer_id=customer_id,
                actor=actor,
                detail=detail,
            )
        )

    def of_ticket(self, ticket_id: str) -> list[AuditRecord]:
        query = select(AuditEvent).where(AuditEvent.ticket_id == ticket_id).order_by(AuditEvent.seq)
        return [_record_of(e) for e in self.session.scalars(query)]

    def about(self, customer_id: str, ticket_ids: Sequence[str]) -> list[AuditRecord]:
        """Events about a customer or any of their tickets, in chain order (for an access export)."""
        condition = AuditEvent.customer_id == customer_id
        if ticket_ids:
            condition = or_(condition, AuditEvent.ticket_id.in_(list(ticket_ids)))
        query = select(AuditEvent).where(condition).order_by(AuditEvent.seq)
        return [_record_of(e) for e in self.session.scalars(query)]

    def chain(self, until_seq: int | None = None) -> Generator[ChainedEvent, None, None]:
        """Events in sequence order (up to ``until_seq``), streamed: the trail grows without bound."""
        query = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=500)
        if until_seq is not None:
            query = query.where(AuditEvent.seq <= until_seq)
        result = self.session.scalars(query)
        try:
            yield from (self._chained(e) for e in result)
        finally:
            result.close()

    @staticmethod
    def _chained(e: AuditEvent) -> ChainedEvent:
        return ChainedEvent(
            id=e.id,
            seq=e.seq,
            at=e.at,
            kind=e.kind,
            actor=e.actor,
            ticket_id=e.ticket_id,
            customer_id=e.customer_id,
            detail=dict(e.detail or {}),
            prev_hash=e.prev_hash,
            hash=e.hash,
        )

    def head(self) -> tuple[int, str] | None:
        self.write_head()  # this transaction's own events first
        row = self.session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
        return (int(row[0]), str(row[1])) if row is not None else None

    def last_at(self, kind: str) -> datetime | None:
        return self.session.scalar(select(func.max(AuditEvent.at)).where(AuditEvent.kind == kind))

    def ticket_ids_of(self, kind: str) -> list[str]:
        query = (
            select(AuditEvent.ticket_id)
            .where(AuditEvent.kind == kind, AuditEvent.ticket_id.is_not(None))
            .group_by(AuditEvent.ticket_id)
            .order_by(func.min(AuditEvent.seq))
        )
        return [str(t) for t in self.session.scalars(query)]


class SqlSteps(SqlRepository):
    def keys_of(self, ticket_id: str) -> set[str]:
        return set(
            self.session.scalars(select(DeadlineStep.step_key).where(DeadlineStep.ticket_id == ticket_id))
        )

    def record(self, ticket_id: str, key: str, outcome: str, now: datetime) -> bool:
        try:
            with self.session.begin_nested():
                self.session.add(DeadlineStep(ticket_id=ticket_id, step_key=key, outcome=outcome, at=now))
                self.session.flush()
        except IntegrityError:
            return False
        return True


class SqlDecisions(SqlRepository):
    def extensions_of(self, ticket_id: str) -> list[Extension]:
        query = select(ExtensionRow).where(ExtensionRow.ticket_id == ticket_id).order_by(ExtensionRow.id)
        # The reasons stay sealed: the deadline arithmetic needs only months and dates.
        return [Extension(r.months, "recorded", r.decided_at) for r in self.session.scalars(query)]

    def add_extension(
        self, ticket_id: str, customer_id: str, months: int, reason: str, now: datetime
    ) -> None:
        row = ExtensionRow(ticket_id=ticket_id, months=months, reason_enc=b"", decided_at=now)
        self.session.add(row)
        self.session.flush()  # the row id is part of the sealed reason's associated data
        key_id = self.vault.customer_key(self.session, customer_id)
        row.reason_enc = self.seal(key_id, "extensions", "reason", str(row.id), customer_id, reason) or b""

    def pauses_of(self, ticket_id: str) -> list[Pause]:
        query = select(PauseRow).where(PauseRow.ticket_id == ticket_id).order_by(PauseRow.id)
        return [Pause(p.started, p.ended) for p in self.session.scalars(query)]

    def _open_pause(self, ticket_id: str) -> PauseRow | None:
        return self.session.scalar(
            select(PauseRow).where(PauseRow.ticket_id == ticket_id, PauseRow.ended.is_(None))
        )

    def has_open_pause(self, ticket_id: str) -> bool:
        return self._open_pause(ticket_id) is not None

    def start_pause(self, ticket_id: str, now: datetime) -> None:
        self.session.add(PauseRow(ticket_id=ticket_id, started=now, ended=None))
        self.session.flush()

    def end_pause(self, ticket_id: str, now: datetime) -> bool:
        pause = self._open_pause(ticket_id)
        if pause is None:
            return False
        pause.ended = now
        self.session.flush()
        return True


class SqlLeases(SqlRepository):
    """One holder at a time: the take-over is a single conditional UPDATE (or an INSERT under the
    primary key), so two contenders can never both win."""

    def acquire(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        result = self.session.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at <= now))
            .values(holder=holder, expires_at=now + ttl)
            .execution_options(synchronize_session=False)
        )
        if isinstance(result, CursorResult) and result.rowcount:
            return True
        if self.session.scalar(select(Lease.name).where(Lease.name == name)) is not None:
            return False  # held by someone else, not expired
        try:
            with self.session.begin_nested():
                self.session.add(Lease(name=name, holder=holder, expires_at=now + ttl))
                self.session.flush()
        except IntegrityError:
            return False  # another instance inserted it first
        return True

    def release(self, name: str, holder: str) -> None:
        self.session.execute(
            delete(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .execution_options(synchronize_session=False)
        )

    def holder_of(self, name: str, now: datetime) -> str | None:
        lease = self.session.get(Lease, name)
        return lease.holder if lease is not None and lease.expires_at > now else None
