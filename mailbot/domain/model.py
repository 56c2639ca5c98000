"""The vocabulary of mailbot: categories, statuses and the classification result.

Plain values only, so rules, deadlines and threading can be tested without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


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


@dataclass(frozen=True)
class Organisation:
    """Who mailbot answers for: its own domain and addresses are never auto-answered (loop guard)."""

    name: str = "Ordevos"
    mailbox: str = "info@ordevos.nl"
    domain: str = "ordevos.nl"
    ticket_prefix: str = "ORD"
    timezone: str = "Europe/Amsterdam"
    own_addresses: tuple[str, ...] = ("info@ordevos.nl",)


def format_ticket_ref(prefix: str, year: int, seq: int) -> str:
    """``ORD-2026-00042``: prefix, year of opening, per-year sequence (never reused)."""
    return f"{prefix}-{year:04d}-{seq:05d}"
