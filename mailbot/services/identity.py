"""Carrying out the identity check of a GDPR request (issue 11; the verdict is
``domain.identity``'s).

At ticket opening, before the acknowledgement is written — so the acknowledgement promises the
confirmation message only when one really goes out — the verdict is recorded on the ticket. A
pending request gets its challenge: a mail to the address on file whose ``Reply-To`` is a private
reply address bound to that address and ticket, and the legal clock pauses (R-A7: the question
goes out at once, so the pause counts). A reply from that address to that address verifies the
request and the clock runs again; so does a staff member's ``tickets verify REF --method …``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

from mailbot.domain.calendar import WorkCalendar
from mailbot.domain.deadlines import DeadlinePolicy
from mailbot.domain.identity import IdentityPolicy, IdentityStatus, identity_verdict
from mailbot.domain.model import Category, Ticket
from mailbot.domain.staff_mail import ReplyAddresses
from mailbot.mail.compose import AUTO_GENERATED, is_answerable
from mailbot.mail.parse import ParsedMail
from mailbot.services.decisions import DecisionRefused, pause_ticket_clock, resume_ticket_clock
from mailbot.services.outbox import OutboxPolicy, Renderer, customer_mail, enqueue, ticket_context
from mailbot.services.process import FollowUp, FollowUpHook, OpenedTicket, TicketHook
from mailbot.services.repositories import UnitOfWork

CHALLENGE = "challenge"
_ADDRESS = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


@dataclass(frozen=True)
class IdentityDesk:
    policy: OutboxPolicy
    renderer: Renderer
    challenges: ReplyAddresses
    identity: IdentityPolicy
    calendar: WorkCalendar
    deadline_policy: DeadlinePolicy


def address_on_file(uow: UnitOfWork, parsed: ParsedMail, sender_address: str) -> str:
    """The address of the person the request is about: a known customer's address the message
    names in its own words (someone writing from another address about their account), else the
    sender's. The challenge goes there, never to an address we only just met when another is known."""
    own = {a.lower() for a in (sender_address, *_org_addresses(parsed))}
    for found in dict.fromkeys(m.lower() for m in _ADDRESS.findall(parsed.text or "")):
        if found in own:
            continue
        customer = uow.customers.by_address(found)
        if customer is not None and customer.address and customer.erased_at is None:
            return customer.address
    return sender_address


def _org_addresses(parsed: ParsedMail) -> tuple[str, ...]:
    return (*parsed.to, *parsed.cc)


def on_ticket_opened(desk: IdentityDesk) -> TicketHook:
    def hook(opened: OpenedTicket) -> None:
        ticket, uow, now = opened.ticket, opened.uow, opened.now
        category = Category(ticket.category)
        sender = opened.sender_address
        on_file = address_on_file(uow, opened.parsed, sender) if sender else None
        verdict = identity_verdict(
            category,
            sender,
            on_file,
            opened.parsed.headers.get("authentication-results", ()),
            desk.identity,
        )
        ticket.identity_status = verdict.status.value
        ticket.identity_method = verdict.method
        if verdict.status is IdentityStatus.NOT_NEEDED:
            uow.tickets.save(ticket)
            return
        if verdict.status is IdentityStatus.VERIFIED:
            uow.tickets.save(ticket)
            uow.audit.record("identity.verified", now, ticket_id=ticket.id, method=verdict.method)
            return
        to = verdict.challenge_to
        if not to or not is_answerable(to):
            uow.tickets.save(ticket)  # nobody to ask: staff verify by other means (tickets verify)
            uow.audit.record("identity.pending", now, ticket_id=ticket.id, challenge=False)
            return
        ticket.identity_method = CHALLENGE
        # The name we know belongs to the sender; greet someone else on file neutrally.
        name = opened.customer.name if to.lower() == (sender or "").lower() else ""
        send_challenge(uow, desk, ticket, to, name, opened.parsed.subject, now)
        pause_ticket_clock(uow, ticket, now, actor="mailbot")
        uow.audit.record(
            "identity.challenge_sent",
            now,
            ticket_id=ticket.id,
            to_sender=to.lower() == (sender or "").lower(),
        )

    return hook


def send_challenge(
    uow: UnitOfWork,
    desk: IdentityDesk,
    ticket: Ticket,
    to: str,
    name: str,
    subject: str,
    now: datetime,
) -> str:
    context = ticket_context(ticket, name, subject, desk.policy.org, desk.policy.promise)
    rendered = desk.renderer.render("identity_challenge", ticket.language, context)
    mail = replace(
        customer_mail(desk.policy, ticket, to, rendered, now, auto_submitted=AUTO_GENERATED),
        reply_to=desk.challenges.address_for(ticket.ref, to),
    )
    return enqueue(
        uow,
        mail=mail,
        purpose="identity_challenge",
        now=now,
        ticket=ticket,
        dedupe_key=f"identity_challenge:{ticket.id}",
    )


def confirm_identity(
    uow: UnitOfWork, desk: IdentityDesk, ticket: Ticket, method: str, actor: str, now: datetime
) -> Ticket:
    """The request is the person's own: record how it was established and let the clock run."""
    if ticket.identity_status != IdentityStatus.PENDING.value:
        raise DecisionRefused(
            "this ticket is not waiting for an identity check"
            + (" (already verified)" if ticket.identity_status == IdentityStatus.VERIFIED.value else "")
        )
    how = method.strip()[:64]
    if not how:
        raise DecisionRefused("say how the identity was checked (--method)")
    ticket.identity_status = IdentityStatus.VERIFIED.value
    ticket.identity_method = how
    if uow.decisions.has_open_pause(ticket.id):
        resume_ticket_clock(
            uow, ticket, now, calendar=desk.calendar, policy=desk.deadline_policy, actor=actor
        )
    else:
        uow.tickets.save(ticket)
    uow.audit.record("identity.verified", now, ticket_id=ticket.id, actor=actor, method=how)
    return ticket


def on_challenge_answered(desk: IdentityDesk) -> FollowUpHook:
    def hook(follow: FollowUp) -> None:
        if follow.verifies_identity and follow.ticket.identity_status == IdentityStatus.PENDING.value:
            confirm_identity(follow.uow, desk, follow.ticket, CHALLENGE, "customer", follow.now)

    return hook
