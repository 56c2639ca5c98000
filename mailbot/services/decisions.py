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
from typing import Protocol

from mailbot.domain.calendar import WorkCalendar
from mailbot.domain.deadlines import DeadlinePolicy, Deadlines, Extension, compute_deadlines
from mailbot.domain.model import CLOSED_STATUSES, GDPR_CATEGORIES, Category, Customer, Ticket, TicketStatus
from mailbot.services.outbox import OutboxPolicy, Renderer, notify_customer
from mailbot.services.repositories import UnitOfWork


class DecisionRefused(ValueError):
    """The decision is not allowed for this ticket (nothing was changed)."""


def open_gdpr_ticket(uow: UnitOfWork, ref: str, refused: type[ValueError] = DecisionRefused) -> Ticket:
    """The GDPR request ``ref`` if a decision on it is still possible; ``refused`` is raised otherwise."""
    ticket = uow.tickets.by_ref(ref)
    if ticket is None:
        raise LookupError(f"no ticket {ref}")
    if Category(ticket.category) not in GDPR_CATEGORIES or ticket.legal_due is None:
        raise refused("only GDPR requests have a legal term")
    if ticket.status in CLOSED_STATUSES or ticket.answered_at is not None:
        raise refused("the request has already been answered")
    return ticket


def requester(
    uow: UnitOfWork, ticket: Ticket, refused: type[ValueError] = DecisionRefused
) -> tuple[Customer, str]:
    """The customer behind ``ticket`` and the address a decision letter goes to; ``refused`` is
    raised when nobody can be told any more (no customer, erased, or no address on file)."""
    customer = uow.customers.get(ticket.customer_id)
    if customer is None or customer.erased_at is not None:
        raise refused("the requester can no longer be told (no customer on file)")
    address = customer.address
    if not address:
        raise refused("the requester can no longer be told (no address on file)")
    return customer, address


def recorded_deadlines(
    uow: UnitOfWork,
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
        extensions = uow.decisions.extensions_of(ticket.id)
    pauses = uow.decisions.pauses_of(ticket.id)
    return compute_deadlines(
        Category(ticket.category),
        ticket.received_at,
        policy,
        calendar,
        extensions=extensions,
        pauses=pauses,
        now=now,
    )


def pause_clock(uow: UnitOfWork, ref: str, now: datetime, *, actor: str = "staff") -> Ticket:
    """The identity question went out now: the legal clock stops until the answer (R-A7)."""
    ticket = open_gdpr_ticket(uow, ref)
    pause_ticket_clock(uow, ticket, now, actor=actor)
    return ticket


def pause_ticket_clock(uow: UnitOfWork, ticket: Ticket, now: datetime, *, actor: str) -> None:
    """``pause_clock`` on a ticket in hand (the identity challenge, in the transaction opening it)."""
    if uow.decisions.has_open_pause(ticket.id):
        raise DecisionRefused("the clock is already paused")
    uow.decisions.start_pause(ticket.id, now)
    ticket.status = TicketStatus.WAITING.value
    ticket.updated_at = now
    uow.tickets.save(ticket)
    uow.audit.record("ticket.clock_paused", now, ticket_id=ticket.id, actor=actor)


def resume_clock(
    uow: UnitOfWork,
    ref: str,
    now: datetime,
    *,
    calendar: WorkCalendar,
    policy: DeadlinePolicy | None = None,
    actor: str = "staff",
) -> Deadlines:
    """The requester answered the identity question: the clock runs again, the due date moves."""
    ticket = open_gdpr_ticket(uow, ref)
    if not uow.decisions.has_open_pause(ticket.id):
        raise DecisionRefused("the clock is not paused")
    return resume_ticket_clock(uow, ticket, now, calendar=calendar, policy=policy, actor=actor)


def resume_ticket_clock(
    uow: UnitOfWork,
    ticket: Ticket,
    now: datetime,
    *,
    calendar: WorkCalendar,
    policy: DeadlinePolicy | None,
    actor: str,
) -> Deadlines:
    """``resume_clock`` on a ticket in hand; a ticket without an open pause keeps its dates."""
    uow.decisions.end_pause(ticket.id, now)
    due = recorded_deadlines(uow, ticket, calendar, policy, now)
    ticket.legal_due = due.legal_due
    ticket.legal_due_unpaused = due.legal_due_unpaused
    ticket.status = TicketStatus.OPEN.value
    ticket.updated_at = now
    uow.tickets.save(ticket)
    uow.audit.record(
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
    #: The letter's outbox row (None when the fulfilment letter carries a partial refusal).
    outbox_id: str | None
    #: What was carried out of a partly refused request ("erased", "access", "rectified", ...).
    honoured: str | None = None


class Fulfiller(Protocol):
    """Carries a verified request out (``fulfil_request`` bound); ``refused`` are the reasons for
    the part that is not honoured, named in the same letter."""

    def __call__(
        self, uow: UnitOfWork, ticket: Ticket, actor: str, now: datetime, refused: Sequence[str] = ()
    ) -> str: ...


#: Requests mailbot itself carries out; the honoured part of a partial refusal is done by it.
CARRIED_OUT: frozenset[Category] = frozenset(
    {Category.ERASURE, Category.ACCESS, Category.RESTRICTION, Category.OBJECTION}
)


def refuse_request(
    uow: UnitOfWork,
    ref: str,
    reasons: Sequence[str],
    now: datetime,
    *,
    partial: bool,
    renderer: Renderer,
    policy: OutboxPolicy,
    actor: str,
    fulfil: Fulfiller | None = None,
) -> Refusal:
    """A staff member refuses (partly): the letter gives the reasons and the requester's remedies.

    A partial refusal is never only a letter: the honoured part is carried out. For the requests
    mailbot carries out itself (erasure, access, restriction, objection) ``fulfil`` does it, and its
    letter says what was done and, with the reasons and remedies, what was not. A rectification is
    made by staff (``customers update``) before the rest is refused; without one, nothing is sent."""
    reasons = [r.strip() for r in reasons if r and r.strip()]
    if not reasons:
        raise DecisionRefused("a refusal needs at least one reason (R-A6)")
    if not actor or actor == "mailbot":
        raise DecisionRefused("a refusal is a human decision: name who decided (R-A8)")
    ticket = open_gdpr_ticket(uow, ref)
    honoured: str | None = None
    if partial and Category(ticket.category) in CARRIED_OUT:
        if fulfil is None:
            raise DecisionRefused(
                "a partial refusal carries the honoured part out, which is not available here"
            )
        done = fulfil(uow, ticket, actor, now, reasons)
        uow.audit.record(
            "ticket.refused",
            now,
            ticket_id=ticket.id,
            actor=actor,
            partial=True,
            reasons=len(reasons),
            honoured=done,
        )
        return Refusal(ref=ticket.ref, partial=True, outbox_id=None, honoured=done)
    customer, address = requester(uow, ticket)
    if partial:
        rectified = [
            e
            for e in uow.audit.about(customer.id, [ticket.id])
            if e.kind == "customer.rectified" and e.at >= ticket.received_at
        ]
        if not rectified:
            raise DecisionRefused(
                "carry the honoured part out first (customers update EMAIL ...), then refuse the rest"
            )
        honoured = "rectified"
    outbox_id = notify_customer(
        uow,
        renderer,
        policy,
        ticket=ticket,
        customer=customer,
        address=address,
        purpose="refusal",
        decision={"refusal": {"reasons": reasons, "partial": partial, "honoured": honoured}},
        now=now,
        dedupe_key=f"refusal:{ticket.id}",
    )
    ticket.answered_at = now
    ticket.first_responded_at = ticket.first_responded_at or now
    ticket.status = TicketStatus.RESOLVED.value
    ticket.updated_at = now
    uow.tickets.save(ticket)
    # The reasons are in the sealed letter; the audit trail records the fact, not the words (R-A18).
    uow.audit.record(
        "ticket.refused",
        now,
        ticket_id=ticket.id,
        actor=actor,
        partial=partial,
        reasons=len(reasons),
        outbox_id=outbox_id,
        honoured=honoured,
    )
    return Refusal(ref=ticket.ref, partial=partial, outbox_id=outbox_id, honoured=honoured)
