"""``decide``'s view of the stored tickets (its ``ThreadLookup``), through the repositories of the
processing transaction: which ticket a message threads onto, whether it was seen before, how
many automatic replies its sender had, and which requests a thread already carries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from mailbot.domain.model import CLOSED_STATUSES, Category
from mailbot.services.repositories import UnitOfWork


class StoredThreads:
    """``decide``'s view of the stored tickets, through this transaction's repositories."""

    def __init__(self, uow: UnitOfWork, raw_id: str, now: datetime) -> None:
        self.uow, self.raw_id, self.now = uow, raw_id, now

    def ticket_by_message_ids(self, message_ids: Sequence[str]) -> str | None:
        ticket = self.uow.tickets.by_message_ids(message_ids)
        return ticket.id if ticket else None

    def ticket_by_ref(self, ref: str) -> str | None:
        ticket = self.uow.tickets.by_ref(ref)
        return ticket.id if ticket else None

    def is_participant(self, ticket_id: str, address: str | None) -> bool:
        return bool(address) and self.uow.tickets.is_participant(ticket_id, address or "")

    def duplicate_of(self, message_id: str) -> tuple[bool, str | None]:
        earlier = self.uow.messages.earlier_inbound(message_id, self.raw_id)
        return (True, earlier.ticket_id) if earlier else (False, None)

    def automatic_replies_today(self, address: str) -> int:
        return self.uow.outbox.automatic_count_since(address, self.now - timedelta(hours=24))

    def has_request(self, ticket_id: str, category: Category) -> bool:
        ticket = self.uow.tickets.get(ticket_id)
        if ticket is None:
            return False
        if ticket.category == category.value:
            return True  # reopened if it was closed: the same request asked again
        return any(
            t.category == category.value and t.status not in CLOSED_STATUSES
            for t in self.uow.tickets.of_customer(ticket.customer_id)
        )
