"""The privacy use cases with their collaborators bound (issue 12): the audit check, customers'
import, rectification, access export, erasure, restriction, objection and recipient tasks.

Like ``usecases.py``: each method is one transaction (an export writes its package after the
transaction that read the data); none knows an adapter. ``bootstrap`` builds them once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mailbot.domain.audit_chain import ChainReport
from mailbot.domain.model import Organisation
from mailbot.services import audit, customers, export, restriction
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
    """Import, show, rectify and export customers (issue 12); each call is one transaction."""

    database: Database
    clock: Clock
    org: Organisation
    writer: export.PackageWriter
    recipients: tuple[str, ...] = ()  # told of every rectification (R-A13)

    def import_csv(self, text: str, actor: str = "staff") -> customers.ImportReport:
        """All rows or none: ``ImportRefused`` (nothing written) lists every bad row."""
        with self.database.transaction() as uow:
            return customers.import_customers(uow, text, self.clock(), actor)

    def show(self, email: str) -> customers.CustomerView:
        with self.database.transaction() as uow:
            return customers.show_customer(uow, email)

    def rectify(self, email: str, changes: Mapping[str, str], actor: str = "staff") -> list[str]:
        with self.database.transaction() as uow:
            changed = customers.rectify_customer(uow, email, changes, self.clock(), actor)
            if changed:
                customer = customers.known_customer(uow, email)
                reference = f"customer:{customer.id}"
                restriction.owe_recipients(
                    uow, self.recipients, "rectified", self.clock(), reference=reference
                )
            return changed

    def export(
        self, email: str, out_dir: Path, language: str | None = None, actor: str = "staff"
    ) -> tuple[Path, dict[str, int]]:
        """Gather in one read transaction, write the zip, then audit the export in a second one:
        a failed write leaves no event claiming an export."""
        with self.database.transaction() as uow:
            package = export.collect(uow, email, self.clock(), self.org, language)
        path = self.writer.write(package, out_dir)
        with self.database.transaction() as uow:
            export.record_export(uow, package, self.clock(), actor)
        return path, package.counts()
