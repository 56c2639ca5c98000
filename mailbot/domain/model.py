"""The vocabulary of mailbot: categories, statuses and the classification result.

Plain values only, so rules, deadlines and threading can be tested without a database.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Category(StrEnum):
    COMPLAINT = "complaint"
    ACCESS = "access"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    OBJECTION = "objection"
    REPLY = "reply"
    AUTOMATED = "automated"
    OTHER = "other"


#: GDPR requests carry the one-month legal term (R-A2) on top of the 48-hour first answer.
GDPR_CATEGORIES: frozenset[Category] = frozenset(
    {Category.ACCESS, Category.RECTIFICATION, Category.ERASURE, Category.RESTRICTION, Category.OBJECTION}
)

#: Categories that open a ticket of their own (reply and automated attach or stand alone).
TICKET_CATEGORIES: frozenset[Category] = frozenset({Category.COMPLAINT, Category.OTHER} | GDPR_CATEGORIES)

#: The labelled corpus speaks Dutch; this maps its labels onto ours.
DUTCH_LABELS: dict[str, Category] = {
    "klacht": Category.COMPLAINT,
    "inzage": Category.ACCESS,
    "correctie": Category.RECTIFICATION,
    "verwijdering": Category.ERASURE,
    "beperking": Category.RESTRICTION,
    "bezwaar": Category.OBJECTION,
    "reply": Category.REPLY,
    "auto": Category.AUTOMATED,
    "overig": Category.OTHER,
}


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    WAITING = "waiting"
    RESOLVED = "resolved"
    CLOSED = "closed"


#: A ticket in these states is done: its running terms end, and a request asked again on it
#: opens a new one.
CLOSED_STATUSES = (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value)


class RawState(StrEnum):
    """Where a stored raw message stands between ingest and process."""

    PENDING = "pending"
    PROCESSED = "processed"
    QUARANTINED = "quarantined"


@dataclass(frozen=True)
class Classification:
    """What the rules engine decided, and why (the rule id and the words that matched)."""

    category: Category
    rule: str
    confidence: float
    evidence: tuple[str, ...] = ()
    secondary: Category | None = None
    triage: bool = False
    language: str = "nl"
    ticket_ref: str | None = None
    automated: bool = False
    automated_reasons: tuple[str, ...] = field(default=())
    #: R-B1's promise carried by the subject when the category does not carry it: "rugklachten"
    #: in the subject of a question is no complaint, yet "klacht" in the subject was promised an
    #: answer within 48 hours — the ticket keeps the complaint's first-answer clock.
    first_answer_as: Category | None = None


@dataclass(frozen=True)
class Organisation:
    """Who mailbot answers for: its own domain and addresses are never auto-answered (loop guard)."""

    name: str = "Ordevos"
    mailbox: str = "info@ordevos.nl"
    domain: str = "ordevos.nl"
    ticket_prefix: str = "ORD"
    timezone: str = "Europe/Amsterdam"
    own_addresses: tuple[str, ...] = ("info@ordevos.nl",)
    #: Head office: who may answer through a ticket's private reply address (lower-case).
    staff: tuple[str, ...] = ()
    #: Senders that carry a person's words typed into a form (the website's contact form, a
    #: booking tool): whole addresses or ``@domain`` (lower-case). See :mod:`mailbot.domain.forms`.
    form_senders: tuple[str, ...] = ()


def new_id() -> str:
    """Row ids are UUIDs made before the first write: they are sealed into ciphertexts (R-D2)."""
    return str(uuid.uuid4())


def format_ticket_ref(prefix: str, year: int, seq: int) -> str:
    """``ORD-2026-00042``: prefix, year of opening, per-year sequence (never reused)."""
    return f"{prefix}-{year:04d}-{seq:05d}"


# -- the aggregates services work with (repositories hand these out; no ORM rows, no ciphertext) --


@dataclass
class Customer:
    """A person mailbot holds data on. ``address`` (the e-mail address), ``name`` and the fields the
    customer administration adds (``company``, ``postal_address``, ``phone``) are opened from their
    ciphertext by the repository; a customer whose key was destroyed (erased) has them all empty.
    ``source`` says where the record came from: ``mail`` (first seen writing to us) or ``import``."""

    id: str
    address: str
    name: str
    verified: bool = False
    restricted: bool = False
    created_at: datetime | None = None
    erased_at: datetime | None = None
    company: str = ""
    postal_address: str = ""
    phone: str = ""
    source: str = "mail"


@dataclass
class Ticket:
    """One case with its deadlines. Services change it and hand it back (``tickets.save``)."""

    id: str
    ref: str
    category: str
    status: str
    customer_id: str
    language: str
    rule: str
    confidence: float
    received_at: datetime
    opened_at: datetime
    updated_at: datetime
    secondary: str | None = None
    triage: bool = False
    assignee: str | None = None
    first_response_due: datetime | None = None
    first_responded_at: datetime | None = None
    legal_due: datetime | None = None
    legal_due_unpaused: datetime | None = None
    internal_due: datetime | None = None
    resolution_due: datetime | None = None
    answered_at: datetime | None = None
    overdue: bool = False
    #: GDPR requests acting on a person's data: not_needed, pending (challenge sent), verified.
    identity_status: str | None = None
    identity_method: str | None = None  # "dmarc", "challenge", or what staff recorded
    #: Kept past its retention term (a dispute, a legal claim) until staff release it (issue 16).
    legal_hold: bool = False
    #: When the retention purge removed its correspondence (the ticket stays as a husk).
    purged_at: datetime | None = None


@dataclass(frozen=True)
class NewMessage:
    """Correspondence to record on a ticket (or unattached, for automated mail)."""

    direction: str  # "in" or "out"
    kind: str  # customer, automated, acknowledgement, staff_reply, note …
    received_at: datetime
    created_at: datetime
    subject: str
    body: str
    sender: str | None
    recipients: tuple[str, ...]
    meta: dict[str, Any]
    ticket_id: str | None = None
    customer_id: str | None = None
    raw_id: str | None = None
    message_id: str | None = None
    category: str | None = None
    rule: str | None = None
    language: str | None = None
    automated: bool = False
    possible_duplicate: bool = False


@dataclass(frozen=True)
class StoredMessage:
    """Recorded correspondence, opened for staff eyes."""

    id: str
    ticket_id: str | None
    customer_id: str | None
    direction: str
    kind: str
    received_at: datetime
    subject: str
    body: str
    sender: str
    rule: str | None = None
    automated: bool = False
    possible_duplicate: bool = False
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoredAttachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class RecipientTaskView:
    """An art. 19 notice owed to a recipient of the data (R-A13), until staff mark it done."""

    id: int
    reference: str  # the ticket ref, or "customer:<id>" for an action outside a ticket
    ticket_id: str | None
    recipient: str
    action: str  # rectified, erased, restricted
    created_at: datetime


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    kind: str
    actor: str
    ticket_id: str | None = None
    customer_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
