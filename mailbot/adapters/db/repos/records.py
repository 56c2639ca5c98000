"""The small bookkeeping tables: audit events, deadline steps, extensions and pauses, leases."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError

from mailbot.adapters.db.models import AuditEvent, DeadlineStep, Lease
from mailbot.adapters.db.models import Extension as ExtensionRow
from mailbot.adapters.db.models import Pause as PauseRow
from mailbot.adapters.db.repos.base import SqlRepository
from mailbot.domain.deadlines import Extension, Pause
from mailbot.domain.model import AuditRecord


class SqlAudit(SqlRepository):
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
        self.session.add(
            AuditEvent(
                at=now, kind=kind, ticket_id=ticket_id, customer_id=customer_id, actor=actor, detail=detail
            )
        )

    def of_ticket(self, ticket_id: str) -> list[AuditRecord]:
        query = select(AuditEvent).where(AuditEvent.ticket_id == ticket_id).order_by(AuditEvent.id)
        return [
            AuditRecord(
                at=e.at,
                kind=e.kind,
                actor=e.actor,
                ticket_id=e.ticket_id,
                customer_id=e.customer_id,
                detail=dict(e.detail or {}),
            )
            for e in self.session.scalars(query)
        ]

    def last_at(self, kind: str) -> datetime | None:
        return self.session.scalar(select(func.max(AuditEvent.at)).where(AuditEvent.kind == kind))


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
