"""Staff corrections to a ticket. Deadlines always follow the category (R-A2, R-B1).

A correction is also a lesson for the text model (issue 14): ``corrected_examples`` hands
``mailbot model train --include-corrections`` the original mail of every ticket staff
reclassified, with the category it has now. No second copy is kept: the example is the ticket's
own sealed original, so it is erased with the customer (crypto-shredding) and purged with the
ticket's correspondence at the end of its retention term, and a ticket corrected twice teaches
only its last category.
"""

from __future__ import annotations

from datetime import datetime

from mailbot.domain.model import Category
from mailbot.services.filing import DeadlineCalculator
from mailbot.services.repositories import UnitOfWork

RECLASSIFIED = "ticket.reclassified"

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
        RECLASSIFIED,
        now,
        ticket_id=ticket.id,
        actor=actor,
        previous=previous,
        category=category.value,
    )
    return previous, category.value


def corrected_examples(uow: UnitOfWork) -> list[tuple[bytes, Category]]:
    """(original mail, category staff gave it) for every reclassified ticket still holding its mail."""
    examples = []
    for ticket_id in uow.audit.ticket_ids_of(RECLASSIFIED):
        ticket = uow.tickets.get(ticket_id)
        if ticket is None:
            continue
        raw = uow.messages.first_customer_raw(ticket_id)
        if raw is not None:
            examples.append((raw, Category(ticket.category)))
    return examples
