"""The access export (inzage, GDPR art. 15; issue 12, R-A9, R-A10): everything mailbot holds on one
person, gathered in one read transaction into an ``AccessPackage`` that a ``PackageWriter`` (an
adapter: JSON, HTML from the company's template, zip) turns into files.

What is in it: the customer's fields; each of their tickets with its deadlines, classification,
extensions and pauses; every message they sent, every message sent to them and the staff notes on
their case (opened), on their tickets or elsewhere; the attachments; their messages exactly as
received (``.eml``); and the audit events about them or their tickets. What is not: mail from
anyone else filed on their tickets (third-party data, R-A10; see ``is_theirs``), which is counted
as withheld, and nothing of any other customer.

The package is plain data: the service decides what goes in and the file names inside the zip,
so the JSON can point at its attachments; rendering and writing are the adapter's.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from mailbot.domain.customer_records import normalised_email
from mailbot.domain.model import Customer, Organisation, StoredMessage, Ticket
from mailbot.services.customers import known_customer
from mailbot.services.repositories import UnitOfWork

FORMAT = "mailbot-access-export/1"
LANGUAGES = ("nl", "en")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class AccessPackage:
    """``data`` is what ``data.json`` holds; ``files`` are (path inside the zip, bytes)."""

    customer_id: str
    generated_at: datetime
    language: str
    data: dict[str, Any]
    files: list[tuple[str, bytes]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Sizes for the audit event and the CLI: numbers only, no personal data."""
        tickets = self.data["tickets"]
        messages = sum(len(t["messages"]) for t in tickets) + len(self.data["other_messages"])
        return {
            "tickets": len(tickets),
            "messages": messages,
            "attachments": sum(1 for path, _ in self.files if path.startswith("attachments/")),
            "original_mail": len(self.data["original_mail"]),
            "audit_events": len(self.data["audit_events"]),
            "withheld": sum(t["withheld_messages"] for t in tickets),
        }


class PackageWriter(Protocol):
    def write(self, package: AccessPackage, out_dir: Path) -> Path:
        """Write the package (``data.json``, ``index.html`` with the art. 15 information, the files)
        as one zip in ``out_dir``; return its path."""
        ...

    def read(self, path: Path, limit: int) -> bytes | None:
        """The written zip's bytes when it is at most ``limit`` bytes (small enough to mail)."""
        ...


def safe_name(name: str, fallback: str = "file") -> str:
    """A file name that cannot leave its folder in the zip or upset a file system."""
    cleaned = _UNSAFE.sub("_", name).strip("._")[:100]
    return cleaned or fallback


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def is_theirs(m: StoredMessage, customer: Customer) -> bool:
    """Whether a message goes into the customer's export: what they sent (from their address),
    what was sent to them, and the notes staff made on their case. Mail from anyone else filed on
    their ticket — another person's reply, a staff member's mail to mailbot, a suspicious message
    claiming to be them — is third-party data (R-A10): withheld, counted, for staff to review."""
    if m.customer_id not in (customer.id, None):
        return False
    if m.direction == "in":
        return normalised_email(m.sender or "") == normalised_email(customer.address)
    return True


def _customer_data(c: Customer) -> dict[str, Any]:
    return {
        "email": c.address,
        "name": c.name,
        "company": c.company,
        "address": c.postal_address,
        "phone": c.phone,
        "source": c.source,
        "verified": c.verified,
        "restricted": c.restricted,
        "created_at": _time(c.created_at),
    }


class _Collector:
    """Gathers messages with their attachments, naming each file once."""

    def __init__(self, uow: UnitOfWork, tickets: Sequence[Ticket]) -> None:
        self.uow = uow
        self._refs: dict[str, str | None] = {t.id: t.ref for t in tickets}
        self.files: list[tuple[str, bytes]] = []
        self._numbers: dict[str, int] = {}

    def ref(self, ticket_id: str | None) -> str | None:
        """The reference of a ticket (theirs, or another one they wrote on), looked up once."""
        if ticket_id is None:
            return None
        if ticket_id not in self._refs:
            ticket = self.uow.tickets.get(ticket_id)
            self._refs[ticket_id] = ticket.ref if ticket else None
        return self._refs[ticket_id]

    def message(self, m: StoredMessage) -> dict[str, Any]:
        folder = self.ref(m.ticket_id) or "no-ticket"
        number = self._numbers[folder] = self._numbers.get(folder, 0) + 1
        attachments = []
        for i, a in enumerate(self.uow.messages.attachments(m.id), start=1):
            path = f"attachments/{safe_name(folder)}/m{number:02d}-{i}-{safe_name(a.filename, 'attachment')}"
            self.files.append((path, a.content))
            attachments.append(
                {
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "size": len(a.content),
                    "sha256": hashlib.sha256(a.content).hexdigest(),
                    "file": path,
                }
            )
        return {
            "ticket": self.ref(m.ticket_id),
            "direction": m.direction,
            "kind": m.kind,
            "received_at": _time(m.received_at),
            "from": m.sender,
            "to": list(m.recipients),
            "subject": m.subject,
            "body": m.body,
            "attachments": attachments,
        }


def _ticket_data(uow: UnitOfWork, t: Ticket, messages: list[dict[str, Any]], withheld: int) -> dict[str, Any]:
    return {
        "ref": t.ref,
        "category": t.category,
        "secondary": t.secondary,
        "status": t.status,
        "language": t.language,
        "subject": uow.tickets.subject(t),
        "received_at": _time(t.received_at),
        "opened_at": _time(t.opened_at),
        "first_response_due": _time(t.first_response_due),
        "first_responded_at": _time(t.first_responded_at),
        "legal_due": _time(t.legal_due),
        "internal_due": _time(t.internal_due),
        "resolution_due": _time(t.resolution_due),
        "answered_at": _time(t.answered_at),
        "classification": {
            "rule": t.rule,
            "confidence": t.confidence,
            "evidence": uow.tickets.evidence(t),
            "triage": t.triage,
        },
        "extensions": [
            {"months": e.months, "decided_at": _time(e.decided_at)} for e in uow.decisions.extensions_of(t.id)
        ],
        "pauses": [
            {"started": _time(p.started), "ended": _time(p.ended)} for p in uow.decisions.pauses_of(t.id)
        ],
        "messages": messages,
        "withheld_messages": withheld,
    }


def collect(
    uow: UnitOfWork, email: str, now: datetime, org: Organisation, language: str | None = None
) -> AccessPackage:
    """Everything held on the customer with address ``email`` (``CustomerInputError`` if none)."""
    customer = known_customer(uow, email)
    tickets = uow.tickets.of_customer(customer.id)
    own = {t.id for t in tickets}
    collector = _Collector(uow, tickets)
    ticket_data = []
    for t in tickets:
        thread = uow.messages.of_ticket(t.id)
        mine = [m for m in thread if is_theirs(m, customer)]
        ticket_data.append(
            _ticket_data(uow, t, [collector.message(m) for m in mine], len(thread) - len(mine))
        )
    elsewhere = [
        m for m in uow.messages.of_customer(customer.id) if m.ticket_id not in own and is_theirs(m, customer)
    ]
    other_messages = [collector.message(m) for m in elsewhere]
    original = []
    for i, raw in enumerate(uow.mailbox.of_customer(customer.id), start=1):
        path = f"original-mail/{i:03d}-{raw.received_at:%Y%m%d-%H%M%S}.eml"
        collector.files.append((path, raw.raw))
        original.append({"received_at": _time(raw.received_at), "size": len(raw.raw), "file": path})
    events = [
        {
            "at": _time(e.at),
            "kind": e.kind,
            "actor": e.actor,
            "ticket": collector.ref(e.ticket_id),
            "detail": e.detail,
        }
        for e in uow.audit.about(customer.id, sorted(own))
    ]
    chosen = language if language in LANGUAGES else _language_of(tickets)
    data: dict[str, Any] = {
        "format": FORMAT,
        "generated_at": _time(now),
        "controller": {"name": org.name, "mailbox": org.mailbox, "website": org.domain},
        "sources": _sources(customer, events, original),
        "customer": _customer_data(customer),
        "tickets": ticket_data,
        "other_messages": other_messages,
        "original_mail": original,
        "audit_events": events,
    }
    return AccessPackage(customer.id, now, chosen, data, collector.files)


def _language_of(tickets: Sequence[Ticket]) -> str:
    """The language of their latest ticket (the language they write to us in), else Dutch."""
    for t in reversed(tickets):
        if t.language in LANGUAGES:
            return t.language
    return "nl"


def _sources(customer: Customer, events: list[dict[str, Any]], original: list[Any]) -> list[str]:
    """Where the data came from (art. 15(1)(g)): their own mail, and/or the customer administration."""
    found = []
    if customer.source == "mail" or original:
        found.append("mail")
    if customer.source == "import" or any(e["kind"] == "customer.imported" for e in events):
        found.append("import")
    return found


def record_export(uow: UnitOfWork, package: AccessPackage, now: datetime, actor: str) -> None:
    """Audited after the package was written (so the trail never claims an export that failed)."""
    uow.audit.record(
        "customer.exported", now, customer_id=package.customer_id, actor=actor, counts=package.counts()
    )
