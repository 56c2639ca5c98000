"""The use cases with their collaborators bound: what the CLI, the runner, the scheduler (and the
web interface later) call. Each method is one transaction; none knows an adapter.

``bootstrap`` builds them once from the configuration, so ``app.tickets.extend(ref, 1, reason)``
is the same code path from every door.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from mailbot.domain.calendar import WorkCalendar
from mailbot.domain.deadlines import DeadlinePolicy, Deadlines
from mailbot.domain.model import Category, Organisation, Ticket
from mailbot.services import deadlines as deadline_service
from mailbot.services import decisions, digest, extensions, leases
from mailbot.services.filing import DeadlineCalculator
from mailbot.services.identity import IdentityDesk, confirm_identity
from mailbot.services.outbox import DrainReport, OutboxPolicy, Rendered, Renderer, drain, staff_mail
from mailbot.services.ports import Clock, Mailer
from mailbot.services.repositories import Database
from mailbot.services.staff import StaffDesk, add_note, answer, assign, set_status, ticket_by_ref
from mailbot.services.tickets import corrected_examples, reclassify


@dataclass(frozen=True)
class OutboxActions:
    database: Database
    mailer: Mailer
    clock: Clock
    policy: OutboxPolicy

    def drain(self) -> DrainReport:
        """Send everything due now; each row once (``SKIP LOCKED`` between senders)."""
        return drain(self.database, self.mailer, self.clock, self.policy)


@dataclass(frozen=True)
class TicketActions:
    """Staff decisions on a ticket, each audited with who decided."""

    database: Database
    clock: Clock
    renderer: Renderer
    policy: OutboxPolicy
    calendar: WorkCalendar
    deadline_policy: DeadlinePolicy
    deadlines: DeadlineCalculator
    #: Carries out the honoured part of a partial refusal (``fulfil_request`` bound).
    fulfiller: decisions.Fulfiller | None = None

    def extend(self, ref: str, months: int, reason: str, actor: str = "staff") -> extensions.ExtensionResult:
        with self.database.transaction() as uow:
            return extensions.extend_ticket(
                uow,
                ref,
                months,
                reason,
                self.clock(),
                renderer=self.renderer,
                policy=self.policy,
                calendar=self.calendar,
                deadline_policy=self.deadline_policy,
                actor=actor,
            )

    def pause(self, ref: str, actor: str = "staff") -> Ticket:
        with self.database.transaction() as uow:
            return decisions.pause_clock(uow, ref, self.clock(), actor=actor)

    def resume(self, ref: str, actor: str = "staff") -> Deadlines:
        with self.database.transaction() as uow:
            return decisions.resume_clock(
                uow, ref, self.clock(), calendar=self.calendar, policy=self.deadline_policy, actor=actor
            )

    def refuse(self, ref: str, reasons: Sequence[str], partial: bool, actor: str) -> decisions.Refusal:
        """Refuse with reasons; a partial refusal carries the honoured part out in the same step."""
        with self.database.transaction() as uow:
            refusal = decisions.refuse_request(
                uow,
                ref,
                reasons,
                self.clock(),
                partial=partial,
                renderer=self.renderer,
                policy=self.policy,
                actor=actor,
                fulfil=self.fulfiller,
            )
        if (refusal.honoured or "").startswith("erased"):
            self.database.scrub()  # the destroyed key's pages, as after ``fulfil``
        return refusal

    def reclassify(self, ref: str, category: Category, actor: str = "staff") -> tuple[str, str]:
        with self.database.transaction() as uow:
            return reclassify(uow, ref, category, self.deadlines, self.clock(), actor)

    def corrections(self) -> list[tuple[bytes, Category]]:
        """The company's own mail as staff classified it, for ``model train --include-corrections``."""
        with self.database.transaction() as uow:
            return corrected_examples(uow)


@dataclass(frozen=True)
class StaffActions:
    """Staff answering through the ticket from the CLI (and the web interface): the same functions
    a staff reply by mail runs. ``actor`` must be on the staff list; every action is audited."""

    database: Database
    clock: Clock
    desk: StaffDesk
    identity: IdentityDesk
    fulfiller: decisions.Fulfiller | None = None

    def fulfil(self, ref: str, actor: str) -> str:
        """Carry the verified request out (restriction, objection, erasure). After an erasure the
        database files are scrubbed of the destroyed key."""
        if self.fulfiller is None:
            raise ValueError("carrying requests out is not available in this installation")
        with self.database.transaction() as uow:
            staff = self.desk.member(actor)
            done = self.fulfiller(uow, ticket_by_ref(uow, ref), staff, self.clock())
        if done.startswith("erased"):
            self.database.scrub()
        return done

    def verify(self, ref: str, method: str, actor: str) -> Ticket:
        """Staff established the requester's identity by other means (a call, a known detail)."""
        with self.database.transaction() as uow:
            staff = self.desk.member(actor)
            return confirm_identity(uow, self.identity, ticket_by_ref(uow, ref), method, staff, self.clock())

    def reply(self, ref: str, text: str, actor: str) -> str:
        with self.database.transaction() as uow:
            staff = self.desk.member(actor)
            return answer(uow, self.desk, ticket_by_ref(uow, ref), staff, text, self.clock())

    def note(self, ref: str, text: str, actor: str) -> str:
        with self.database.transaction() as uow:
            staff = self.desk.member(actor)
            return add_note(uow, ticket_by_ref(uow, ref), staff, text, self.clock())

    def assign(self, ref: str, name: str, actor: str) -> str:
        with self.database.transaction() as uow:
            staff = self.desk.member(actor)
            return assign(uow, self.desk, ticket_by_ref(uow, ref), staff, name, self.clock())

    def status(self, ref: str, status: str, actor: str) -> str:
        with self.database.transaction() as uow:
            staff = self.desk.member(actor)
            return set_status(uow, ticket_by_ref(uow, ref), staff, status, self.clock())


@dataclass(frozen=True)
class DeadlineActions:
    """The reminder/escalation sweep and the daily digest; the scheduled forms take a lease first,
    so of several ``mailbot run`` on one database only one does the work."""

    database: Database
    clock: Clock
    org: Organisation
    renderer: Renderer
    policy: OutboxPolicy
    notifier: deadline_service.DeadlineNotifier
    outbox: OutboxActions
    holder: str

    def sweep(self) -> deadline_service.SweepReport:
        return deadline_service.sweep(self.database, self.clock(), self.notifier)

    def queue_digest(self, *, send_when_empty: bool = False, once_per_day: bool = False) -> str | None:
        """Queue the digest (and send it); None when there was nothing to send."""
        with self.database.transaction() as uow:
            queued = digest.queue_digest(
                uow,
                self.renderer,
                self.policy,
                self.clock(),
                send_when_empty=send_when_empty,
                once_per_day=once_per_day,
            )
        if queued is not None:
            self.outbox.drain()
        return queued

    def preview_digest(self) -> tuple[dict[str, Any], Rendered]:
        with self.database.transaction() as uow:
            content = digest.build_digest(uow, self.clock(), self.org)
        return content, digest.render_digest(self.renderer, self.org, content)

    def backup_failed(self, reason: str) -> None:
        """Escalate a failed backup at once (issue 16); the digest repeats it until one succeeds."""
        now = self.clock()
        context = {
            "org": {"name": self.org.name, "mailbox": self.org.mailbox, "website": self.org.domain},
            "backup": {"reason": reason, "at": now},
        }
        with self.database.transaction() as uow:
            staff_mail(
                uow,
                self.renderer,
                self.policy,
                "backup_failed",
                context,
                now,
                to=[self.notifier.escalation_address],
            )
        self.outbox.drain()

    def has_lease(self, name: str, ttl: timedelta) -> bool:
        with self.database.transaction() as uow:
            return leases.acquire(uow, name, self.holder, self.clock(), ttl)

    def sweep_job(self) -> None:
        if self.has_lease("deadlines", timedelta(minutes=5)):
            self.sweep()

    def digest_job(self) -> None:
        if self.has_lease("digest", timedelta(minutes=30)):
            self.queue_digest(once_per_day=True)
