"""Carrying out a verified access request (art. 15, R-A9, R-A10) from its ticket: ``tickets fulfil
REF`` or ``#fulfil`` build the same package as ``customers export`` and send it to the verified
address — the address on file, never one named in the mail — attached to the fulfilment letter.

A request that came by e-mail is answered electronically (R-A9). A package too large to mail is
not half-sent: it is handed to staff (written under ``exports/REF/``, 0700) and the ticket stays
open, so the deadline ladder keeps reminding until staff hand it over and close the ticket. The
letter promises only what was done: it is written only when the package is attached.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from mailbot.domain.model import Organisation, Ticket, TicketStatus
from mailbot.services.decisions import requester
from mailbot.services.export import PackageWriter, collect, record_export
from mailbot.services.fulfil import Carrier
from mailbot.services.outbox import OutboxPolicy, Renderer, notify_customer
from mailbot.services.repositories import UnitOfWork

#: Larger packages are handed to staff: many mail servers refuse messages over 10-25 MB.
MAIL_LIMIT = 10 * 1024 * 1024


def access_fulfiller(
    renderer: Renderer,
    policy: OutboxPolicy,
    org: Organisation,
    writer: PackageWriter,
    exports_dir: Path,
    mail_limit: int = MAIL_LIMIT,
) -> Carrier:
    def fulfil(
        uow: UnitOfWork, ticket: Ticket, actor: str, now: datetime, refused: Sequence[str] = ()
    ) -> str:
        customer, address = requester(uow, ticket)
        package = collect(uow, address, now, org, ticket.language)
        path = writer.write(package, exports_dir / ticket.ref)
        record_export(uow, package, now, actor)
        content = writer.read(path, mail_limit)
        if content is None:
            uow.audit.record("ticket.export_handed_to_staff", now, ticket_id=ticket.id, actor=actor)
            return (
                f"export written to {path}: too large to mail; hand it to the requester securely, "
                "then answer and close the ticket"
            )
        notify_customer(
            uow,
            renderer,
            policy,
            ticket=ticket,
            customer=customer,
            address=address,
            purpose="request_fulfilled",
            decision={"fulfilled": {"what": "access", "file": path.name, "refused": list(refused)}},
            now=now,
            dedupe_key=f"request_fulfilled:{ticket.id}",
            attachments=((path.name, "application/zip", content),),
        )
        ticket.answered_at = now
        ticket.first_responded_at = ticket.first_responded_at or now
        ticket.status = TicketStatus.RESOLVED.value
        ticket.updated_at = now
        uow.tickets.save(ticket)
        uow.audit.record("ticket.fulfilled", now, ticket_id=ticket.id, actor=actor, done="exported")
        return f"exported ({package.counts()['messages']} message(s)) and sent to the address on file"

    return fulfil
