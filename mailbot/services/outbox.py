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

import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select

from mailbot.adapters.db.models import Customer, Outbox, Ticket, new_id
from mailbot.adapters.db.store import Database, Store
from mailbot.adapters.db.vault import SYSTEM_OWNER
from mailbot.domain.model import TICKET_CATEGORIES, Category, Organisation
from mailbot.mail.compose import (
    AUTO_GENERATED,
    AUTO_REPLIED,
    OutgoingMail,
    build_message,
    clean_header_text,
    make_message_id,
    serialize,
    subject_with_ref,
    thread_headers,
)
from mailbot.services.ports import Clock, Mailer, PermanentDeliveryError, TemporaryDeliveryError
from mailbot.services.process import OpenedTicket

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


# -- enqueueing ----------------------------------------------------------------------------------------


def enqueue(
    store: Store,
    *,
    mail: OutgoingMail,
    purpose: str,
    now: datetime,
    ticket: Ticket | None = None,
    customer: Customer | None = None,
    dedupe_key: str | None = None,
    record_on_ticket: bool = True,
) -> Outbox:
    """Seal the serialised message and its envelope into the outbox (and the ticket's thread)."""
    payload = serialize(build_message(mail))
    owner = customer.id if customer else SYSTEM_OWNER
    key_id = customer.data_key_id if customer else store.vault.system_key(store.session, now)
    row = Outbox(
        id=new_id(),  # now, not at flush: the id is sealed into the payload's associated data
        ticket_id=ticket.id if ticket else None,
        customer_id=customer.id if customer else None,
        data_key_id=key_id,
        purpose=purpose,
        automatic=mail.auto_submitted is not None,
        message_id=mail.message_id,
        recipient_index=store.address_index(mail.to[0]) if len(mail.to) == 1 else None,
        dedupe_key=dedupe_key,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    where = ("outbox", "payload", row.id, owner)
    row.payload_enc = store.vault.seal(store.session, key_id, where, payload) or b""
    envelope = json.dumps({"from": mail.from_address, "to": list(mail.to)})
    row.envelope_enc = (
        store.vault.seal(store.session, key_id, ("outbox", "envelope", row.id, owner), envelope) or b""
    )
    store.session.add(row)
    if ticket is not None and record_on_ticket:
        store.add_message(
            ticket=ticket,
            customer=customer,
            raw_id=None,
            direction="out",
            kind=purpose,
            message_id=mail.message_id,
            received_at=now,
            now=now,
            subject=mail.subject,
            body=mail.text,
            sender=mail.from_address,
            recipients=mail.to,
            meta={"message_id": mail.message_id, "auto_submitted": mail.auto_submitted},
            language=mail.language,
        )
    return row


def automatic_replies_today(store: Store, address: str, now: datetime) -> int:
    index = store.address_index(address)
    return int(
        store.session.scalar(
            select(func.count(Outbox.id)).where(
                Outbox.recipient_index == index,
                Outbox.automatic.is_(True),
                Outbox.created_at > now - timedelta(hours=24),
            )
        )
        or 0
    )


def is_own_address(org: Organisation, address: str) -> bool:
    address = address.strip().lower()
    domain = address.rpartition("@")[2]
    return (
        address in org.own_addresses
        or domain == org.domain.lower()
        or domain.endswith("." + org.domain.lower())
    )


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


def acknowledgement_id(store: Store, ticket: Ticket) -> str | None:
    """Our acknowledgement's Message-ID, so later letters on the ticket thread under it (R-C10)."""
    return store.session.scalar(
        select(Outbox.message_id)
        .where(Outbox.ticket_id == ticket.id, Outbox.purpose == "acknowledgement")
        .limit(1)
    )


def notify_customer(
    store: Store,
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
) -> Outbox:
    """A templated letter about a staff decision (extension, refusal), threaded under our
    acknowledgement. ``decision`` adds the decision's own template values to the ticket's.
    ``auto-generated``: mailbot writes it from a template on a human decision, and the mark keeps
    the requester's autoresponders from answering it (RFC 3834)."""
    context = {
        **ticket_context(ticket, store.customer_name(customer), store.ticket_subject(ticket), policy.org),
        **decision,
    }
    rendered = renderer.render(purpose, ticket.language, context)
    ack_id = acknowledgement_id(store, ticket)
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
    return enqueue(
        store, mail=mail, purpose=purpose, now=now, ticket=ticket, customer=customer, dedupe_key=dedupe_key
    )


def ticket_context(ticket: Ticket, customer_name: str, subject: str, org: Organisation) -> dict[str, Any]:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(org.timezone)
    category = Category(ticket.category)
    return {
        "org": {"name": org.name, "mailbox": org.mailbox, "website": org.domain},
        "ticket": {
            "ref": ticket.ref,
            "category": category,
            "received_at": ticket.received_at,
            "first_response_due": ticket.first_response_due,
            "decision_due": ticket.resolution_due.astimezone(zone).date() if ticket.resolution_due else None,
            "legal_start": ticket.received_at.astimezone(zone).date() if ticket.legal_due else None,
            "legal_due": ticket.legal_due.astimezone(zone).date() if ticket.legal_due else None,
            "internal_due": ticket.internal_due.astimezone(zone).date() if ticket.internal_due else None,
            # R-C15/R-A7: access, erasure and rectification are acted on only after a check.
            "identity_check": category in (Category.ACCESS, Category.ERASURE, Category.RECTIFICATION),
            "status": ticket.status,
            "triage": ticket.triage,
        },
        "customer": {"name": clean_header_text(customer_name, 80)},
        "message": {"subject": clean_header_text(subject, 150)},
    }


def acknowledgement_hook(renderer: Renderer, policy: OutboxPolicy) -> Callable[[OpenedTicket], None]:
    """Runs inside the processing transaction of every new ticket."""

    def on_ticket_opened(opened: OpenedTicket) -> None:
        ticket, store, now = opened.ticket, opened.store, opened.now
        context = ticket_context(ticket, opened.parsed.from_name, opened.parsed.subject, policy.org)
        reason = _no_ack_reason(store, policy, opened)
        if reason is None:
            rendered = renderer.render(f"ack_{ticket.category}", ticket.language, context)
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
                store,
                mail=mail,
                purpose="acknowledgement",
                now=now,
                ticket=ticket,
                customer=opened.customer,
                dedupe_key=f"ack:{ticket.id}",
            )
            store.audit("ack.queued", now, ticket_id=ticket.id)
        else:
            store.audit("ack.skipped", now, ticket_id=ticket.id, reason=reason)
        if policy.notify_staff and policy.staff_addresses:
            staff_mail(
                store,
                renderer,
                policy,
                "staff_new_ticket",
                {**context, "customer": {"name": ""}, "message": {"subject": ""}},  # the ref, not the person
                now,
                ticket=ticket,
                dedupe_key=f"staff_new_ticket:{ticket.id}",
            )

    return on_ticket_opened


def _no_ack_reason(store: Store, policy: OutboxPolicy, opened: OpenedTicket) -> str | None:
    """Why this ticket gets no acknowledgement, or None when it gets one (R-C1…R-C5, R-C8)."""
    sender = opened.sender_address
    if Category(opened.ticket.category) not in TICKET_CATEGORIES:
        return "category"
    if opened.classification.automated:
        return "automated"
    if not sender:
        return "no-sender"
    return_path = opened.parsed.return_path
    if return_path is not None and return_path.strip() in ("", "<>"):
        return "null-return-path"  # R-C2
    if is_own_address(policy.org, sender):
        return "own-address"
    if automatic_replies_today(store, sender, opened.now) >= policy.auto_reply_cap_per_day:
        return "daily-cap"  # R-C5
    return None


def staff_mail(
    store: Store,
    renderer: Renderer,
    policy: OutboxPolicy,
    purpose: str,
    context: Mapping[str, Any],
    now: datetime,
    *,
    ticket: Ticket | None = None,
    dedupe_key: str | None = None,
    to: Sequence[str] | None = None,
) -> Outbox:
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
        store,
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


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with jitter: ~1, 2, 4 … minutes, capped at one hour."""
    base = min(60 * 2 ** max(attempts - 1, 0), 3600)
    return timedelta(seconds=base * (0.5 + (rng or random).random() / 2))


def drain(
    database: Database, mailer: Mailer, clock: Clock, policy: OutboxPolicy, *, limit: int = 1000
) -> DrainReport:
    """Send every due outbox row once; returns what happened."""
    report = DrainReport()
    for _ in range(limit):
        outcome = _send_one(database, mailer, clock, policy)
        if outcome is None:
            break
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _send_one(database: Database, mailer: Mailer, clock: Clock, policy: OutboxPolicy) -> str | None:
    with database.transaction() as store:
        now = clock()
        row = store.session.scalars(
            select(Outbox)
            .where(Outbox.status == "pending", Outbox.next_attempt_at <= now)
            .order_by(Outbox.next_attempt_at, Outbox.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if row is None:
            return None
        owner = row.customer_id or SYSTEM_OWNER
        payload = (
            store.vault.open(store.session, row.payload_enc, ("outbox", "payload", row.id, owner)) or b""
        )
        envelope = json.loads(
            store.vault.open_text(store.session, row.envelope_enc, ("outbox", "envelope", row.id, owner))
            or "{}"
        )
        row.attempts += 1
        try:
            mailer.send(envelope["from"], envelope["to"], payload)
        except TemporaryDeliveryError as exc:
            if now - row.created_at >= policy.retry_horizon:
                return _fail(store, row, f"gave up after {row.attempts} attempts: {exc.detail}", now)
            row.next_attempt_at = now + backoff(row.attempts)
            row.last_error = exc.detail[:500]
            log.info("send deferred", extra={"outbox_id": row.id, "attempts": row.attempts})
            return "retried"
        except PermanentDeliveryError as exc:
            return _fail(store, row, exc.detail, now)
        row.status = "sent"
        row.sent_at = now
        row.last_error = None
        store.audit("mail.sent", now, ticket_id=row.ticket_id, purpose=row.purpose, outbox_id=row.id)
        return "sent"


def _fail(store: Store, row: Outbox, detail: str, now: datetime) -> str:
    row.status = "failed"
    row.last_error = detail[:500]
    store.audit("mail.failed", now, ticket_id=row.ticket_id, purpose=row.purpose, outbox_id=row.id)
    log.warning("send failed", extra={"outbox_id": row.id, "purpose": row.purpose})
    return "failed"
