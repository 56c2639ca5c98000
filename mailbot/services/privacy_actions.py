"""The privacy use cases with their collaborators bound (issue 12): the audit check, customers'
import, rectification, access export, erasure, restriction, objection and recipient tasks.

Like ``usecases.py``: each method is one transaction (an export writes its package after the
transaction that read the data); none knows an adapter. ``bootstrap`` builds them once.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailbot.domain.audit_chain import ChainReport
from mailbot.services import audit
from mailbot.services.ports import Clock
from mailbot.services.repositories import Database


@dataclass(frozen=True)
class AuditActions:
    database: Database
    clock: Clock

    def verify(self) -> ChainReport:
        """Walk the whole chain in one read transaction."""
        with self.database.transaction() as uow:
            return audit.verify(uow)
