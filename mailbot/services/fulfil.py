"""Carrying out a GDPR request staff decided to honour (``#fulfil`` by mail; ``tickets fulfil``).

A request that acts on a person's data is carried out only once their identity is verified
(R-A7). Restriction and objection are done here; erasure and the access export are plugged in
(``erase``, ``access``). The requester is told in the same transaction that the request was honoured, and
the ticket is resolved (its legal term is met).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from mailbot.domain.identity import NEEDS_IDENTITY, IdentityStatus
from mailbot.domain.model import Category, Ticket, TicketStatus
from mailbot.services.decisions import DecisionRefused, requester
from mailbot.services.outbox import OutboxPolicy, Renderer, notify_customer
from mailbot.services.repositories import UnitOfWork
from mailbot.services.restriction import object_to_marketing, restrict


class Carrier(Protocol):
    """Carries one kind of verified request out and returns what was done. ``refused`` are the
    reasons for the part staff refused (a partial refusal, R-A6): the letter that reports the
    honoured part names them, with the requester's remedies."""

    def __call__(
        self, uow: UnitOfWork, ticket: Ticket, actor: str, now: datetime, refused: Sequence[str] = ()
    ) -> str: ...


Eraser = Carrier


def fulfil_request(
    uow: UnitOfWork,
    ticket: Ticket,
    actor: str,
    now: datetime,
    *,
    renderer: Renderer,
    policy: OutboxPolicy,
    recipients: Sequence[str],
    erase: Eraser | None = None,
    access: Carrier | None = None,
    refused: Sequence[str] = (),
) -> str:
    """Carry the request out; returns what was done. ``DecisionRefused`` when it cannot be.

    With ``refused`` reasons this is the honoured part of a partial refusal: the same letter says
    what was done and what was not, and why."""
    category = Category(ticket.category)
    if ticket.answered_at is not None:
        raise DecisionRefused("the request has already been answered")
    if category in NEEDS_IDENTITY and ticket.identity_status != IdentityStatus.VERIFIED.value:
        raise DecisionRefused("verify the requester's identity first (#verify HOW, or tickets verify)")
    if category is Category.ERASURE:
        if erase is None:
            raise DecisionRefused("erasure is not available in this installation yet")
        return erase(uow, ticket, actor, now, refused)
    if category is Category.ACCESS and access is not None:
        return access(uow, ticket, actor, now, refused)
    customer, address = requester(uow, ticket)
    if category is Category.RESTRICTION:
        restrict(uow, customer, actor, now, recipients, ticket_id=ticket.id, reference=ticket.ref)
        done = "restricted"
    elif category is Category.OBJECTION:
        object_to_marketing(uow, address, actor, now, ticket_id=ticket.id)
        done = "suppressed"
    else:
        raise DecisionRefused(
            f"a {category.value} request is carried out with its own command "
            "(customers update for rectification, then #close)"
        )
    notify_customer(
        uow,
        renderer,
        policy,
        ticket=ticket,
        customer=customer,
        address=address,
        purpose="request_fulfilled",
        decision={"fulfilled": {"what": done, "refused": list(refused)}},
        now=now,
        dedupe_key=f"request_fulfilled:{ticket.id}",
    )
    ticket.answered_at = now
    ticket.first_responded_at = ticket.first_responded_at or now
    ticket.status = TicketStatus.RESOLVED.value
    ticket.updated_at = now
    uow.tickets.save(ticket)
    uow.audit.record("ticket.fulfilled", now, ticket_id=ticket.id, actor=actor, done=done)
    return done
