"""Stage two: a stored raw message → decision, ticket, sealed correspondence (a savepoint of
its own inside one transaction per batch of messages).

The message is claimed first (so two workers never both process it), parsed once, and handed to
``decide`` (``services/decide.py``), the one function that says what it is and where it goes; this
module carries the decision out (with ``services/filing.py``): a new ticket with its deadlines and
the hooks (acknowledgement, staff notice), a reply appended (and the ticket reopened), automated
mail attached for the record, a possible duplicate kept beside its twin.

Any exception rolls the message's savepoint back and counts an attempt; after ``max_attempts``
the message is quarantined with its error and the loop goes on (a poison message never blocks).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from mailbot.domain.classifier import Classifier
from mailbot.domain.forms import read_mail
from mailbot.domain.model import (
    Category,
    Customer,
    Organisation,
    Ticket,
    TicketStatus,
)
from mailbot.domain.staff_mail import ReplyAddresses
from mailbot.mail.parse import ParsedMail
from mailbot.services.decide import Action, Decision, decide
from mailbot.services.filing import DeadlineCalculator, mark_bounced, open_ticket, record
from mailbot.services.ingest import ParsedCache
from mailbot.services.ports import Clock
from mailbot.services.repositories import Database, StoredRaw, UnitOfWork
from mailbot.services.threads import StoredThreads

log = logging.getLogger(__name__)

#: A sender we cannot read strictly (R-C13) still gets a ticket, under this placeholder, for triage.
UNKNOWN_SENDER = "unknown-sender@invalid"


TicketHook = Callable[["OpenedTicket"], None]
FollowUpHook = Callable[["FollowUp"], None]
StaffReplyHook = Callable[["StaffReply"], None]


@dataclass(frozen=True)
class OpenedTicket:
    """What a hook (acknowledgement, staff notice) needs about a ticket just opened."""

    uow: UnitOfWork
    ticket: Ticket
    customer: Customer
    parsed: ParsedMail
    decision: Decision
    sender_address: str | None
    now: datetime


@dataclass(frozen=True)
class FollowUp:
    """A customer's message appended to an open (or just reopened) ticket: staff are told."""

    uow: UnitOfWork
    ticket: Ticket
    customer: Customer | None
    parsed: ParsedMail
    now: datetime
    verifies_identity: bool = False  # sent to the identity challenge's private reply address
    #: A rights request the reply's words may make that its ticket is not (below the share that
    #: opens a ticket of its own, ``decide.REQUEST_IN_REPLY``): staff are told to look.
    possible_request: Category | None = None


@dataclass(frozen=True)
class StaffReply:
    """A verified staff reply to a ticket's private reply address, recorded on the ticket."""

    uow: UnitOfWork
    ticket: Ticket
    staff: str
    parsed: ParsedMail
    now: datetime


@dataclass
class Processor:
    org: Organisation
    classifier: Classifier
    deadlines: DeadlineCalculator
    max_attempts: int = 3
    auto_reply_cap_per_day: int = 3
    on_ticket_opened: list[TicketHook] = field(default_factory=list)
    on_follow_up: list[FollowUpHook] = field(default_factory=list)
    on_staff_reply: list[StaffReplyHook] = field(default_factory=list)
    replies: ReplyAddresses | None = None
    challenges: ReplyAddresses | None = None

    def read(self, raw: bytes) -> ParsedMail:
        """The one reading of a message's bytes, at intake and here: a form's mail as the person's."""
        return read_mail(raw, self.org)


@dataclass
class ProcessReport:
    tickets_opened: int = 0
    appended: int = 0
    automated: int = 0
    duplicates: int = 0
    staff_replies: int = 0
    filed: int = 0  # internal or suspicious: kept for staff, not handled
    quarantined: int = 0
    retried: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)

    def count(self, raw_id: str, outcome: str) -> None:
        self.outcomes[raw_id] = outcome
        if outcome == Action.OPEN:
            self.tickets_opened += 1
        elif outcome == Action.APPEND:
            self.appended += 1
        elif outcome == Action.AUTOMATED:
            self.automated += 1
        elif outcome == Action.DUPLICATE:
            self.duplicates += 1
        elif outcome == Action.STAFF_REPLY:
            self.staff_replies += 1
        elif outcome in (Action.INTERNAL, Action.SUSPICIOUS):
            self.filed += 1


def process_pending(
    database: Database,
    processor: Processor,
    clock: Clock,
    *,
    batch: int = 50,
    parsed: ParsedCache | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ProcessReport:
    """Process every pending message, oldest first: one transaction per ``batch`` messages, each
    message in a savepoint of its own.

    Why batches: a commit per message (and its begin, its flush, its re-read of what the previous
    transaction wrote) was a large part of the per-message cost. The savepoint keeps what one
    transaction per message gave: a failing message rolls back alone, counts an attempt (kept
    with the batch), is retried at once up to ``max_attempts`` and then quarantined, so one pass
    ends with every message either processed or quarantined (``fetch --once`` runs to the end).
    Should the batch itself fail (its commit, the connection), nothing of it was kept and its
    messages are done again one transaction each. A crash loses the batch's work, never a message:
    they are all still pending.

    ``should_stop`` is asked between messages: a service asked to stop (SIGTERM) commits what it
    did, finishing the message in hand, and leaves the rest pending for its next start. Messages
    another worker holds are skipped and left to it.
    """
    report = ProcessReport()
    skipped: set[str] = set()
    while True:
        with database.transaction() as uow:
            ids = [i for i in uow.mailbox.pending_ids(batch + len(skipped)) if i not in skipped]
        if not ids:
            return report
        try:
            done, stopped = _process_batch(database, processor, clock, ids, parsed, should_stop)
        except Exception as exc:
            log.warning("batch failed, one by one instead", extra={"error": type(exc).__name__})
            done, stopped = _one_by_one(database, processor, clock, ids, should_stop)
        for raw_id, outcome, retried in done:
            report.retried += retried
            if outcome == "quarantined":
                report.quarantined += 1
            elif outcome is None:
                skipped.add(raw_id)
            else:
                report.count(raw_id, outcome)
                log.info("processed", extra={"raw_id": raw_id, "outcome": outcome})
        if stopped:
            return report


_Done = list[tuple[str, str | None, int]]


def _process_batch(
    database: Database,
    processor: Processor,
    clock: Clock,
    ids: Sequence[str],
    parsed: ParsedCache | None,
    should_stop: Callable[[], bool] | None,
) -> tuple[_Done, bool]:
    """(raw id, outcome, retries) for each message handled, and whether a stop was asked."""
    done: _Done = []
    with database.transaction() as uow:
        for raw_id in ids:
            if should_stop is not None and should_stop():
                return done, True
            cached = parsed.take(raw_id) if parsed else None
            retried = 0
            while True:
                try:
                    with uow.savepoint():
                        outcome = _claim_and_handle(uow, processor, clock, raw_id, cached)
                    break
                except Exception as exc:
                    cached = None
                    if _record_failure(uow, processor, clock, raw_id, exc):
                        outcome = "quarantined"
                        break
                    retried += 1
            done.append((raw_id, outcome, retried))
    return done, False


def _one_by_one(
    database: Database,
    processor: Processor,
    clock: Clock,
    ids: Sequence[str],
    should_stop: Callable[[], bool] | None,
) -> tuple[_Done, bool]:
    done: _Done = []
    for raw_id in ids:
        if should_stop is not None and should_stop():
            return done, True
        retried = 0
        outcome = process_one(database, processor, clock, raw_id)
        while outcome == "retry":
            retried += 1
            outcome = process_one(database, processor, clock, raw_id)
        done.append((raw_id, outcome, retried))
    return done, False


def _claim_and_handle(
    uow: UnitOfWork, processor: Processor, clock: Clock, raw_id: str, parsed: ParsedMail | None
) -> str | None:
    raw = uow.mailbox.claim(raw_id)
    if raw is None:
        return None
    now = clock()
    if parsed is None:
        # Past the parse only the row's id, time and customer are read: letting the bytes go
        # keeps a large message from being held twice, as bytes and as its MIME tree (issue 15).
        parsed = processor.read(raw.raw)
        raw = replace(raw, raw=b"")
    outcome = handle(uow, processor, raw, now, parsed)
    del parsed  # its attachments' bytes need not be held while the row is rewritten (issue 15)
    uow.mailbox.mark_processed(raw_id, outcome, now)
    return outcome


def _record_failure(uow: UnitOfWork, processor: Processor, clock: Clock, raw_id: str, exc: Exception) -> bool:
    """Count the failed attempt (in ``uow``); True when the message is now quarantined."""
    quarantined = uow.mailbox.record_failure(
        raw_id, type(exc).__name__, str(exc), processor.max_attempts, clock()
    )
    log.warning(
        "processing failed",
        extra={"raw_id": raw_id, "error": type(exc).__name__, "quarantined": quarantined},
    )
    return quarantined


def process_one(
    database: Database, processor: Processor, clock: Clock, raw_id: str, parsed: ParsedCache | None = None
) -> str | None:
    """One message in a transaction of its own (``quarantine retry``, and a failed batch's
    messages). Returns the outcome, "retry" after a failed attempt, "quarantined", or None if not
    ours to do (processed already, or held by another worker)."""
    try:
        with database.transaction() as uow:
            outcome = _claim_and_handle(
                uow, processor, clock, raw_id, parsed.take(raw_id) if parsed else None
            )
        if outcome is not None:
            log.info("processed", extra={"raw_id": raw_id, "outcome": outcome})
        return outcome
    except Exception as exc:
        with database.transaction() as uow:
            quarantined = _record_failure(uow, processor, clock, raw_id, exc)
        return "quarantined" if quarantined else "retry"


def handle(
    uow: UnitOfWork, processor: Processor, raw: StoredRaw, now: datetime, parsed: ParsedMail | None = None
) -> str:
    """Decide on one claimed message and carry the decision out in ``uow`` (``parsed``: ingest's
    parse of the same bytes, when this pass made one)."""
    parsed = parsed or processor.read(raw.raw)
    customer = uow.customers.get(raw.customer_id) if raw.customer_id else None
    sender = parsed.from_address if customer else None
    decision = decide(
        parsed,
        processor.classifier,
        processor.org,
        StoredThreads(uow, raw.id, now),
        sender=sender,
        auto_reply_cap_per_day=processor.auto_reply_cap_per_day,
        replies=processor.replies,
        challenges=processor.challenges,
        restricted=bool(customer and customer.restricted),
    )
    c = decision.classification

    if decision.action is Action.STAFF_REPLY:
        assert decision.ticket_id is not None and sender is not None
        staff_ticket = uow.tickets.get(decision.ticket_id)
        assert staff_ticket is not None
        # Sealed under the ticket's customer's key: it quotes them, and is erased with them.
        owner = uow.customers.get(staff_ticket.customer_id)
        record(uow, staff_ticket.id, owner, raw, parsed, c, now, kind="staff_mail")
        uow.audit.record("message.staff_reply", now, ticket_id=staff_ticket.id, actor=sender, raw_id=raw.id)
        for staff_hook in processor.on_staff_reply:
            staff_hook(StaffReply(uow, staff_ticket, sender.strip().lower(), parsed, now))
        return decision.action.value

    if decision.action in (Action.INTERNAL, Action.SUSPICIOUS):
        # Never relayed, never a customer ticket: kept for staff (the digest lists it).
        filed_on = uow.tickets.get(decision.ticket_id) if decision.ticket_id else None
        owner = uow.customers.get(filed_on.customer_id) if filed_on else customer
        record(uow, decision.ticket_id, owner, raw, parsed, c, now, kind=decision.action.value)
        uow.audit.record(
            f"message.{decision.action.value}",
            now,
            ticket_id=decision.ticket_id,
            raw_id=raw.id,
            reason=decision.filed_reason,
        )
        log.info("filed", extra={"raw_id": raw.id, "outcome": decision.action.value})
        return decision.action.value

    if decision.action is Action.AUTOMATED:
        bounced = mark_bounced(uow, raw, parsed, now)
        ticket_id = decision.ticket_id or (bounced[0] if bounced else None)
        # Attached for the record only: no reopening, no deadline change, never answered.
        record(uow, ticket_id, customer, raw, parsed, c, now, kind="automated", automated=True)
        if ticket_id is not None:
            uow.audit.record("message.automated_attached", now, ticket_id=ticket_id, raw_id=raw.id)
        return decision.action.value

    if decision.action is Action.DUPLICATE:
        record(
            uow, decision.ticket_id, customer, raw, parsed, c, now, kind="customer", possible_duplicate=True
        )
        uow.audit.record("message.possible_duplicate", now, ticket_id=decision.ticket_id, raw_id=raw.id)
        return decision.action.value

    if decision.action is Action.APPEND:
        assert decision.ticket_id is not None
        ticket = uow.tickets.get(decision.ticket_id)
        assert ticket is not None
        if sender:
            uow.tickets.add_participant(ticket.id, sender)
        record(uow, ticket.id, customer, raw, parsed, c, now, kind="customer")
        if ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED, TicketStatus.WAITING):
            uow.audit.record("ticket.reopened", now, ticket_id=ticket.id, previous=ticket.status)
            ticket.status = TicketStatus.OPEN.value
        ticket.updated_at = now
        uow.tickets.save(ticket)
        uow.audit.record("ticket.reply", now, ticket_id=ticket.id, raw_id=raw.id)
        for follow_up in processor.on_follow_up:
            follow_up(
                FollowUp(
                    uow, ticket, customer, parsed, now, decision.verifies_identity, decision.possible_request
                )
            )
        return decision.action.value

    if customer is None:
        customer = uow.customers.find_or_create(UNKNOWN_SENDER, None, now)
    thread = uow.tickets.get(decision.asked_in) if decision.asked_in else None
    if thread is not None:  # staff see which conversation the request came from
        c = replace(c, evidence=(*c.evidence, f"thread {thread.ref}"))
    ticket = open_ticket(uow, processor.org, processor.deadlines, customer, raw, parsed, c, now)
    if thread is not None:
        uow.audit.record("ticket.request_opened", now, ticket_id=thread.id, request=ticket.ref, raw_id=raw.id)
    record(uow, ticket.id, customer, raw, parsed, c, now, kind="customer")
    opened = OpenedTicket(uow, ticket, customer, parsed, decision, sender, now)
    for hook in processor.on_ticket_opened:
        hook(opened)
    return decision.action.value
