"""Staff corrections to a ticket. Deadlines always follow the category (R-A2, R-B1)."""

from __future__ import annotations

from datetime import datetime

from mailbot.domain.model import Category
from mailbot.services.process import DeadlineCalculator
from mailbot.services.repositories import UnitOfWork

#: Categories a ticket can be corrected to (reply and automated describe messages, not tickets).
TICKET_CATEGORIES_FOR_STAFF = tuple(
    c.value for c in Category if c not in (Category.REPLY, Category.AUTOMATED)
)


def reclassify(
    uow: UnitOfWork,
    ref: str,
    category: Category,
    deadlines: DeadlineCalculator,
    now: datetime,
    actor: str = "staff",
) -> tuple[str, str]:
    """Set the category, recompute its deadlines from the original receipt, and record who did it."""
    if category in (Category.REPLY, Category.AUTOMATED):
        raise ValueError(
            f"a ticket cannot be {category.value}; choose one of {', '.join(TICKET_CATEGORIES_FOR_STAFF)}"
        )
    ticket = uow.tickets.by_ref(ref)
    if ticket is None:
        raise LookupError(f"no ticket {ref}")
    previous = ticket.category
    ticket.category = category.value
    for name, value in deadlines(category, ticket.received_at).items():
        setattr(ticket, name, value)
    ticket.triage = False
    ticket.updated_at = now
    uow.tickets.save(ticket)
    uow.audit.record(
        "ticket.reclassified",
        now,
        ticket_id=ticket.id,
        actor=actor,
        previous=previous,
        category=category.value,
    )
    return previous, category.value
