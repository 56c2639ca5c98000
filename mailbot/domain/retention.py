"""What an erasure must keep, and for how long (R-A12, R-D5) — pure rules, no storage.

An erasure deletes correspondence and marketing data, but a legal duty may require some of a
person's data to stay: the Dutch fiscal record-keeping duty keeps invoice and administration data
for seven years (art. 52(4) AWR, art. 2:10 BW). Such a duty is configured, not guessed: it names
the customer fields it keeps, how many years, its legal basis (quoted in the erasure report) and
which customers it applies to — ``imported`` ones (they come from the client administration, so
invoices exist) or ``all``.

Decisions:
- The term runs from the erasure, not from the last invoice: mailbot does not hold invoices, so it
  keeps the fields for the whole duty counted from today, which never keeps them too briefly.
- A field kept by a duty is kept with its value only; empty fields are not "kept".
- The ledger entry carries keyed hashes only (the blind index of the address, a keyed hash of
  the customer id) and the destroyed data key's id: enough to erase the same person again in a
  restored backup, nothing to recover who they were.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

#: The customer fields a duty may keep (``email`` is the address; the rest as ``customers show``).
RETAINABLE_FIELDS: tuple[str, ...] = ("email", "name", "company", "address", "phone")
APPLIES_TO: tuple[str, ...] = ("imported", "all")


@dataclass(frozen=True)
class RetentionDuty:
    """A legal obligation that keeps ``fields`` for ``years`` after an erasure (art. 17(3)(b))."""

    name: str
    fields: tuple[str, ...]
    years: int
    basis: str
    applies_to: str = "imported"

    def __post_init__(self) -> None:
        unknown = [f for f in self.fields if f not in RETAINABLE_FIELDS]
        if unknown:
            raise ValueError(f"retention duty {self.name!r}: unknown field(s) {', '.join(unknown)}")
        if self.applies_to not in APPLIES_TO:
            raise ValueError(f"retention duty {self.name!r}: applies_to must be imported or all")
        if not 1 <= self.years <= 30:
            raise ValueError(f"retention duty {self.name!r}: years must be between 1 and 30")


@dataclass(frozen=True)
class Retained:
    """What one duty keeps of one person: the values by field, and until when."""

    duty: str
    basis: str
    values: Mapping[str, str]
    until: datetime


def add_years(moment: datetime, years: int) -> datetime:
    """The same date ``years`` later; 29 February becomes 28 February in a common year."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def what_to_keep(
    duties: Sequence[RetentionDuty], source: str, values: Mapping[str, str], now: datetime
) -> list[Retained]:
    """For a customer of ``source`` (``mail`` or ``import``) with these field values, what each
    applicable duty keeps; duties that would keep nothing are left out."""
    kept: list[Retained] = []
    for duty in duties:
        if duty.applies_to == "imported" and source != "import":
            continue
        fields = {name: values[name] for name in duty.fields if values.get(name)}
        if fields:
            kept.append(Retained(duty.name, duty.basis, fields, add_years(now, duty.years)))
    return kept


def backups_gone_by(now: datetime, keep_daily: int, keep_weekly: int) -> datetime:
    """When the last backup made before ``now`` has expired under the backup policy (R-D5 (4)):
    daily snapshots for ``keep_daily`` days, weekly ones for ``keep_weekly`` weeks after that."""
    return now + timedelta(days=keep_daily) + timedelta(weeks=keep_weekly) + timedelta(days=1)


@dataclass(frozen=True)
class LedgerEntry:
    """One erasure, as the erasure ledger keeps it outside the database (R-D5, R-D10)."""

    erasure_id: str
    at: datetime
    address_hash: str
    customer_hash: str
    data_key_id: int

    def as_json(self) -> dict[str, str | int]:
        return {
            "erasure_id": self.erasure_id,
            "at": self.at.isoformat(),
            "address_hash": self.address_hash,
            "customer_hash": self.customer_hash,
            "data_key_id": self.data_key_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> LedgerEntry:
        return cls(
            erasure_id=str(data["erasure_id"]),
            at=datetime.fromisoformat(str(data["at"])),
            address_hash=str(data["address_hash"]),
            customer_hash=str(data["customer_hash"]),
            data_key_id=int(str(data["data_key_id"])),
        )


@dataclass(frozen=True)
class ErasureReport:
    """What an erasure did, for the person's report, the CLI and the audit trail (counts only)."""

    erasure_id: str
    reference: str
    erased_at: datetime
    removed: Mapping[str, int]
    retained: Sequence[Retained]
    backups_gone_by: datetime | None

    @property
    def outcome(self) -> str:
        return "erased-retained" if self.retained else "erased"


@dataclass(frozen=True)
class TicketRetention:
    """How long a closed ticket's correspondence is kept (issue 16): complaints 12 months after
    closing (the company's own complaint procedure, R-B2), everything else two years by default."""

    complaint_months: int = 12
    other_months: int = 24

    def months_for(self, category: str) -> int:
        return self.complaint_months if category == "complaint" else self.other_months

    def earliest_cutoff(self, now: datetime) -> datetime:
        """Tickets closed after this are kept whatever their category (the query's bound)."""
        return add_months(now, -min(self.complaint_months, self.other_months))

    def is_due(self, category: str, closed_at: datetime, legal_hold: bool, now: datetime) -> bool:
        """True when the ticket's term has run out and no legal hold keeps it."""
        return not legal_hold and closed_at <= add_months(now, -self.months_for(category))


def add_months(moment: datetime, months: int) -> datetime:
    """``months`` later (or earlier when negative), the day clipped to the month's last day."""
    index = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)
