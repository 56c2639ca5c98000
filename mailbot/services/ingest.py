"""Stage one: source → stored, sealed raw message + advanced cursor, in one transaction per batch.

::

    source.batches(cursor) ──► for each message: fingerprint ─► seen? ─► duplicate (no-op)
                                                   │ new
                                                   ▼
                                   customer by blind index ─► raw sealed ─► cursor advanced
                                                   │ COMMIT
                                                   ▼
                                   source.done(batch)   (move/flag only after the commit, R-C17)

A crash before the commit leaves the message untouched at the source; a crash after the commit but
before ``done`` means the next pass sees it again and the fingerprint makes it a no-op. Nothing here
interprets the message beyond its From header (to pick the customer's key), so a bug in parsing or
classification can never stop intake.
"""

from __future__ import annotations

import email.parser
import email.policy
import logging
from collections.abc import Callable
from dataclasses import dataclass

from mailbot.adapters.db.store import Database, Store
from mailbot.mail.parse import strict_addresses
from mailbot.services.ports import Batch, Clock, IncomingMessage, Source

log = logging.getLogger(__name__)

_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.compat32)


@dataclass
class IngestReport:
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    batches: int = 0


def sender_of(raw: bytes) -> tuple[str | None, str, str | None]:
    """(address, display name, Message-ID) from the header block only; strict, never guessing (R-C13)."""
    try:
        headers = _HEADERS.parsebytes(raw)
    except Exception:  # a header block the stdlib cannot read: keep the message, sender unknown
        return None, "", None
    pairs = strict_addresses([str(v) for v in headers.get_all("From") or []])
    message_id = headers.get("Message-ID")
    message_id = str(message_id).strip() if message_id else None
    if len(pairs) != 1:
        return None, "", message_id
    name, address = pairs[0]
    return address, name, message_id


def store_incoming(store: Store, source_name: str, message: IncomingMessage, clock: Clock) -> str | None:
    """Store one message; returns the new raw id, or None when the same bytes were stored before."""
    fingerprint = store.vault.keyring.fingerprint(message.raw)
    if store.has_fingerprint(fingerprint):
        return None
    now = clock()
    address, name, message_id = sender_of(message.raw)
    customer = store.find_or_create_customer(address, name, now) if address else None
    return store.add_raw(
        source=source_name,
        source_key=message.key,
        raw=message.raw,
        fingerprint=fingerprint,
        message_id=message_id,
        customer=customer,
        received_at=message.received_at or now,
        now=now,
    )


def ingest(
    source: Source,
    database: Database,
    clock: Clock,
    *,
    on_batch: Callable[[IngestReport], None] | None = None,
) -> IngestReport:
    """One pass over ``source``: every message it has is stored (or recognised) and then marked done."""
    report = IngestReport()
    with database.transaction() as store:
        cursor = store.cursor(source.name)
    for batch in source.batches(cursor):
        _ingest_batch(source, database, clock, batch, report)
        if on_batch:
            on_batch(report)
    return report


def _ingest_batch(
    source: Source, database: Database, clock: Clock, batch: Batch, report: IngestReport
) -> None:
    stored: list[str] = []
    duplicates = 0
    with database.transaction() as store:
        for message in batch.messages:
            raw_id = store_incoming(store, source.name, message, clock)
            if raw_id is None:
                duplicates += 1
            else:
                stored.append(raw_id)
        store.advance_cursor(source.name, batch.cursor, clock())
    # Committed: only now may the source forget the messages (R-C17).
    source.done(batch.messages)
    report.batches += 1
    report.fetched += len(batch.messages)
    report.stored += len(stored)
    report.duplicates += duplicates
    log.info("ingested batch", extra={"stored": len(stored), "duplicates": duplicates, "source": source.name})
