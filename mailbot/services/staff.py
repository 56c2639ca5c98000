"""Staff answering through the ticket: the answer to the customer, notes, assignment and status.

One set of functions for every door: a staff reply by mail (``carry_out``, from the processing
transaction), the CLI and, later, the web interface call the same ``answer``, ``add_note``,
``assign`` and ``set_status``. Each records what it did on the ticket and in the audit trail with
the staff member's identity; none sees SQL or ciphertext.

The answer goes to the customer's address on file (never to an address the staff mail names),
from the organisation's address, threaded under the customer's last message, with the reference
in the subject. It is a human answer: no ``Auto-Submitted`` mark, so it sets
``first_responded_at`` and the 48-hour ladder stops.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from mailbot.domain.model import CLOSED_STATUSES, NewMessage, Ticket, TicketStatus
from mailbot.domain.staff_mail import ReplyAddresses, StaffCommand, resolve_staff
from mailbot.mail.compose import OutgoingMail, make_message_id, subject_with_ref
from mailbot.services.outbox import OutboxPolicy, Renderer, enqueue, ticket_context
from mailbot.services.repositories import UnitOfWork

log = logging.getLogger(__name__)

_REPLY_PREFIX = re.compile(r"^(?:\s*(?:re|aw|antw|sv|fw|fwd|wg)\s*:\s*)+", re.IGNORECASE)

#: Placeholder customer of mail whose sender could not be read: nobody to answer.
_NOBODY = "unknown-sender@invalid"


class StaffActionRefused(ValueError):
    """The action cannot be done on this ticket (nothing was changed); the message says why."""


@dataclass(frozen=True)
class StaffDesk:
    """What staff actions need: the outbox policy (addresses, staff list), the templates and the
    private reply addresses."""

    policy: OutboxPolicy
    renderer: Renderer
    replies: ReplyAddresses

    @property
    def staff(self) -> tuple[str, ...]:
        return tuple(a.lower() for a in self.policy.staff_addresses)

    def member(self, who: str) -> str:
        """The staff address ``who`` names (address or the part before the @); refused otherwise."""
        found = resolve_staff(who, self.staff)
        if found is None:
            raise StaffActionRefused(f"{who!r} is not on the staff list (staff.addresses)")
        return found


def ticket_by_ref(uow: UnitOfWork, ref: str) -> Ticket:
    ticket = uow.tickets.by_ref(ref.strip().upper())
    if ticket is None:
        raise LookupError(f"no ticket {ref}")
    return ticket


def answer(uow: UnitOfWork, desk: StaffDesk, ticket: Ticket, staff: str, text: str, now: datetime) -> str:
    """Send ``text`` to the customer as the answer on ``ticket``; returns the outbox id."""
    body = text.strip()
    if not body:
        raise StaffActionRefused("the answer is empty")
    customer = uow.customers.get(ticket.customer_id)
    if customer is None or customer.erased_at is not None or customer.address in ("", _NOBODY):
        raise StaffActionRefused("the customer has no address on file to answer")
    org = desk.policy.org
    subject = _REPLY_PREFIX.sub("", uow.tickets.subject(ticket)).strip()
    context = {
        **ticket_context(ticket, customer.name, subject, org, desk.policy.promise),
        "answer": {"text": body, "staff": staff},
    }
    # Not the Dutch-plus-English pair other letters get: the answer is written once, by a person.
    language = "nl" if ticket.language == "nl" else "en"
    rendered = desk.renderer.render("staff_answer", language, context)
    last = uow.messages.last_customer_message_id(ticket.id)
    ack = uow.outbox.first_message_id(ticket.id, "acknowledgement")
    references = tuple(dict.fromkeys(m for m in (ack, last) if m))
    mail = OutgoingMail(
        from_address=desk.policy.from_address,
        from_name=org.name,
        to=(customer.address,),
        subject=subject_with_ref(ticket.ref, rendered.subject),
        text=rendered.text,
        html=None,
        message_id=make_message_id(org.domain),
        date=now,
        language=rendered.language,
        auto_submitted=None,  # a person's answer, not an automatic one
        in_reply_to=last or ack,
        references=references,
        ticket_ref=ticket.ref,
    )
    outbox_id = enqueue(uow, mail=mail, purpose="staff_answer", now=now, ticket=ticket, customer=customer)
    if ticket.first_responded_at is None:
        ticket.first_responded_at = now
    if ticket.status in (TicketStatus.NEW.value, *CLOSED_STATUSES):
        ticket.status = TicketStatus.OPEN.value
    ticket.updated_at = now
    uow.tickets.save(ticket)
    uow.audit.record("ticket.answered", now, ticket_id=ticket.id, actor=staff, outbox_id=outbox_id)
    log.info("staff answer queued", extra={"ticket": ticket.ref})
    return outbox_id


def add_note(uow: UnitOfWork, ticket: Ticket, staff: str, text: str, now: datetime) -> str:
    """An internal note on the ticket: stored sealed with the correspondence, never sent."""
    body = text.strip()
    if not body:
        raise StaffActionRefused("the note is empty")
    message_id = uow.messages.add(
        NewMessage(
            direction="internal",
            kind="note",
            received_at=now,
            created_at=now,
            subject="",
            body=body,
            sender=staff,
            recipients=(),
            meta={},
            ticket_id=ticket.id,
            customer_id=ticket.customer_id,
        )
    )
    ticket.updated_at = now
    uow.tickets.save(ticket)
    uow.audit.record("ticket.note", now, ticket_id=ticket.id, actor=staff, message_id=message_id)
    return message_id


def assign(uow: UnitOfWork, desk: StaffDesk, ticket: Ticket, staff: str, name: str, now: datetime) -> str:
    """Hand the ticket to the staff member ``name`` names; their notices go to them from now on."""
    assignee = desk.member(name)
    previous = ticket.assignee
    ticket.assignee = assignee
    ticket.updated_at = now
    uow.tickets.save(ticket)
    uow.audit.record(
        "ticket.assigned", now, ticket_id=ticket.id, actor=staff, assignee=assignee, previous=previous
    )
    return assignee


#: Statuses staff may set; ``new`` is only ever the state of a ticket nobody touched.
STAFF_STATUSES = tuple(s.value for s in TicketStatus if s is not TicketStatus.NEW)


def set_status(uow: UnitOfWork, ticket: Ticket, staff: str, status: str, now: datetime) -> str:
    """Set the status; resolving or closing ends the ticket's running terms (it is answered)."""
    wanted = status.strip().lower()
    if wanted not in STAFF_STATUSES:
        raise StaffActionRefused(f"unknown status {status!r} (choose {', '.join(STAFF_STATUSES)})")
    previous = ticket.status
    ticket.status = wanted
    if wanted in CLOSED_STATUSES and ticket.answered_at is None:
        ticket.answered_at = now
    ticket.updated_at = now
    uow.tickets.save(ticket)
    uow.audit.record("ticket.status", now, ticket_id=ticket.id, actor=staff, status=wanted, previous=previous)
    return wanted


@dataclass(frozen=True)
class Outcome:
    """What a staff reply by mail did, for the confirmation to the staff member."""

    command: str
    answered: bool = False
    noted: bool = False
    status: str | None = None
    assignee: str | None = None
    verified: bool = False
    extended_to: str | None = None  # the new legal end date (ISO)
    refused: bool = False
    fulfilled: str | None = None  # what carrying the request out did
    error: str | None = None


def carry_out(
    uow: UnitOfWork,
    desk: StaffDesk,
    ticket: Ticket,
    staff: str,
    command: StaffCommand,
    argument: str,
    text: str,
    now: datetime,
) -> Outcome:
    """Do what a verified staff reply asks. A refusal (no address on file, unknown colleague) is an
    outcome, not an exception: the staff mail stays recorded and the staff member is told."""
    try:
        if command is StaffCommand.NOTE:
            add_note(uow, ticket, staff, text, now)
            return Outcome(command.value, noted=True)
        if command is StaffCommand.ASSIGN:
            assignee = assign(uow, desk, ticket, staff, argument, now)
            answered = bool(text) and bool(answer(uow, desk, ticket, staff, text, now))
            return Outcome(command.value, answered=answered, assignee=assignee)
        answered = False
        if text or command is StaffCommand.ANSWER:
            answered = bool(answer(uow, desk, ticket, staff, text, now))
        status = None
        if command is StaffCommand.CLOSE:
            status = set_status(uow, ticket, staff, TicketStatus.CLOSED.value, now)
        elif command is StaffCommand.WAIT:
            status = set_status(uow, ticket, staff, TicketStatus.WAITING.value, now)
        return Outcome(command.value, answered=answered, status=status)
    except StaffActionRefused as exc:
        return Outcome(command.value, error=str(exc))


def confirm(
    uow: UnitOfWork, desk: StaffDesk, ticket: Ticket, staff: str, outcome: Outcome, now: datetime
) -> str:
    """A short note back to the staff member saying what their mail did (or why it did nothing)."""
    context = {
        **ticket_context(ticket, "", "", desk.policy.org, desk.policy.promise),
        "outcome": {
            "command": outcome.command,
            "answered": outcome.answered,
            "noted": outcome.noted,
            "status": outcome.status,
            "assignee": outcome.assignee,
            "verified": outcome.verified,
            "extended_to": outcome.extended_to,
            "refused": outcome.refused,
            "fulfilled": outcome.fulfilled,
            "error": outcome.error,
        },
    }
    return notice(uow, desk, "staff_confirmation", context, ticket, (staff,), now, reply_to=False)


def notice(
    uow: UnitOfWork,
    desk: StaffDesk,
    purpose: str,
    context: dict[str, object],
    ticket: Ticket,
    recipients: Sequence[str],
    now: datetime,
    *,
    reply_to: bool = True,
    dedupe: str | None = None,
) -> str:
    """One mail per staff member, each with that member's own private reply address."""
    from mailbot.mail.compose import AUTO_GENERATED

    rendered = desk.renderer.render(purpose, "nl", context)
    # The notice quotes the customer: sealed under their key, so erasing them erases it too.
    about = uow.customers.get(ticket.customer_id)
    if about is not None and about.erased_at is not None:
        # Just erased (``#fulfil`` / ``#refuse partly`` on an erasure): their key is gone, and the
        # confirmation quotes nothing of them, so it is sealed under the system's key.
        about = None
    last = ""
    for recipient in recipients:
        mail = OutgoingMail(
            from_address=desk.policy.from_address,
            from_name=f"{desk.policy.org.name} mailbot",
            to=(recipient,),
            subject=subject_with_ref(ticket.ref, rendered.subject),
            text=rendered.text,
            html=None,
            message_id=make_message_id(desk.policy.org.domain),
            date=now,
            language=rendered.language,
            auto_submitted=AUTO_GENERATED,
            reply_to=desk.replies.address_for(ticket.ref, recipient) if reply_to else None,
            ticket_ref=ticket.ref,
        )
        last = enqueue(
            uow,
            mail=mail,
            purpose=purpose,
            now=now,
            ticket=ticket,
            customer=about,
            dedupe_key=f"{dedupe}:{recipient}" if dedupe else None,
            record_on_ticket=False,
        )
    return last


def notify_staff(
    uow: UnitOfWork,
    desk: StaffDesk,
    ticket: Ticket,
    purpose: str,
    customer_name: str,
    subject: str,
    text: str,
    now: datetime,
    *,
    dedupe: str,
    restricted: bool = False,
    possible_request: str | None = None,
) -> None:
    """The notice of a new ticket or a customer's follow-up: the assignee, else the staff list,
    with the customer's words and the ticket's private reply address (issue 11) — but neither
    name, subject nor words of a customer whose data is restricted (R-A14)."""
    if not desk.policy.notify_staff:
        return
    recipients = (ticket.assignee,) if ticket.assignee else desk.staff
    if restricted:
        customer_name = subject = text = ""
    context = {
        **ticket_context(ticket, customer_name, subject, desk.policy.org, desk.policy.promise),
        "restricted": restricted,
        "possible_request": possible_request,
        "body": text.strip()[:20000],
        "due_local": (
            ticket.first_response_due.astimezone(ZoneInfo(desk.policy.org.timezone))
            if ticket.first_response_due and ticket.first_responded_at is None
            else None
        ),
    }
    notice(uow, desk, purpose, context, ticket, recipients, now, dedupe=dedupe)
