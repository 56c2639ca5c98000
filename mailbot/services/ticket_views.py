"""What staff read (issue 18): the ticket list by nearest deadline with its filters and counts,
and one ticket with its opened thread. Read-only, one transaction each; the web pages show these
values and nothing they compute themselves.

A customer whose processing is restricted (R-A14) shows only the ticket's dates: the thread stays
closed unless a reason is given, and opening it anyway is audited.
"""

from __future__ import annotations

import builtins
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mailbot.domain.model import CLOSED_STATUSES, AuditRecord, StoredMessage, Ticket
from mailbot.services.deadlines import running_deadlines
from mailbot.services.ports import Clock
from mailbot.services.repositories import Database, QuarantineEntry


@dataclass(frozen=True)
class TicketFilter:
    """Empty fields filter nothing; ``assignee`` ``-`` is nobody."""

    category: str | None = None
    status: str | None = None
    overdue: bool = False
    due_within: timedelta | None = None
    assignee: str | None = None
    triage: bool = False
    include_closed: bool = False


@dataclass(frozen=True)
class TicketRow:
    ticket: Ticket
    next_deadline: str | None
    next_due: datetime | None
    overdue: bool


@dataclass(frozen=True)
class TicketList:
    rows: list[TicketRow]
    #: Over every open ticket, before filtering: what the filter buttons show.
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TicketDetail:
    ticket: Ticket
    subject: str
    customer_address: str
    customer_name: str
    restricted: bool
    evidence: list[str]
    messages: list[StoredMessage]
    attachments: dict[str, list[tuple[str, str, int]]]
    events: list[AuditRecord]


def _assigned_to(ticket: Ticket, who: str) -> bool:
    wanted = who.strip().lower()
    if wanted == "-":
        return ticket.assignee is None
    return ticket.assignee is not None and wanted in (ticket.assignee, ticket.assignee.partition("@")[0])


def _row(ticket: Ticket, now: datetime) -> TicketRow:
    running = running_deadlines(ticket)
    kind, due = running[0] if running else (None, None)
    return TicketRow(ticket, kind, due, bool(due and due <= now))


def _keep(row: TicketRow, wanted: TicketFilter, now: datetime) -> bool:
    t = row.ticket
    if wanted.status is None and not wanted.include_closed and t.status in CLOSED_STATUSES:
        return False
    if wanted.status and t.status != wanted.status:
        return False
    if wanted.category and t.category != wanted.category:
        return False
    if wanted.assignee and not _assigned_to(t, wanted.assignee):
        return False
    if wanted.triage and not t.triage:
        return False
    if wanted.overdue and not row.overdue:
        return False
    return not (
        wanted.due_within is not None and not (row.next_due and row.next_due <= now + wanted.due_within)
    )


@dataclass(frozen=True)
class TicketViews:
    database: Database
    clock: Clock

    def list(self, wanted: TicketFilter) -> TicketList:
        """Tickets sorted by their nearest running deadline (none last), with the counts."""
        now = self.clock()
        with self.database.transaction() as uow:
            # Closed tickets are read only when asked for: with years of them, the open ones are
            # a small part, and the partial index ``ix_tickets_open`` reads them alone.
            found = uow.tickets.open_tickets(CLOSED_STATUSES)
            if wanted.status in CLOSED_STATUSES:
                found += uow.tickets.list(status=wanted.status)
            elif wanted.include_closed and wanted.status is None:
                found += [t for t in uow.tickets.list() if t.status in CLOSED_STATUSES]
        rows = [_row(t, now) for t in found]
        open_rows = [r for r in rows if r.ticket.status not in CLOSED_STATUSES]
        counts: Counter[str] = Counter()
        for r in open_rows:
            counts["open"] += 1
            counts[f"category:{r.ticket.category}"] += 1
            counts[f"status:{r.ticket.status}"] += 1
            counts["overdue"] += r.overdue
            counts["due_24h"] += bool(r.next_due and r.next_due <= now + timedelta(hours=24))
            counts["triage"] += r.ticket.triage
            counts["unassigned"] += r.ticket.assignee is None
        kept = [r for r in rows if _keep(r, wanted, now)]
        kept.sort(key=lambda r: (r.next_due is None, r.next_due or now, r.ticket.ref))
        return TicketList(kept, dict(counts))

    def detail(self, ref: str, actor: str, despite_restriction: str | None = None) -> TicketDetail:
        """The ticket with its thread opened; LookupError when there is none."""
        now = self.clock()
        with self.database.transaction() as uow:
            ticket = uow.tickets.by_ref(ref.strip().upper())
            if ticket is None:
                raise LookupError(f"no ticket {ref}")
            customer = uow.customers.get(ticket.customer_id)
            restricted = bool(customer and customer.restricted)
            reason = (despite_restriction or "").strip()
            show = not restricted or bool(reason)
            if restricted and reason:
                uow.audit.record(
                    "ticket.viewed_restricted",
                    now,
                    ticket_id=ticket.id,
                    actor=actor,
                    reason_length=len(reason),
                )
            messages = uow.messages.of_ticket(ticket.id) if show else []
            return TicketDetail(
                ticket=ticket,
                subject=uow.tickets.subject(ticket) if show else "",
                customer_address=customer.address if customer and show else "",
                customer_name=(customer.name or "") if customer and show else "",
                restricted=restricted and not show,
                evidence=uow.tickets.evidence(ticket),
                messages=messages,
                attachments={
                    m.id: [
                        (a.filename, a.content_type, len(a.content)) for a in uow.messages.attachments(m.id)
                    ]
                    for m in messages
                },
                events=uow.audit.of_ticket(ticket.id),
            )

    def quarantine(self) -> builtins.list[QuarantineEntry]:
        with self.database.transaction() as uow:
            return uow.quarantine.entries()

    def automated(self) -> tuple[builtins.list[StoredMessage], dict[str, str]]:
        """Automated mail for review, with the refs of the tickets it sits on."""
        with self.database.transaction() as uow:
            found = uow.messages.automated()
            return found, uow.tickets.refs({m.ticket_id for m in found if m.ticket_id})
