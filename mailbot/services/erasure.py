"""Erasure (art. 17, R-A12, R-D5): crypto-shred a person, keep only what a legal duty requires,
write the erasure ledger, tell the recipients of the data, and report what was done.

One function decides (``erase_person``); ``customers erase``, ``tickets fulfil`` / ``#fulfil`` on
a verified erasure ticket and the re-application after a restore all call into it. The order
inside the one transaction is what makes a crash harmless:

1. what the duties keep is sealed under a retention key of its own (so destroying the customer's
   key does not take it);
2. the erasure report (a ticket's requester) is rendered and queued *before* the shredding, sealed
   apart, because afterwards nothing of the person can be read;
3. the ledger entry is appended to the file beside the keys (fsync) *before* the commit: a crash
   after it but before the commit leaves an entry for an erasure a verified request asked for,
   which a later restore carries out — the safe direction;
4. the rows are deleted and the key destroyed; the commit makes it all true at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailbot.domain.model import Customer, Ticket, TicketStatus
from mailbot.domain.retention import (
    ErasureReport,
    LedgerEntry,
    RetentionDuty,
    TicketRetention,
    backups_gone_by,
    what_to_keep,
)
from mailbot.services.decisions import requester
from mailbot.services.fulfil import Carrier
from mailbot.services.outbox import OutboxPolicy, Renderer, notify_customer
from mailbot.services.ports import ErasureLedgerFile
from mailbot.services.repositories import UnitOfWork
from mailbot.services.restriction import owe_recipients

#: How long a sent erasure report stays (for bounce handling) before its own key is destroyed.
REPORT_KEPT = timedelta(days=14)


class ErasureRefused(ValueError):
    """The erasure cannot be done as asked; one line, no personal data."""


@dataclass(frozen=True)
class ErasurePolicy:
    duties: tuple[RetentionDuty, ...] = ()
    recipients: tuple[str, ...] = ()
    #: The backup policy (days, weeks), to tell the person when the last backup holding them is gone.
    backup_keep: tuple[int, int] | None = None


def _values(customer: Customer) -> dict[str, str]:
    return {
        "email": customer.address,
        "name": customer.name,
        "company": customer.company,
        "address": customer.postal_address,
        "phone": customer.phone,
    }


def erase_person(
    uow: UnitOfWork,
    customer: Customer,
    *,
    actor: str,
    now: datetime,
    policy: ErasurePolicy,
    ledger: ErasureLedgerFile,
    reference: str,
    requested_at: datetime,
    ticket_id: str | None = None,
    before_shred: Callable[[ErasureReport], None] | None = None,
) -> ErasureReport:
    """Erase ``customer`` for the request ``reference``; what was removed and what was kept."""
    if customer.erased_at is not None:
        raise ErasureRefused("that customer was erased already")
    kept = what_to_keep(policy.duties, customer.source, _values(customer), now)
    outcome = "erased-retained" if kept else "erased"
    retained_note = "; ".join(f"{r.duty} until {r.until.date().isoformat()}" for r in kept)
    erasure_id = uow.erasures.record(reference, requested_at, now, outcome, retained_note)
    for retained in kept:
        uow.erasures.retain(erasure_id, retained, now)
    gone_by = backups_gone_by(now, *policy.backup_keep) if policy.backup_keep else None
    if before_shred is not None:
        before_shred(ErasureReport(erasure_id, reference, now, {}, kept, gone_by))
    for ticket in uow.tickets.of_customer(customer.id):
        if ticket.status != TicketStatus.CLOSED.value and ticket.id != ticket_id:
            ticket.status, ticket.updated_at = TicketStatus.CLOSED.value, now
            uow.tickets.save(ticket)
    # The ledger needs the hashes the shredding reports; it is written before the commit (step 3).
    shredded = uow.erasures.shred(customer.id, now)
    entry = LedgerEntry(erasure_id, now, shredded.address_hash, shredded.customer_hash, shredded.data_key_id)
    ledger.append(entry)
    uow.erasures.add_ledger(entry)
    owe_recipients(uow, policy.recipients, "erased", now, reference=reference, ticket_id=ticket_id)
    uow.audit.record(
        "customer.erased",
        now,
        customer_id=customer.id,
        ticket_id=ticket_id,
        actor=actor,
        erasure=erasure_id,
        removed=dict(shredded.removed),
        retained=[r.duty for r in kept],
    )
    return ErasureReport(erasure_id, reference, now, shredded.removed, kept, gone_by)


def ticket_eraser(
    renderer: Renderer, outbox_policy: OutboxPolicy, policy: ErasurePolicy, ledger: ErasureLedgerFile
) -> Carrier:
    """The ``erase`` step of ``fulfil_request`` for a verified erasure ticket: erase the requester,
    send them the report (what was erased, what a duty keeps and why, when backups are gone, the
    right to complain to the AP), resolve the ticket. The ticket stays as a husk (no content)."""

    def erase(uow: UnitOfWork, ticket: Ticket, actor: str, now: datetime, refused: Sequence[str] = ()) -> str:
        customer, address = requester(uow, ticket)

        def send_report(report: ErasureReport) -> None:
            notify_customer(
                uow,
                renderer,
                outbox_policy,
                ticket=ticket,
                customer=customer,
                address=address,
                purpose="request_fulfilled",
                decision={
                    "fulfilled": {"what": "erased", **report_context(report), "refused": list(refused)}
                },
                now=now,
                dedupe_key=f"request_fulfilled:{ticket.id}",
                own_key=True,
            )

        report = erase_person(
            uow,
            customer,
            actor=actor,
            now=now,
            policy=policy,
            ledger=ledger,
            reference=ticket.ref,
            requested_at=ticket.received_at,
            ticket_id=ticket.id,
            before_shred=send_report,
        )
        ticket.answered_at = now
        ticket.first_responded_at = ticket.first_responded_at or now
        ticket.status = TicketStatus.RESOLVED.value
        ticket.updated_at = now
        uow.tickets.save(ticket)
        uow.audit.record("ticket.fulfilled", now, ticket_id=ticket.id, actor=actor, done=report.outcome)
        return "erased" + (
            f" (kept: {', '.join(r.duty for r in report.retained)})" if report.retained else ""
        )

    return erase


def report_context(report: ErasureReport) -> dict[str, object]:
    """The template values of the erasure report (``request_fulfilled`` with ``what`` erased)."""
    return {
        "retained": [
            {"duty": r.duty, "basis": r.basis, "fields": sorted(r.values), "until": r.until.date()}
            for r in report.retained
        ],
        "backups_gone_by": report.backups_gone_by.date() if report.backups_gone_by else None,
    }


def reapply_ledger(uow: UnitOfWork, entries: Sequence[LedgerEntry], now: datetime) -> int:
    """After a restore: erase again everyone on the ledger the restored database still holds;
    how many. No letters: they were told when the erasure was done."""
    done = 0
    for entry in entries:
        shredded = uow.erasures.reapply(entry, now)
        if shredded is not None:
            done += 1
            uow.audit.record("customer.erasure_reapplied", now, erasure=entry.erasure_id)
    return done


def purge_expired(uow: UnitOfWork, now: datetime) -> dict[str, int]:
    """The daily retention job: retained records whose duty ended, and erasure reports sent more
    than ``REPORT_KEPT`` ago, are deleted and their keys destroyed."""
    purged = uow.erasures.purge(now, now - REPORT_KEPT)
    if any(purged.values()):
        uow.audit.record("retention.purged", now, retained=purged["retained"], letters=purged["letters"])
    return purged


def purge_closed_tickets(uow: UnitOfWork, retention: TicketRetention, now: datetime, limit: int = 500) -> int:
    """The daily ticket retention: closed tickets past their term (per category, R-B2) lose their
    correspondence unless on legal hold; each audited. How many were purged (at most ``limit``
    per run, so one run never holds a long transaction)."""
    purged = 0
    for ticket in uow.tickets.closed_unpurged(retention.earliest_cutoff(now), limit):
        if not retention.is_due(ticket.category, ticket.updated_at, ticket.legal_hold, now):
            continue
        removed = uow.erasures.purge_ticket(ticket.id, now)
        uow.audit.record("ticket.purged", now, ticket_id=ticket.id, removed=removed)
        purged += 1
    return purged


def set_legal_hold(
    uow: UnitOfWork, ticket: Ticket, hold: bool, reason: str, actor: str, now: datetime
) -> bool:
    """Keep a ticket past its retention term (or release it); False when nothing changed. The
    reason is required to hold and audited by kind only (it may name the person)."""
    if hold and not reason.strip():
        raise ErasureRefused("say why the ticket is held (a dispute, a legal claim)")
    if ticket.purged_at is not None:
        raise ErasureRefused("this ticket's correspondence was purged already")
    if ticket.legal_hold == hold:
        return False
    ticket.legal_hold = hold  # updated_at stays: the retention term runs from the closing
    uow.tickets.save(ticket)
    uow.audit.record("ticket.held" if hold else "ticket.released", now, ticket_id=ticket.id, actor=actor)
    return True
