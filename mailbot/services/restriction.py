"""Restriction, objection to direct marketing, and the recipients to tell (issue 12).

- **Restriction** (art. 18, R-A14): the data is kept, but nothing is done with it beyond storage
  until lifted: no templated mail but the answers the law requires (GDPR requests), no name or
  words in staff notices, no staff view without a recorded reason. Lifting tells the person first
  (the letter is queued in the same transaction that lifts).
- **Objection to direct marketing** (art. 21(3), R-A15): always, at once, without an identity check:
  the address goes on the suppression list (a blind index, so it outlives erasure).
- **Recipients** (art. 19, R-A13): after a rectification, erasure or restriction every configured
  recipient gets a task, listed in the digest until staff mark it done.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mailbot.domain.model import Category, Customer, RecipientTaskView
from mailbot.mail.compose import AUTO_GENERATED, OutgoingMail, make_message_id
from mailbot.services.outbox import OutboxPolicy, Renderer, enqueue
from mailbot.services.process import OpenedTicket, TicketHook
from mailbot.services.repositories import UnitOfWork


class PrivacyActionRefused(ValueError):
    """Nothing was changed; the message says why."""


def owe_recipients(
    uow: UnitOfWork,
    recipients: Sequence[str],
    action: str,
    now: datetime,
    *,
    reference: str,
    ticket_id: str | None = None,
) -> list[int]:
    """One task per configured recipient of the data (R-A13); the ids."""
    ids = [uow.privacy.add_task(reference, ticket_id, r, action, now) for r in recipients]
    if ids:
        uow.audit.record("recipients.owed", now, ticket_id=ticket_id, action=action, tasks=len(ids))
    return ids


def restrict(
    uow: UnitOfWork,
    customer: Customer,
    actor: str,
    now: datetime,
    recipients: Sequence[str],
    *,
    ticket_id: str | None = None,
    reference: str | None = None,
) -> bool:
    """Flag the customer restricted; False when they already were (nothing owed twice)."""
    if customer.erased_at is not None:
        raise PrivacyActionRefused("this customer was erased: there is nothing left to restrict")
    if not uow.privacy.set_restricted(customer.id, True):
        return False
    uow.audit.record("customer.restricted", now, customer_id=customer.id, ticket_id=ticket_id, actor=actor)
    owe_recipients(
        uow,
        recipients,
        "restricted",
        now,
        reference=reference or f"customer:{customer.id}",
        ticket_id=ticket_id,
    )
    return True


def lift_restriction(
    uow: UnitOfWork,
    renderer: Renderer,
    policy: OutboxPolicy,
    customer: Customer,
    actor: str,
    now: datetime,
) -> str:
    """Tell the person, then lift (R-A14: notify before lifting); returns the letter's outbox id."""
    if not customer.restricted:
        raise PrivacyActionRefused("this customer's data is not restricted")
    if not customer.address:
        raise PrivacyActionRefused("the customer has no address on file to tell before lifting")
    context = {
        "org": {"name": policy.org.name, "mailbox": policy.org.mailbox, "website": policy.org.domain},
        "customer": {"name": customer.name},
        "lifted_at": now,
    }
    rendered = renderer.render("restriction_lifted", "nl", context)
    mail = OutgoingMail(
        from_address=policy.from_address,
        from_name=policy.org.name,
        to=(customer.address,),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=make_message_id(policy.org.domain),
        date=now,
        language=rendered.language,
        auto_submitted=AUTO_GENERATED,
    )
    outbox_id = enqueue(uow, mail=mail, purpose="restriction_lifted", now=now, customer=customer)
    uow.privacy.set_restricted(customer.id, False)
    uow.audit.record("customer.unrestricted", now, customer_id=customer.id, actor=actor, outbox_id=outbox_id)
    return outbox_id


def object_to_marketing(
    uow: UnitOfWork, address: str, actor: str, now: datetime, *, ticket_id: str | None = None
) -> bool:
    """Suppress direct marketing to ``address``; False when it was suppressed already."""
    added = uow.privacy.suppress(address, now)
    if added:
        # The address itself is kept sealed under its own key (as a customer), so the export can
        # hand it to the marketing tool and erasing the person still takes it; the list keeps
        # the keyed hash either way.
        customer = uow.customers.find_or_create(address, None, now)
        uow.audit.record(
            "suppression.added",
            now,
            customer_id=customer.id if customer else None,
            ticket_id=ticket_id,
            actor=actor,
        )
    return added


def finish_task(uow: UnitOfWork, task_id: int, actor: str, now: datetime) -> RecipientTaskView:
    task = uow.privacy.finish_task(task_id, actor, now)
    if task is None:
        raise PrivacyActionRefused(f"no open task {task_id}")
    uow.audit.record("recipients.told", now, ticket_id=task.ticket_id, actor=actor, task=task_id)
    return task


def suppression_hook() -> TicketHook:
    """An objection ticket puts its sender on the suppression list as it opens: the acknowledgement
    says marketing stops at once, and for direct marketing no identity check or balancing applies
    (R-A15). Other objections still go to a person, with the ticket."""

    def on_ticket_opened(opened: OpenedTicket) -> None:
        if Category(opened.ticket.category) is Category.OBJECTION and opened.sender_address:
            object_to_marketing(
                opened.uow, opened.sender_address, "mailbot", opened.now, ticket_id=opened.ticket.id
            )

    return on_ticket_opened
