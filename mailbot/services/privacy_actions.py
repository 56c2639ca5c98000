"""The privacy use cases with their collaborators bound (issue 12): the audit check, customers'
import, rectification, access export, erasure, restriction, objection and recipient tasks.

Like ``usecases.py``: each method is one transaction (an export writes its package after the
transaction that read the data); none knows an adapter. ``bootstrap`` builds them once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mailbot.domain.audit_chain import ChainReport
from mailbot.services import audit, customers
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


@dataclass(frozen=True)
class CustomerActions:
    """Import, show and rectify customers (issue 12); each call is one transaction."""

    database: Database
    clock: Clock

    def import_csv(self, text: str, actor: str = "staff") -> customers.ImportReport:
        """All rows or none: ``ImportRefused`` (nothing written) lists every bad row."""
        with self.database.transaction() as uow:
            return customers.import_customers(uow, text, self.clock(), actor)

    def show(self, email: str) -> customers.CustomerView:
        with self.database.transaction() as uow:
            return customers.show_customer(uow, email)

    def rectify(self, email: str, changes: Mapping[str, str], actor: str = "staff") -> list[str]:
        with self.database.transaction() as uow:
            return customers.rectify_customer(uow, email, changes, self.clock(), actor)
