"""Human decisions on a GDPR request that move its clock or end it: pausing the legal term while
the requester's identity is checked (R-A7), and refusing a request with reasons (R-A6, R-A8).

mailbot never refuses by itself: a refusal exists only as a staff decision with at least one
reason, and its letter names the right to complain to the Autoriteit Persoonsgegevens and to go to
court. A pause counts only if the identity question went out without undue delay (the domain's
``paused_due`` decides); the ticket keeps the unpaused date beside the adjusted one, and both are
shown. Each decision is one transaction: rows, new deadlines, outbox and audit event, or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from mailbot.adapters.db.models import Customer, Ticket
from mailbot.adapters.db.models import Extension as ExtensionRow
from mailbot.adapters.db.models import Pause as PauseRow
from mailbot.adapters.db.store import Store
from mailbot.domain.calendar import WorkCalendar
from mailbot.domain.deadlines import DeadlinePolicy, Deadlines, Extension, Pause, compute_deadlines
from mailbot.domain.model import GDPR_CATEGORIES, Category, TicketStatus
from mailbot.services.deadlines import CLOSED_STATUSES
from mailbot.services.outbox import OutboxPolicy, Renderer, notify_customer


class DecisionRefused(ValueError):
    """The decision is not allowed for this ticket (nothing was changed)."""


def open_gdpr_ticket(store: Store, ref: str, refused: type[ValueError] = DecisionRefused) -> Ticket:
    """The GDPR request ``ref`` if a decision on it is still possible; ``refused`` is raised otherwise."""
    ticket = store.ticket_by_ref(ref)
    if ticket is None:
        raise LookupError(f"no ticket {ref}")
    if Category(ticket.category) not in GDPR_CATEGORIES or ticket.legal_due is None:
        raise refused("only GDPR requests have a legal term")
    if ticket.status in CLOSED_STATUSES or ticket.answered_at is not None:
        raise refused("the request has already been answered")
    return ticket


def requester(
    store: Store, ticket: Ticket, refused: type[ValueError] = DecisionRefused
) -> tuple[Customer, str]:
    """The customer behind ``ticket`` and the address a decision letter goes to; ``refused`` is
    raised when nobody can be told any more (no customer, erased, or no address on file)."""
    customer = store.customer(ticket.customer_id)
    if customer is None or customer.erased_at is not None:
        raise refused("the requester can no longer be told (no customer on file)")
    address = store.customer_address(customer)
    if not address:
        raise refused("the requester can no longer be told (no address on file)")
    return customer, address


def recorded_deadlines(
    store: Store,
    ticket: Ticket,
    calendar: WorkCalendar,
    policy: DeadlinePolicy | None,
    now: datetime,
    *,
    extensions: Sequence[Extension] | None = None,
) -> Deadlines:
    """The ticket's deadlines recomputed from its receipt, its pauses and its extensions (the
    recorded ones, unless the caller passes the list it is about to record)."""
    if extensions is None:
        extensions = [
            Extension(r.months, "recorded", r.decided_at)
            for r in store.session.scalars(select(ExtensionRow).where(ExtensionRow.ticket_id == ticket.id))
        ]
    pauses = [
        Pause(p.started, p.ended)
        for p in store.session.scalars(select(PauseRow).where(PauseRow.ticket_id == ticket.id))
    ]
    return compute_deadlines(
        Category(ticket.category),
        ticket.received_at,
        policy,
        calendar,
        extensions=extensions,
        pauses=pauses,
        now=now,
    )


def _open_pause(store: Store, ticket: Ticket) -> PauseRow | None:
    return store.session.scalar(
        select(PauseRow).where(PauseRow.ticket_id == ticket.id, PauseRow.ended.is_(None))
    )


def pause_clock(store: Store, ref: str, now: datetime, *, actor: str = "staff") -> Ticket:
    """The identity question went out now: the legal clock stops until the answer (R-A7)."""
    ticket = open_gdpr_ticket(store, ref)
    if _open_pause(store, ticket) is not None:
        raise DecisionRefused("the clock is already paused")
    store.session.add(PauseRow(ticket_id=ticket.id, started=now, ended=None))
    store.session.flush()
    ticket.status = TicketStatus.WAITING.value
    ticket.updated_at = now
    store.audit("ticket.clock_paused", now, ticket_id=ticket.id, actor=actor)
    return ticket


def resume_clock(
    store: Store,
    ref: str,
    now: datetime,
    *,
    calendar: WorkCalendar,
    policy: DeadlinePolicy | None = None,
    actor: str = "staff",
) -> Deadlines:
    """The requester answered the identity question: the clock runs again, the due date moves."""
    ticket = open_gdpr_ticket(store, ref)
    pause = _open_pause(store, ticket)
    if pause is None:
        raise DecisionRefused("the clock is not paused")
    pause.ended = now
    store.session.flush()
    due = recorded_deadlines(store, ticket, calendar, policy, now)
    ticket.legal_due = due.legal_due
    ticket.legal_due_unpaused = due.legal_due_unpaused
    ticket.status = TicketStatus.OPEN.value
    ticket.updated_at = now
    store.audit(
        "ticket.clock_resumed",
        now,
        ticket_id=ticket.id,
        actor=actor,
        legal_due=due.legal_due.isoformat() if due.legal_due else None,
        legal_due_unpaused=due.legal_due_unpaused.isoformat() if due.legal_due_unpaused else None,
    )
    return due


@dataclass(frozen=True)
class Refusal:
    ref: str
    partial: bool
    outbox_id: str


def refuse_request(
    store: Store,
    ref: str,
    reasons: Sequence[str],
    now: datetime,
    *,
    partial: bool,
    renderer: Renderer,
    policy: OutboxPolicy,
    actor: str,
) -> Refusal:
    """A staff member refuses (partly): the letter gives the reasons and the requester's remedies."""
    reasons = [r.strip() for r in reasons if r and r.strip()]
    if not reasons:
        raise DecisionRefused("a refusal needs at least one reason (R-A6)")
    if not actor or actor == "mailbot":
        raise DecisionRefused("a refusal is a human decision: name who decided (R-A8)")
    ticket = open_gdpr_ticket(store, ref)
    customer, address = requester(store, ticket)
    outbox = notify_customer(
        store,
        renderer,
        policy,
        ticket=ticket,
        customer=customer,
        address=address,
        purpose="refusal",
        decision={"refusal": {"reasons": reasons, "partial": partial}},
        now=now,
        dedupe_key=f"refusal:{ticket.id}",
    )
    ticket.answered_at = now
    ticket.first_responded_at = ticket.first_responded_at or now
    ticket.status = TicketStatus.RESOLVED.value
    ticket.updated_at = now
    # The reasons are in the sealed letter; the audit trail records the fact, not the words (R-A18).
    store.audit(
        "ticket.refused",
        now,
        ticket_id=ticket.id,
        actor=actor,
        partial=partial,
        reasons=len(reasons),
        outbox_id=outbox.id,
    )
    return Refusal(ref=ticket.ref, partial=partial, outbox_id=outbox.id)
