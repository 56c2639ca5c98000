"""The audit trail as a hash chain: each event's hash covers the event and the previous hash.

Why: accountability (R-A18) is only worth something if the log cannot be edited quietly. An event
changed, removed or moved breaks the chain at that link, and ``verify_chain`` names the first
broken link. The chain head (last sequence number and hash) is kept apart from the events, so
cutting events off the end is caught too. Pure functions: the storage adapter computes and checks
with these, and a test can build and break chains without a database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: The hash the first event's ``prev_hash`` carries.
GENESIS = "0" * 64


@dataclass(frozen=True)
class ChainedEvent:
    """An audit event as stored, with its place and links in the chain."""

    id: int
    seq: int
    at: datetime
    kind: str
    actor: str
    ticket_id: str | None
    customer_id: str | None
    detail: Mapping[str, Any]
    prev_hash: str
    hash: str


def canonical_time(moment: datetime) -> str:
    """Microsecond UTC ISO form: the same on SQLite (naive, stored as UTC) and PostgreSQL."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def link_hash(
    prev_hash: str,
    seq: int,
    at: datetime,
    kind: str,
    actor: str,
    ticket_id: str | None,
    customer_id: str | None,
    detail: Mapping[str, Any],
) -> str:
    """SHA-256 over a canonical JSON of the event and the previous link's hash."""
    payload = json.dumps(
        {
            "prev": prev_hash,
            "seq": seq,
            "at": canonical_time(at),
            "kind": kind,
            "actor": actor,
            "ticket_id": ticket_id,
            "customer_id": customer_id,
            "detail": dict(detail),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        default=str,
    )
    return hashlib.sha256(payload.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """``broken`` is None when the chain holds; else a one-line description of the first bad link."""

    events: int
    broken: str | None
    first_bad_seq: int | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify_chain(events: Iterable[ChainedEvent], head: tuple[int, str] | None) -> ChainReport:
    """Walk ``events`` (in stored sequence order) and the head (last seq, last hash).

    Detects an edited event (its hash no longer recomputes), a removed one (a gap in the sequence
    or a ``prev_hash`` that does not match), a reordered pair (sequence or links out of order) and
    events cut off the end (the head names a later link than the last event)."""
    expected_seq, prev, count = 1, GENESIS, 0
    for event in events:
        count += 1
        where = f"event {event.seq} (id {event.id}, {event.kind})"
        if event.seq != expected_seq:
            what = "missing" if event.seq > expected_seq else "out of order"
            return ChainReport(count, f"{where}: expected event {expected_seq} ({what})", expected_seq)
        if event.prev_hash != prev:
            return ChainReport(count, f"{where}: does not link to the event before it", event.seq)
        recomputed = link_hash(
            event.prev_hash,
            event.seq,
            event.at,
            event.kind,
            event.actor,
            event.ticket_id,
            event.customer_id,
            event.detail,
        )
        if recomputed != event.hash:
            return ChainReport(count, f"{where}: its content was changed after it was written", event.seq)
        prev, expected_seq = event.hash, expected_seq + 1
    last_seq = expected_seq - 1
    if head is None:
        if count:
            return ChainReport(count, "the chain head is missing", last_seq)
        return ChainReport(0, None)
    head_seq, head_hash = head
    if head_seq != last_seq or head_hash != prev:
        return ChainReport(
            count, f"the chain ends at event {last_seq} but its head names event {head_seq}", last_seq + 1
        )
    return ChainReport(count, None)
