"""``mailbot tickets extend``: the GDPR extension by one or two further months (R-A5).

The law allows it only with reasons, only while the first month runs, and at most two further
months in total; ``mailbot.domain.deadlines.extend`` decides, this module records and notifies.
One transaction: the Extension row (its reason sealed under the customer's key, because a reason
may describe the person's request), the ticket's new legal due, the notice to the requester in the
outbox and an audit event, or none of them.

The notice carries ``Auto-Submitted: auto-generated``. A human decided, but mailbot writes and
sends the letter from a template on that decision, not as a personal reply; marking it keeps the
requester's autoresponders from answering it (RFC 3834), and it is still delivered like any mail.
It threads onto our acknowledgement, whose Message-ID is ours and known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from mailbot.domain.calendar import WorkCalendar
from mailbot.domain.deadlines import (
    DeadlinePolicy,
    Extension,
    ExtensionRefused,
    extend,
)
from mailbot.services.decisions import open_gdpr_ticket, recorded_deadlines, requester
from mailbot.services.outbox import OutboxPolicy, Renderer, notify_customer
from mailbot.services.repositories import UnitOfWork

__all__ = ["ExtensionRefused", "ExtensionResult", "extend_ticket"]


@dataclass(frozen=True)
class ExtensionResult:
    ref: str
    months: int
    total_extra_months: int
    original_due: datetime  # the legal due before this extension
    legal_due: datetime  # effective (paused) new legal due
    legal_due_unpaused: datetime
    legal_due_conservative: datetime | None  # R-A5: original end + extra months, where it differs
    outbox_id: str


def extend_ticket(
    uow: UnitOfWork,
    ref: str,
    months: int,
    reason: str,
    now: datetime,
    *,
    renderer: Renderer,
    policy: OutboxPolicy,
    calendar: WorkCalendar,
    deadline_policy: DeadlinePolicy | None = None,
    actor: str = "staff",
) -> ExtensionResult:
    """Extend ticket ``ref`` by ``months`` for ``reason`` and queue the notice; raises
    ``ExtensionRefused`` (nothing changed) when the law or the ticket does not allow it."""
    ticket = open_gdpr_ticket(uow, ref, ExtensionRefused)
    existing = uow.decisions.extensions_of(ticket.id)
    extend(ticket.received_at, now, calendar, existing, months, reason)  # raises ExtensionRefused
    customer, address = requester(uow, ticket, ExtensionRefused)
    reason = reason.strip()
    new = Extension(months, reason, now)
    due = recorded_deadlines(uow, ticket, calendar, deadline_policy, now, extensions=[*existing, new])
    assert due.legal_due is not None and due.legal_due_unpaused is not None
    assert ticket.legal_due is not None
    original = ticket.legal_due

    # The reason is sealed under the customer's key: it may describe the person's request.
    uow.decisions.add_extension(ticket.id, customer.id, months, reason, now)
    ticket.legal_due = due.legal_due
    ticket.legal_due_unpaused = due.legal_due_unpaused
    ticket.updated_at = now
    uow.tickets.save(ticket)

    zone = ZoneInfo(policy.org.timezone)
    notice = {
        "reason": reason,
        "original_due": original.astimezone(zone).date(),
        "new_due": due.legal_due.astimezone(zone).date(),
    }
    outbox_id = notify_customer(
        uow,
        renderer,
        policy,
        ticket=ticket,
        customer=customer,
        address=address,
        purpose="extension_notice",
        decision={"extension": notice},
        now=now,
        dedupe_key=f"extension:{ticket.id}:{len(existing) + 1}",
    )
    total = sum(e.months for e in existing) + months
    uow.audit.record(
        "ticket.extended",
        now,
        ticket_id=ticket.id,
        customer_id=customer.id,
        actor=actor,
        months=months,
        total_extra_months=total,
        legal_due=due.legal_due.isoformat(),
        outbox_id=outbox_id,
    )
    return ExtensionResult(
        ref=ticket.ref,
        months=months,
        total_extra_months=total,
        original_due=original,
        legal_due=due.legal_due,
        legal_due_unpaused=due.legal_due_unpaused,
        legal_due_conservative=due.legal_due_conservative,
        outbox_id=outbox_id,
    )
