"""The use cases of restriction, objection and recipient tasks (issue 12), one transaction each:
what ``mailbot customers restrict|unrestrict``, ``mailbot suppression …`` and ``mailbot tasks …``
call (and the web interface later)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mailbot.domain.model import RecipientTaskView
from mailbot.services import restriction
from mailbot.services.customers import known_customer
from mailbot.services.outbox import OutboxPolicy, Renderer
from mailbot.services.ports import Clock
from mailbot.services.repositories import Database


@dataclass(frozen=True)
class RightsActions:
    database: Database
    clock: Clock
    renderer: Renderer
    policy: OutboxPolicy
    recipients: tuple[str, ...] = ()

    def restrict(self, email: str, actor: str) -> bool:
        with self.database.transaction() as uow:
            customer = known_customer(uow, email)
            return restriction.restrict(uow, customer, actor, self.clock(), self.recipients)

    def unrestrict(self, email: str, actor: str) -> str:
        with self.database.transaction() as uow:
            customer = known_customer(uow, email)
            return restriction.lift_restriction(
                uow, self.renderer, self.policy, customer, actor, self.clock()
            )

    def suppress(self, email: str, actor: str) -> bool:
        with self.database.transaction() as uow:
            return restriction.object_to_marketing(uow, email, actor, self.clock())

    def suppressed(self) -> list[tuple[str | None, datetime]]:
        with self.database.transaction() as uow:
            return uow.privacy.suppressed()

    def is_suppressed(self, email: str) -> bool:
        with self.database.transaction() as uow:
            return uow.privacy.is_suppressed(email)

    def tasks(self) -> list[RecipientTaskView]:
        with self.database.transaction() as uow:
            return uow.privacy.open_tasks()

    def task_done(self, task_id: int, actor: str) -> RecipientTaskView:
        with self.database.transaction() as uow:
            return restriction.finish_task(uow, task_id, actor, self.clock())
