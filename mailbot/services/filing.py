"""Carrying a decision out in storage: a new ticket with its deadlines, a message recorded on
its ticket (sealed, with its attachments), a delivery report marking our mail bounced.

Split from ``process.py`` (which decides what to do and runs the batches) so each stays small.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from mailbot.domain.model import (
    Category,
    Classification,
    Customer,
    NewMessage,
    Organisation,
    Ticket,
    TicketStatus,
    new_id,
)
from mailbot.mail.parse import ParsedMail
from mailbot.services.repositories import StoredRaw, UnitOfWork

log = logging.getLogger(__name__)


class DeadlineCalculator(Protocol):
    def __call__(self, category: Category, received_at: datetime) -> dict[str, datetime | None]:
        """Due fields for a new ticket: first_response_due, legal_due, internal_due, resolution_due…"""
        ...


def mark_bounced(uow: UnitOfWork, raw: StoredRaw, parsed: ParsedMail, now: datetime) -> list[str]:
    """R-C6: a delivery report naming one of our messages marks that outbox row bounced.

    Returns the ticket ids of the bounced rows. A bounced answer to the customer is an alert for
    staff (the audit event, and the digest's failed-mail list): the promise was not kept.
    """
    rows = uow.outbox.bounce(parsed.bounced_ids)
    for row in rows:
        uow.audit.record(
            "mail.bounced", now, ticket_id=row.ticket_id, outbox_id=row.id, purpose=row.purpose, raw_id=raw.id
        )
    return [row.ticket_id for row in rows if row.ticket_id]


def open_ticket(
    uow: UnitOfWork,
    org: Organisation,
    deadlines: DeadlineCalculator,
    customer: Customer,
    raw: StoredRaw,
    parsed: ParsedMail,
    c: Classification,
    now: datetime,
) -> Ticket:
    category = c.category if c.category not in (Category.REPLY, Category.AUTOMATED) else Category.OTHER
    local_year = raw.received_at.astimezone(ZoneInfo(org.timezone)).year
    # Any: the calculator's keys are exactly Ticket's deadline fields (bootstrap.deadline_calculator).
    # Machine mail by the model's reading (a triage ticket, never answered) promises no answer.
    due: dict[str, Any] = dict(deadlines(Category.AUTOMATED if c.automated else category, raw.received_at))
    if c.first_answer_as is not None:  # the subject's promise (R-B1) outlives a different category
        promised = deadlines(c.first_answer_as, raw.received_at).get("first_response_due")
        current = due.get("first_response_due")
        if promised is not None and (current is None or promised < current):
            due["first_response_due"] = promised
    ticket = Ticket(
        id=new_id(),
        ref=uow.tickets.next_ref(org.ticket_prefix, local_year),
        category=category.value,
        secondary=c.secondary.value if c.secondary else None,
        status=TicketStatus.NEW.value,
        customer_id=customer.id,
        language=c.language or "nl",
        triage=c.triage,
        rule=c.rule[:64],
        confidence=c.confidence,
        received_at=raw.received_at,
        opened_at=now,
        updated_at=now,
        **due,
    )
    # A form's mail says so where staff read why (``tickets show``, the ticket page): the sender
    # they see is the address typed into the form, which nobody has verified.
    via = (f"via form {parsed.via_form}",) if parsed.via_form else ()
    uow.tickets.add(ticket, parsed.subject, (*c.evidence, *via))
    uow.audit.record(
        "ticket.opened",
        now,
        ticket_id=ticket.id,
        customer_id=customer.id,
        category=category.value,
        rule=c.rule,
        confidence=c.confidence,
        triage=c.triage,
        via_form=bool(parsed.via_form),
    )
    log.info("ticket opened", extra={"ticket": ticket.ref, "category": category.value})
    return ticket


def record(
    uow: UnitOfWork,
    ticket_id: str | None,
    customer: Customer | None,
    raw: StoredRaw,
    parsed: ParsedMail,
    c: Classification,
    now: datetime,
    *,
    kind: str,
    automated: bool = False,
    possible_duplicate: bool = False,
) -> str:
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
        "via_form": parsed.via_form,  # the form that relayed the person's words (domain/forms.py)
    }
    message_id = uow.messages.add(
        NewMessage(
            direction="in",
            kind=kind,
            received_at=raw.received_at,
            created_at=now,
            subject=parsed.subject,
            body=parsed.text,
            sender=parsed.from_address,
            recipients=(*parsed.to, *parsed.cc),
            meta=meta,
            ticket_id=ticket_id,
            customer_id=customer.id if customer else None,
            raw_id=raw.id,
            message_id=parsed.message_id,
            category=c.category.value,
            rule=c.rule[:64],
            language=c.language,
            automated=automated,
            possible_duplicate=possible_duplicate,
        )
    )
    for attachment in parsed.attachments:
        uow.messages.add_attachment(
            message_id, attachment.filename, attachment.content_type, attachment.content
        )
    return message_id
