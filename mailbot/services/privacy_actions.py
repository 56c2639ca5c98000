"""The privacy use cases with their collaborators bound (issue 12): the audit check, customers'
import, rectification, access export, erasure, restriction, objection and recipient tasks.

Like ``usecases.py``: each method is one transaction (an export writes its package after the
transaction that read the data); none knows an adapter. ``bootstrap`` builds them once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from mailbot.domain.audit_chain import ChainReport
from mailbot.domain.model import Organisation
from mailbot.domain.retention import ErasureReport, LedgerEntry, TicketRetention
from mailbot.services import audit, customers, erasure, export, leases, restriction
from mailbot.services.ports import Clock, ErasureLedgerFile
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


@dataclass(frozen=True)
class ErasureActions:
    """Erasure by crypto-shredding (R-A12, R-D5), its re-application after a restore, and the
    daily retention purge. Each erasure is followed by a scrub of the database files."""

    database: Database
    clock: Clock
    policy: erasure.ErasurePolicy
    ledger: ErasureLedgerFile
    holder: str
    ticket_retention: TicketRetention = field(default_factory=TicketRetention)

    def erase(self, email: str, actor: str = "staff") -> ErasureReport:
        """Erase the customer with this address outside a ticket (staff decided it directly)."""
        now = self.clock()
        with self.database.transaction() as uow:
            customer = customers.known_customer(uow, email)
            report = erasure.erase_person(
                uow,
                customer,
                actor=actor,
                now=now,
                policy=self.policy,
                ledger=self.ledger,
                reference=f"customer:{customer.id}"[:40],
                requested_at=now,
            )
        self.database.scrub()
        return report

    def reapply(self, extra: Sequence[LedgerEntry] = ()) -> int:
        """Erase again, in this (restored) database, everyone on the ledger file and ``extra``
        (the ledger a backup carried); how many were still there."""
        seen: set[str] = set()
        entries: list[LedgerEntry] = []
        for entry in [*self.ledger.entries(), *extra]:
            if entry.erasure_id not in seen:
                seen.add(entry.erasure_id)
                entries.append(entry)
        with self.database.transaction() as uow:
            done = erasure.reapply_ledger(uow, entries, self.clock())
        self.database.scrub()
        return done

    def purge(self) -> dict[str, int]:
        """The daily retention job: closed tickets past their term, retained records whose duty
        ended, erasure reports sent two weeks ago."""
        with self.database.transaction() as uow:
            purged = erasure.purge_expired(uow, self.clock())
            purged["tickets"] = erasure.purge_closed_tickets(uow, self.ticket_retention, self.clock())
        self.database.scrub()
        return purged

    def hold(self, ref: str, reason: str, actor: str = "staff", hold: bool = True) -> bool:
        """Keep a closed ticket past its retention term (``hold``), or release it."""
        with self.database.transaction() as uow:
            ticket = uow.tickets.by_ref(ref.strip().upper())
            if ticket is None:
                raise erasure.ErasureRefused(f"no ticket {ref.strip()}")
            return erasure.set_legal_hold(uow, ticket, hold, reason, actor, self.clock())

    def purge_job(self) -> None:
        with self.database.transaction() as uow:
            mine = leases.acquire(uow, "retention", self.holder, self.clock(), timedelta(minutes=30))
        if mine:
            self.purge()
