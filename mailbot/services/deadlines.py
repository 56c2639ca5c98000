"""The deadline sweep: reminders and escalations for every open ticket, sent once and only once.

Issue 5. The policy (which step is due, which is superseded, when a ticket is overdue) is the pure
``mailbot.domain.ladder``; this module feeds it the stored deadlines and what was already recorded,
and turns its answer into outbox rows.

Exactly-once: each step is recorded in ``deadline_steps`` under UNIQUE(ticket_id, step_key) *before*
its mail is queued, inside a SAVEPOINT, in the same transaction as the outbox row. A second sweep
(another scheduler, a restart, a rerun) either sees the record or fails the insert and skips; either
way the mail exists once. The occurrence key holds the due time, so a deadline that moves (an
extension) re-arms its ladder.

Staff mail names the ticket reference, category and due time and points at
``mailbot tickets show REF``: no correspondence and no customer data (templates/README.md).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mailbot.domain.ladder import DEFAULT_LADDER, DueStep, LadderStep, overdue, plan_steps
from mailbot.domain.model import CLOSED_STATUSES, Ticket
from mailbot.services.outbox import OutboxPolicy, Renderer, staff_mail, ticket_context
from mailbot.services.repositories import Conflict, Database, UnitOfWork

log = logging.getLogger(__name__)


#: Ladder deadline names → the ``deadline.kind`` the templates know (templates/README.md).
TEMPLATE_KIND = {
    "first_response": "first_response",
    "legal": "legal",
    "resolution": "decision",
    "internal": "internal",
}
#: Deadlines counted in days: shown as a date, never with the 23:59 of their end-of-day instant.
DATE_DEADLINES = frozenset({"legal", "resolution", "internal"})


@dataclass(frozen=True)
class DeadlineNotifier:
    """Who gets reminded and escalated to, and with which ladder."""

    renderer: Renderer
    policy: OutboxPolicy
    escalation_address: str
    ladder: Mapping[str, Sequence[LadderStep]] = field(default_factory=lambda: DEFAULT_LADDER)


@dataclass
class SweepReport:
    tickets: int = 0
    reminders: int = 0
    escalations: int = 0
    skipped: int = 0
    overdue: int = 0
    conflicts: int = 0  # steps another sweep recorded first
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def deadlines_of(ticket: Ticket) -> dict[str, datetime | None]:
    return {
        "first_response": ticket.first_response_due,
        "legal": ticket.legal_due,
        "internal": ticket.internal_due,
        "resolution": ticket.resolution_due,
    }


def met_of(ticket: Ticket) -> dict[str, bool]:
    """First answer met by a staff answer through the ticket (not the acknowledgement); the legal
    term (and the rest) by the answer on the request itself."""
    answered = ticket.answered_at is not None
    return {
        "first_response": ticket.first_responded_at is not None,
        "legal": answered,
        "internal": answered,
        "resolution": answered,
    }


def running_deadlines(ticket: Ticket) -> list[tuple[str, datetime]]:
    """The deadlines still running on a ticket, earliest first (the digest and ``tickets list``)."""
    met = met_of(ticket)
    pairs = [
        ("first_response", ticket.first_response_due),
        ("legal", ticket.legal_due),
        ("resolution", ticket.resolution_due),
    ]
    return sorted(((n, d) for n, d in pairs if d is not None and not met[n]), key=lambda p: p[1])


def _deadline_context(due_step: DueStep, now: datetime, zone: ZoneInfo) -> dict[str, Any]:
    name = due_step.step.deadline
    due: Any = due_step.due.astimezone(zone).date() if name in DATE_DEADLINES else due_step.due
    context: dict[str, Any] = {
        "kind": TEMPLATE_KIND.get(name, name),
        "due": due,
        "overdue": now >= due_step.due,
    }
    if due_step.step.kind == "reminder":
        context["hours_left"] = max(0, round((due_step.due - now) / timedelta(hours=1)))
    return context


def _recipients(ticket: Ticket, step: LadderStep, notifier: DeadlineNotifier) -> tuple[str, ...]:
    """Escalations to the head-office manager; reminders to the assignee, else the staff list."""
    if step.kind == "escalation":
        return (notifier.escalation_address,)
    if ticket.assignee and "@" in ticket.assignee:
        return (ticket.assignee,)
    return tuple(notifier.policy.staff_addresses)


def sweep_ticket(
    uow: UnitOfWork, ticket: Ticket, now: datetime, notifier: DeadlineNotifier, report: SweepReport
) -> None:
    """One ticket's ladder at ``now``, in the caller's transaction."""
    deadlines, met = deadlines_of(ticket), met_of(ticket)
    plan = plan_steps(deadlines, met, uow.steps.keys_of(ticket.id), now, notifier.ladder)
    for skipped in plan.skipped:  # superseded while mailbot was down: recorded, never sent later
        if uow.steps.record(ticket.id, skipped.key, "skipped", now):
            report.skipped += 1
            uow.audit.record("deadline.step_skipped", now, ticket_id=ticket.id, step=skipped.key)
    zone = ZoneInfo(notifier.policy.org.timezone)
    for due_step in plan.send:
        if not uow.steps.record(ticket.id, due_step.key, "sent", now):
            report.conflicts += 1
            continue
        step = due_step.step
        customer = uow.customers.get(ticket.customer_id)
        # Staff-only mail names who is waiting (R-A18 facts, never the correspondence itself).
        who = (customer.name or customer.address) if customer else ""
        context = ticket_context(ticket, who, "", notifier.policy.org, notifier.policy.promise)
        context["deadline"] = _deadline_context(due_step, now, zone)
        outbox_id = staff_mail(
            uow,
            notifier.renderer,
            notifier.policy,
            step.kind,
            context,
            now,
            ticket=ticket,
            dedupe_key=f"step:{ticket.id}:{due_step.key}",
            to=_recipients(ticket, step, notifier),
        )
        if step.kind == "reminder":
            report.reminders += 1
        else:
            report.escalations += 1
        uow.audit.record(
            f"deadline.{step.kind}", now, ticket_id=ticket.id, step=due_step.key, outbox_id=outbox_id
        )
        log.info("deadline step queued", extra={"ticket": ticket.ref, "step": due_step.key})
    breached = overdue(deadlines, met, now, names=("first_response", "legal", "resolution"))
    if bool(breached) != bool(ticket.overdue):
        ticket.overdue = bool(breached)
        ticket.updated_at = now
        uow.tickets.save(ticket)
        uow.audit.record(
            "ticket.overdue" if breached else "ticket.overdue_cleared",
            now,
            ticket_id=ticket.id,
            deadlines=sorted(breached),
        )
    if ticket.overdue:
        report.overdue += 1


def sweep(database: Database, now: datetime, notifier: DeadlineNotifier) -> SweepReport:
    """Every open ticket once, one transaction each: a failing ticket never blocks the others."""
    report = SweepReport()
    with database.transaction() as uow:
        ids = uow.tickets.open_ids_with_deadlines(CLOSED_STATUSES)
    for ticket_id in ids:
        try:
            with database.transaction() as uow:
                ticket = uow.tickets.get(ticket_id)
                if ticket is None or ticket.status in CLOSED_STATUSES:
                    continue
                report.tickets += 1
                sweep_ticket(uow, ticket, now, notifier, report)
        except Conflict:
            # A concurrent sweep committed the same outbox row (dedupe key) between our checks.
            report.conflicts += 1
        except Exception as exc:
            report.errors += 1
            log.warning(
                "deadline sweep failed for a ticket",
                extra={"ticket_id": ticket_id, "error": type(exc).__name__},
            )
    return report
