"""Restriction flags, the direct-marketing suppression list and the art. 19 recipient tasks.

The suppression list holds only the blind index of an address (R-A15, R-D6), so an objection
survives the person's erasure; the export opens the addresses of people still on file, since a
keyed hash means nothing to a marketing tool.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from mailbot.adapters.crypto import DecryptionError
from mailbot.adapters.db.models import Customer as CustomerRow
from mailbot.adapters.db.models import RecipientTask, Suppression
from mailbot.adapters.db.repos.base import SqlRepository
from mailbot.domain.model import RecipientTaskView


class SqlPrivacy(SqlRepository):
    def set_restricted(self, customer_id: str, restricted: bool) -> bool:
        """True when the flag changed."""
        row = self.session.get(CustomerRow, customer_id)
        if row is None:
            raise LookupError("no such customer")
        if row.restricted == restricted:
            return False
        row.restricted = restricted
        return True

    def suppress(self, address: str, now: datetime) -> bool:
        """Put the address on the suppression list; False when it was on it already."""
        index = self.address_index(address)
        if self.session.get(Suppression, index) is not None:
            return False
        with self.session.begin_nested():
            self.session.add(Suppression(address_index=index, created_at=now))
        return True

    def is_suppressed(self, address: str) -> bool:
        return self.session.get(Suppression, self.address_index(address)) is not None

    def suppressed(self) -> list[tuple[str | None, datetime]]:
        """Every entry with the address of the person when still on file (None once erased)."""
        rows = self.session.execute(
            select(Suppression.created_at, CustomerRow)
            .outerjoin(CustomerRow, CustomerRow.address_index == Suppression.address_index)
            .order_by(Suppression.created_at)
        ).all()
        found: list[tuple[str | None, datetime]] = []
        for created_at, customer in rows:
            address: str | None = None
            if customer is not None and customer.erased_at is None:
                try:
                    self.vault.remember_customer_key(customer.id, customer.data_key_id)
                    address = self.open_text(
                        customer.address_enc, "customers", "address", customer.id, customer.id
                    )
                except DecryptionError:
                    address = None
            found.append((address or None, created_at))
        return found

    def add_task(
        self, reference: str, ticket_id: str | None, recipient: str, action: str, now: datetime
    ) -> int:
        task = RecipientTask(
            reference=reference[:40],
            ticket_id=ticket_id,
            recipient=recipient[:64],
            action=action[:24],
            created_at=now,
        )
        self.session.add(task)
        self.session.flush()
        return int(task.id)

    def open_tasks(self) -> list[RecipientTaskView]:
        rows = self.session.scalars(
            select(RecipientTask).where(RecipientTask.done_at.is_(None)).order_by(RecipientTask.id)
        )
        return [
            RecipientTaskView(t.id, t.reference, t.ticket_id, t.recipient, t.action, t.created_at)
            for t in rows
        ]

    def finish_task(self, task_id: int, actor: str, now: datetime) -> RecipientTaskView | None:
        task = self.session.get(RecipientTask, task_id)
        if task is None or task.done_at is not None:
            return None
        task.done_at, task.done_by = now, actor[:64]
        return RecipientTaskView(
            task.id, task.reference, task.ticket_id, task.recipient, task.action, task.created_at
        )
