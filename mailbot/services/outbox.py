"""Outgoing mail through a transactional outbox: written with the ticket, drained by the sender.

Enqueueing happens inside the transaction that opens the ticket (or records a deadline step), so
either both the ticket and its acknowledgement exist or neither does. The drain sends each row and
marks it sent in the same transaction that holds the row (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several senders never take the same row). The one window left: the SMTP server has
accepted a message but the process dies before the COMMIT that marks it sent; that row is sent
once more on the next drain. It is as small as one SMTP DATA reply.

Manners (R-C1…R-C5, R-C8): automated mail, our own addresses and empty senders are never
acknowledged; at most ``auto_reply_cap_per_day`` automatic mails per address per 24 hours; only the
sender's From address is answered, never an unverified Reply-To or the other recipients.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from mailbot.domain.model import Category, Customer, NewMessage, Organisation, Ticket
from mailbot.domain.promise import DEFAULT_PROMISE, ResponsePromise
from mailbot.mail.compose import (
    AUTO_GENERATED,
    AUTO_REPLIED,
    OutgoingMail,
    build_message,
    clean_header_text,
    make_message_id,
    subject_with_ref,
    thread_headers,
)
from mailbot.services.ports import (
    Clock,
    Mailer,
    PermanentDeliveryError,
    SessionMailer,
    TemporaryDeliveryError,
)
from mailbot.services.process import OpenedTicket
from mailbot.services.repositories import ClaimedMail, Database, OutgoingEntry, UnitOfWork

log = logging.getLogger(__name__)


class Rendered(Protocol):
    subject: str
    text: str
    html: str | None
    language: str


class Renderer(Protocol):
    def render(self, purpose: str, language: str | None, context: Mapping[str, Any]) -> Rendered: ...


@dataclass(frozen=True)
class OutboxPolicy:
    org: Organisation
    from_address: str
    staff_addresses: tuple[str, ...]
    auto_reply_cap_per_day: int = 3
    retry_horizon: timedelta = timedelta(hours=48)
    notify_staff: bool = True
    retry_first: timedelta = timedelta(minutes=1)
    #: What acknowledgements promise for the first answer (issue 17: working days by default).
    promise: ResponsePromise = DEFAULT_PROMISE


# -- enqueueing ----------------------------------------------------------------------------------------


def enqueue(
    uow: UnitOfWork,
    *,
    mail: OutgoingMail,
    purpose: str,
    now: datetime,
    ticket: Ticket | None = None,
    customer: Customer | None = None,
    dedupe_key: str | None = None,
    record_on_ticket: bool = True,
    own_key: bool = False,
) -> str:
    """Queue the serialised message (sealed by the repository) and record it on the ticket's thread.
    Returns the outbox id. ``own_key``: a letter that must outlive the customer's erasure (the
    erasure report) is sealed under a key of its own and tied to neither ticket nor customer."""
    if own_key:
        ticket = customer = None
    customer_id = customer.id if customer else None
    outbox_id = uow.outbox.add(
        OutgoingEntry(
            purpose=purpose,
            payload=build_message(mail),
            sender=mail.from_address,
            recipients=tuple(mail.to),
            message_id=mail.message_id,
            automatic=mail.auto_submitted is not None,
            ticket_id=ticket.id if ticket else None,
            customer_id=customer_id,
            dedupe_key=dedupe_key,
            own_key=own_key,
        ),
        now,
    )
    if ticket is not None and record_on_ticket:
        uow.messages.add(
            NewMessage(
                direction="out",
                kind=purpose,
                received_at=now,
                created_at=now,
                subject=mail.subject,
                body=mail.text,
                sender=mail.from_address,
                recipients=tuple(mail.to),
                meta={"message_id": mail.message_id, "auto_submitted": mail.auto_submitted},
                ticket_id=ticket.id,
                customer_id=customer_id,
                message_id=mail.message_id,
                language=mail.language,
            )
        )
    return outbox_id


def customer_mail(
    policy: OutboxPolicy,
    ticket: Ticket,
    to: str,
    rendered: Rendered,
    now: datetime,
    *,
    auto_submitted: str | None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
) -> OutgoingMail:
    """A templated mail to the customer about ``ticket``: its ref in the subject so replies thread."""
    return OutgoingMail(
        from_address=policy.from_address,
        from_name=policy.org.name,
        to=(to,),
        subject=subject_with_ref(ticket.ref, rendered.subject),
        text=rendered.text,
        html=rendered.html,
        message_id=make_message_id(policy.org.domain),
        date=now,
        language=rendered.language,
        auto_submitted=auto_submitted,
        in_reply_to=in_reply_to,
        references=tuple(references),
        ticket_ref=ticket.ref,
    )


def acknowledgement_id(uow: UnitOfWork, ticket: Ticket) -> str | None:
    """Our acknowledgement's Message-ID, so later letters on the ticket thread under it (R-C10)."""
    return uow.outbox.first_message_id(ticket.id, "acknowledgement")


def notify_customer(
    uow: UnitOfWork,
    renderer: Renderer,
    policy: OutboxPolicy,
    *,
    ticket: Ticket,
    customer: Customer,
    address: str,
    purpose: str,
    decision: Mapping[str, Any],
    now: datetime,
    dedupe_key: str,
    own_key: bool = False,
    attachments: tuple[tuple[str, str, bytes], ...] = (),
) -> str:
    """A templated letter about a staff decision (extension, refusal), threaded under our
    acknowledgement. ``decision`` adds the decision's own template values to the ticket's.
    ``auto-generated``: mailbot writes it from a template on a human decision, and the mark keeps
    the requester's autoresponders from answering it (RFC 3834)."""
    context = {
        **ticket_context(ticket, customer.name, uow.tickets.subject(ticket), policy.org, policy.promise),
        **decision,
    }
    rendered = renderer.render(purpose, ticket.language, context)
    ack_id = acknowledgement_id(uow, ticket)
    mail = customer_mail(
        policy,
        ticket,
        address,
        rendered,
        now,
        auto_submitted=AUTO_GENERATED,
        in_reply_to=ack_id,
        references=(ack_id,) if ack_id else (),
    )
    if attachments:
        mail = replace(mail, attachments=attachments)
    return enqueue(
        uow,
        mail=mail,
        purpose=purpose,
        now=now,
        ticket=ticket,
        customer=customer,
        dedupe_key=dedupe_key,
        own_key=own_key,
    )


def ticket_context(
    ticket: Ticket,
    customer_name: str,
    subject: str,
    org: Organisation,
    promise: ResponsePromise | None = None,
) -> dict[str, Any]:
    """The ``ticket``/``customer``/``message`` part of every letter's context. ``promised_response``
    is what the letter may promise (``promise``, working days by default), never the internal
    ``first_response_due``, which counts clock hours and may fall on a Sunday."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(org.timezone)
    category = Category(ticket.category)
    promise = promise or DEFAULT_PROMISE
    promised = promise.due(ticket.received_at) if ticket.first_response_due is not None else None
    return {
        "org": {"name": org.name, "mailbox": org.mailbox, "website": org.domain},
        "ticket": {
            "ref": ticket.ref,
            "category": category,
            "received_at": ticket.received_at,
            "first_response_due": ticket.first_response_due,
            "promised_response": promised,
            "promise_mode": promise.mode,
            "promise_hours": promise.hours,
            "decision_due": ticket.resolution_due.astimezone(zone).date() if ticket.resolution_due else None,
            "legal_start": ticket.received_at.astimezone(zone).date() if ticket.legal_due else None,
            "legal_due": ticket.legal_due.astimezone(zone).date() if ticket.legal_due else None,
            "internal_due": ticket.internal_due.astimezone(zone).date() if ticket.internal_due else None,
            # R-C15/R-A7: the letter promises the confirmation message only when one went out.
            "identity_check": ticket.identity_status == "pending" and ticket.identity_method == "challenge",
            "status": ticket.status,
            "triage": ticket.triage,
            # Issue 17: staff notices say which language the requester reads.
            "language": ticket.language,
        },
        "customer": {"name": clean_header_text(customer_name, 80)},
        "message": {"subject": clean_header_text(subject, 150)},
    }


def acknowledgement_hook(renderer: Renderer, policy: OutboxPolicy) -> Callable[[OpenedTicket], None]:
    """Runs inside the processing transaction of every new ticket: the acknowledgement ``decide``
    asked for (or the reason it gave for none, audited). The notice to staff is
    ``staff_hooks.new_ticket_notice``."""

    def on_ticket_opened(opened: OpenedTicket) -> None:
        ticket, uow, now = opened.ticket, opened.uow, opened.now
        context = ticket_context(
            ticket, opened.parsed.from_name, opened.parsed.subject, policy.org, policy.promise
        )
        decision = opened.decision
        if decision.ack_purpose is not None:
            rendered = renderer.render(decision.ack_purpose, ticket.language, context)
            in_reply_to, references = thread_headers(
                opened.parsed.message_id, opened.parsed.references, opened.parsed.in_reply_to
            )
            mail = customer_mail(
                policy,
                ticket,
                opened.sender_address or "",
                rendered,
                now,
                auto_submitted=AUTO_REPLIED,
                in_reply_to=in_reply_to,
                references=references,
            )
            enqueue(
                uow,
                mail=mail,
                purpose="acknowledgement",
                now=now,
                ticket=ticket,
                customer=opened.customer,
                dedupe_key=f"ack:{ticket.id}",
            )
            uow.audit.record("ack.queued", now, ticket_id=ticket.id)
        else:
            uow.audit.record("ack.skipped", now, ticket_id=ticket.id, reason=decision.no_ack_reason)

    return on_ticket_opened


def staff_mail(
    uow: UnitOfWork,
    renderer: Renderer,
    policy: OutboxPolicy,
    purpose: str,
    context: Mapping[str, Any],
    now: datetime,
    *,
    ticket: Ticket | None = None,
    dedupe_key: str | None = None,
    to: Sequence[str] | None = None,
) -> str:
    """A notice to staff (new ticket, reminder, escalation, digest): auto-generated, system key."""
    rendered = renderer.render(purpose, "nl", context)
    subject = (
        subject_with_ref(ticket.ref, rendered.subject) if ticket else clean_header_text(rendered.subject)
    )
    mail = OutgoingMail(
        from_address=policy.from_address,
        from_name=f"{policy.org.name} mailbot",
        to=tuple(to or policy.staff_addresses),
        subject=subject,
        text=rendered.text,
        html=rendered.html,
        message_id=make_message_id(policy.org.domain),
        date=now,
        language=rendered.language,
        auto_submitted=AUTO_GENERATED,
        ticket_ref=ticket.ref if ticket else None,
    )
    return enqueue(
        uow,
        mail=mail,
        purpose=purpose,
        now=now,
        ticket=ticket,
        customer=None,
        dedupe_key=dedupe_key,
        record_on_ticket=False,
    )


# -- draining ------------------------------------------------------------------------------------------


@dataclass
class DrainReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


def backoff(
    attempts: int, rng: random.Random | None = None, first: timedelta = timedelta(minutes=1)
) -> timedelta:
    """Exponential backoff with jitter: ~``first`` (1 minute), twice that, four times … capped at
    one hour; the jitter (50–100%) keeps many deferred mails from retrying in one burst."""
    base = min(first.total_seconds() * 2 ** max(attempts - 1, 0), 3600)
    return timedelta(seconds=base * (0.5 + (rng or random).random() / 2))


def drain(
    database: Database, mailer: Mailer, clock: Clock, policy: OutboxPolicy, *, limit: int = 100_000
) -> DrainReport:
    """Send every due outbox row once; returns what happened.

    ``limit`` only bounds a drain that would never end (rows are claimed one at a time and each
    leaves the due set once tried); at 1,000 a ``send --once`` after a large intake left most of
    the outbox for further runs, each paying the command's start-up again."""
    report = DrainReport()
    with mailer.session() if isinstance(mailer, SessionMailer) else nullcontext():
        for _ in range(limit):
            outcome = _send_one(database, mailer, clock, policy)
            if outcome is None:
                break
            setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _send_one(database: Database, mailer: Mailer, clock: Clock, policy: OutboxPolicy) -> str | None:
    accepted: ClaimedMail | None = None  # the server has answered 250 for this one
    try:
        with database.transaction() as uow:
            now = clock()
            mail = uow.outbox.claim_due(now)
            if mail is None:
                return None
            try:
                mailer.send(mail.sender, mail.recipients, mail.payload)
            except TemporaryDeliveryError as exc:
                if now - mail.created_at >= policy.retry_horizon:
                    return _fail(uow, mail, f"gave up after {mail.attempts} attempts: {exc.detail}", now)
                uow.outbox.defer(mail.id, now + backoff(mail.attempts, first=policy.retry_first), exc.detail)
                log.info("send deferred", extra={"outbox_id": mail.id, "attempts": mail.attempts})
                return "retried"
            except PermanentDeliveryError as exc:
                return _fail(uow, mail, exc.detail, now)
            accepted = mail
            _record_sent(uow, mail, now)
        return "sent"
    except Exception:
        if accepted is None:
            raise
        # The mail is out, but marking it sent did not commit (a deadlock with another worker's
        # batch, a dropped connection): left pending, the next drain would send it again.
        _record_sent_again(database, accepted, clock)
        return "sent"


def _record_sent(uow: UnitOfWork, mail: ClaimedMail, now: datetime) -> None:
    uow.outbox.mark_sent(mail.id, now)
    uow.audit.record("mail.sent", now, ticket_id=mail.ticket_id, purpose=mail.purpose, outbox_id=mail.id)


def _record_sent_again(database: Database, mail: ClaimedMail, clock: Clock, attempts: int = 5) -> None:
    """Record an accepted mail as sent in fresh transactions (a deadlock is transient)."""
    for attempt in range(1, attempts + 1):
        try:
            with database.transaction() as uow:
                _record_sent(uow, mail, clock())
            log.warning("sent mail recorded on a second try", extra={"outbox_id": mail.id, "try": attempt})
            return
        except Exception:
            if attempt == attempts:
                raise
            time.sleep(0.05 * attempt)


def _fail(uow: UnitOfWork, mail: ClaimedMail, detail: str, now: datetime) -> str:
    uow.outbox.fail(mail.id, detail)
    uow.audit.record("mail.failed", now, ticket_id=mail.ticket_id, purpose=mail.purpose, outbox_id=mail.id)
    log.warning("send failed", extra={"outbox_id": mail.id, "purpose": mail.purpose})
    return "failed"
