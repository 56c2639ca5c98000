"""Stage two: a stored raw message → classification, ticket, sealed correspondence (one transaction).

::

    pending raw ─► parse ─► classify ─► automated? ── yes ─► attach to the ticket it names, or stand alone
                                            │ no
                                            ▼
                        same Message-ID seen before? ── yes ─► possible duplicate on that ticket, no ack
                                            │ no
                                            ▼
             thread: In-Reply-To/References (trusted from anyone) ─► reply on that ticket
                     subject ref (only from the customer or a participant) ─► reply
                                            │ none
                                            ▼
                               new ticket with its deadlines ─► on_ticket_opened (acknowledgement…)

Any exception rolls the message's transaction back and counts an attempt; after ``max_attempts``
the message is quarantined with its error and the loop goes on (a poison message never blocks).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from mailbot.adapters.db.models import Customer, Message, Ticket
from mailbot.adapters.db.store import Database, Store, StoredRaw
from mailbot.domain.model import Category, Classification, Organisation, RawState, TicketStatus
from mailbot.domain.threading import find_ticket_refs
from mailbot.mail.dsn import returned_message_ids
from mailbot.mail.parse import ParsedMail, parse_message
from mailbot.services.ports import Clock

log = logging.getLogger(__name__)

#: A sender we cannot read strictly (R-C13) still gets a ticket, under this placeholder, for triage.
UNKNOWN_SENDER = "unknown-sender@invalid"


class Classifier(Protocol):
    def __call__(self, parsed: ParsedMail) -> Classification: ...


class DeadlineCalculator(Protocol):
    def __call__(self, category: Category, received_at: datetime) -> dict[str, datetime | None]:
        """Due fields for a new ticket: first_response_due, legal_due, internal_due, resolution_due…"""
        ...


TicketHook = Callable[["OpenedTicket"], None]


@dataclass(frozen=True)
class OpenedTicket:
    """What a hook (acknowledgement, staff notice) needs about a ticket just opened."""

    store: Store
    ticket: Ticket
    customer: Customer
    parsed: ParsedMail
    classification: Classification
    message: Message
    sender_address: str | None
    now: datetime


@dataclass
class Processor:
    org: Organisation
    classify: Classifier
    deadlines: DeadlineCalculator
    max_attempts: int = 3
    on_ticket_opened: list[TicketHook] = field(default_factory=list)


@dataclass
class ProcessReport:
    tickets_opened: int = 0
    appended: int = 0
    automated: int = 0
    duplicates: int = 0
    quarantined: int = 0
    retried: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)

    def count(self, raw_id: str, outcome: str) -> None:
        self.outcomes[raw_id] = outcome
        if outcome == "ticket_opened":
            self.tickets_opened += 1
        elif outcome == "appended":
            self.appended += 1
        elif outcome == "automated":
            self.automated += 1
        elif outcome == "duplicate":
            self.duplicates += 1


def process_pending(
    database: Database, processor: Processor, clock: Clock, *, batch: int = 100
) -> ProcessReport:
    """Process every pending message, oldest first, each in its own transaction.

    A failing message is retried at once up to ``max_attempts`` and then quarantined, so one pass
    ends with every message either processed or quarantined (``fetch --once`` runs to the end).
    """
    report = ProcessReport()
    while True:
        with database.transaction() as store:
            ids = store.pending_raw_ids(batch)
        if not ids:
            return report
        for raw_id in ids:
            outcome = process_one(database, processor, clock, raw_id)
            while outcome == "retry":
                report.retried += 1
                outcome = process_one(database, processor, clock, raw_id)
            if outcome == "quarantined":
                report.quarantined += 1
            elif outcome is not None:
                report.count(raw_id, outcome)


def process_one(database: Database, processor: Processor, clock: Clock, raw_id: str) -> str | None:
    """Returns the outcome, "retry" after a failed attempt, "quarantined", or None if not pending."""
    try:
        with database.transaction() as store:
            raw = store.load_raw(raw_id)
            if raw is None or raw.state != RawState.PENDING.value:
                return None
            outcome = _handle(store, processor, raw, clock())
            store.mark_processed(raw_id, outcome, clock())
        log.info("processed", extra={"raw_id": raw_id, "outcome": outcome})
        return outcome
    except Exception as exc:
        with database.transaction() as store:
            quarantined = store.record_failure(raw_id, exc, processor.max_attempts, clock())
        log.warning(
            "processing failed",
            extra={"raw_id": raw_id, "error": type(exc).__name__, "quarantined": quarantined},
        )
        return "quarantined" if quarantined else "retry"


def _handle(store: Store, processor: Processor, raw: StoredRaw, now: datetime) -> str:
    parsed = parse_message(raw.raw)
    classification = processor.classify(parsed)
    customer = store.customer(raw.customer_id) if raw.customer_id else None
    sender = parsed.from_address if customer else None

    if classification.category is Category.AUTOMATED or classification.automated:
        ticket = _linked_ticket(store, processor.org, parsed, sender, trust_subject_from_anyone=True)
        bounced = _mark_bounced(store, raw, parsed, now)
        if ticket is None and bounced:
            ticket = store.ticket(bounced[0]) if bounced[0] else None
        # Attached for the record only: no reopening, no deadline change, never answered.
        _record(store, ticket, customer, raw, parsed, classification, now, kind="automated", automated=True)
        if ticket is not None:
            store.audit("message.automated_attached", now, ticket_id=ticket.id, raw_id=raw.id)
        return "automated"

    if parsed.message_id:
        earlier = store.earlier_inbound_with_message_id(parsed.message_id, raw.id)
        if earlier is not None:
            ticket = store.ticket(earlier.ticket_id) if earlier.ticket_id else None
            _record(
                store,
                ticket,
                customer,
                raw,
                parsed,
                classification,
                now,
                kind="customer",
                possible_duplicate=True,
            )
            store.audit(
                "message.possible_duplicate", now, ticket_id=ticket.id if ticket else None, raw_id=raw.id
            )
            return "duplicate"

    ticket = _linked_ticket(store, processor.org, parsed, sender, trust_subject_from_anyone=False)
    if ticket is not None:
        if sender:
            store.add_participant(ticket, sender)
        _record(store, ticket, customer, raw, parsed, classification, now, kind="customer")
        if ticket.status in (
            TicketStatus.RESOLVED.value,
            TicketStatus.CLOSED.value,
            TicketStatus.WAITING.value,
        ):
            store.audit("ticket.reopened", now, ticket_id=ticket.id, previous=ticket.status)
            ticket.status = TicketStatus.OPEN.value
        ticket.updated_at = now
        store.audit("ticket.reply", now, ticket_id=ticket.id, raw_id=raw.id)
        return "appended"

    if customer is None:
        customer = store.find_or_create_customer(UNKNOWN_SENDER, None, now)
        classification = replace(classification, triage=True)  # R-C13: unreadable sender
    ticket = _open_ticket(store, processor, customer, raw, parsed, classification, now)
    message = _record(store, ticket, customer, raw, parsed, classification, now, kind="customer")
    opened = OpenedTicket(store, ticket, customer, parsed, classification, message, sender, now)
    for hook in processor.on_ticket_opened:
        hook(opened)
    return "ticket_opened"


def _mark_bounced(store: Store, raw: StoredRaw, parsed: ParsedMail, now: datetime) -> list[str | None]:
    """R-C6: a delivery report naming one of our messages marks that outbox row bounced.

    Returns the ticket ids of the bounced rows. A bounced answer to the customer is an alert for
    staff (the audit event, and the digest's failed-mail list): the promise was not kept.
    """
    if parsed.report_type == "disposition-notification":
        return []  # a read receipt (MDN): delivered, not bounced
    sender = (parsed.from_address or "").lower()
    looks_like_bounce = (
        parsed.content_type == "multipart/report"
        or "x-failed-recipients" in parsed.headers
        or sender.startswith(("mailer-daemon@", "postmaster@"))
    )
    if not looks_like_bounce:
        return []
    rows = store.outbox_by_message_ids(returned_message_ids(raw.raw))
    for row in rows:
        row.status = "bounced"
        row.last_error = "bounced (delivery status notification received)"
        store.audit(
            "mail.bounced", now, ticket_id=row.ticket_id, outbox_id=row.id, purpose=row.purpose, raw_id=raw.id
        )
    return [row.ticket_id for row in rows]


def _linked_ticket(
    store: Store,
    org: Organisation,
    parsed: ParsedMail,
    sender: str | None,
    *,
    trust_subject_from_anyone: bool,
) -> Ticket | None:
    """The ticket this message belongs to, by how hard the link is to fake.

    A Message-ID we issued or stored is trusted from any sender (reply-all from a colleague in Cc
    must not open a second ticket); a subject reference alone only from the ticket's customer or
    participants, so a stranger cannot write into somebody else's ticket by guessing its number.
    """
    ticket = store.ticket_by_message_ids(parsed.thread_ids)
    if ticket is not None:
        return ticket
    for ref in find_ticket_refs(parsed.subject, org.ticket_prefix):
        candidate = store.ticket_by_ref(ref)
        if candidate is None:
            continue
        if trust_subject_from_anyone or (sender and store.is_participant(candidate, sender)):
            return candidate
    return None


def _open_ticket(
    store: Store,
    processor: Processor,
    customer: Customer,
    raw: StoredRaw,
    parsed: ParsedMail,
    c: Classification,
    now: datetime,
) -> Ticket:
    category = c.category if c.category not in (Category.REPLY, Category.AUTOMATED) else Category.OTHER
    local_year = raw.received_at.astimezone(ZoneInfo(processor.org.timezone)).year
    dues = processor.deadlines(category, raw.received_at)
    ticket = Ticket(
        ref=store.next_ticket_ref(processor.org.ticket_prefix, local_year),
        category=category.value,
        secondary=c.secondary.value if c.secondary else None,
        status=TicketStatus.NEW.value,
        language=c.language or "nl",
        triage=c.triage,
        rule=c.rule[:64],
        confidence=c.confidence,
        received_at=raw.received_at,
        opened_at=now,
        updated_at=now,
        **dues,
    )
    store.add_ticket(ticket, customer, parsed.subject, c.evidence)
    store.audit(
        "ticket.opened",
        now,
        ticket_id=ticket.id,
        customer_id=customer.id,
        category=category.value,
        rule=c.rule,
        confidence=c.confidence,
        triage=c.triage,
    )
    log.info("ticket opened", extra={"ticket": ticket.ref, "category": category.value})
    return ticket


def _record(
    store: Store,
    ticket: Ticket | None,
    customer: Customer | None,
    raw: StoredRaw,
    parsed: ParsedMail,
    c: Classification,
    now: datetime,
    *,
    kind: str,
    automated: bool = False,
    possible_duplicate: bool = False,
) -> Message:
    meta: dict[str, Any] = {
        "message_id": parsed.message_id,
        "in_reply_to": list(parsed.in_reply_to),
        "references": list(parsed.references),
        "date": parsed.date.isoformat() if parsed.date else None,
        "reply_to": parsed.reply_to,
        "cc": list(parsed.cc),
        "from_name": parsed.from_name,
        "evidence": list(c.evidence),
        "secondary": c.secondary.value if c.secondary else None,
        "automated_reasons": list(c.automated_reasons),
        "defects": list(parsed.defects),
    }
    message = store.add_message(
        ticket=ticket,
        customer=customer,
        raw_id=raw.id,
        direction="in",
        kind=kind,
        message_id=parsed.message_id,
        received_at=raw.received_at,
        now=now,
        subject=parsed.subject,
        body=parsed.text,
        sender=parsed.from_address,
        recipients=[*parsed.to, *parsed.cc],
        meta=meta,
        category=c.category.value,
        rule=c.rule[:64],
        language=c.language,
        automated=automated,
        possible_duplicate=possible_duplicate,
    )
    for attachment in parsed.attachments:
        store.add_attachment(message, attachment.filename, attachment.content_type, attachment.content)
    return message
