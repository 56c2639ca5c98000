"""Stage one: source → stored, sealed raw message + advanced cursor, in one transaction per batch.

::

    source.batches(cursor) ──► for each message: parse (once) ─► customer by blind index
                                                   │
                                                   ▼
                                   raw sealed under the customer's key, unless seen (fingerprint)
                                                   │ cursor advanced, COMMIT
                                                   ▼
                                   source.done(batch)   (move/flag only after the commit, R-C17)

A crash before the commit leaves the message untouched at the source; a crash after the commit but
before ``done`` means the next pass sees it again and the fingerprint makes it a no-op. The parse
is kept (``ParsedCache``) for the processing stage of the same pass, so a message is parsed once;
a message the parser cannot read is still stored (without a customer), and its failure is then
processing's to quarantine: intake never stops on bad mail. A message over the maximum size comes
as its first bytes only (``IncomingMessage.full_size``) and is quarantined here, in the same
transaction, so processing never mistakes a fragment for the whole mail.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from mailbot.mail.parse import ParsedMail
from mailbot.services.ports import OVERSIZE_PREFIX_BYTES, Batch, Clock, IncomingMessage, Source
from mailbot.services.repositories import Database, UnitOfWork

log = logging.getLogger(__name__)


class ParsedCache:
    """Parses made at ingest, kept for processing in the same pass (bounded in count and in the
    bytes of the messages behind them: a long backlog or a large attachment costs a re-parse,
    never memory — a parse keeps its attachments' MIME text until they are stored)."""

    def __init__(self, limit: int = 2000, budget: int = 8 << 20, largest: int = 64 << 10) -> None:
        # A parse holds ~2.6x a small message's bytes, and a message with an attachment its MIME
        # text: 32 MiB of messages up to 256 KB cost ~60 MiB of peak RSS (issue 15); re-parsing the
        # few larger ones costs little, the small ones (~1.5 KB) are what the cache is for.
        self.limit, self.budget, self.largest = limit, budget, largest
        self._items: OrderedDict[str, tuple[ParsedMail, int]] = OrderedDict()
        self._bytes = 0

    def keeps(self, size: int) -> bool:
        """Whether a parse of a message of ``size`` bytes would be kept at all."""
        return size <= self.largest

    def put(self, raw_id: str, parsed: ParsedMail, size: int = 0) -> None:
        if not self.keeps(size):
            return
        self._items[raw_id] = (parsed, size)
        self._bytes += size
        while len(self._items) > self.limit or self._bytes > self.budget:
            self._bytes -= self._items.popitem(last=False)[1][1]

    def take(self, raw_id: str) -> ParsedMail | None:
        item = self._items.pop(raw_id, None)
        if item is None:
            return None
        self._bytes -= item[1]
        return item[0]


@dataclass
class IngestReport:
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    batches: int = 0
    parsed: ParsedCache = field(default_factory=ParsedCache)


#: Raw bytes → the mail mailbot reasons about (production: ``Processor.read``, which reads a
#: form's mail as the person's, so the customer is the person who filled in the form).
Reader = Callable[[bytes], ParsedMail]


def try_parse(raw: bytes, read: Reader) -> ParsedMail | None:
    try:
        return read(raw)
    except Exception:  # unreadable here is processing's to quarantine, with its reason
        return None


def store_incoming(
    uow: UnitOfWork,
    source_name: str,
    message: IncomingMessage,
    clock: Clock,
    read: Reader,
    cache: ParsedCache | None = None,
) -> str | None:
    """Store one message; returns the new raw id, or None when the same bytes were stored before."""
    if uow.mailbox.is_stored(message.raw):
        return None
    now = clock()
    parsed = try_parse(message.raw, read)
    address, name, message_id = (
        (parsed.from_address, parsed.from_name, parsed.message_id) if parsed else (None,) * 3
    )
    if cache is None or not cache.keeps(len(message.raw)):
        parsed = None  # not kept: let its MIME text go before the message is sealed (issue 15)
    customer = uow.customers.find_or_create(address, name, now) if address else None
    raw_id = uow.mailbox.add_if_new(
        source=source_name,
        key=message.key,
        raw=message.raw,
        message_id=message_id,
        customer_id=customer.id if customer else None,
        received_at=message.received_at or now,
        now=now,
    )
    if raw_id is not None and message.full_size is not None:
        uow.mailbox.record_failure(raw_id, TOO_LARGE, oversize_reason(message.full_size), 1, now)
        log.warning("quarantined at intake: over the size limit", extra={"raw_id": raw_id})
    elif raw_id is not None and parsed is not None and cache is not None:
        cache.put(raw_id, parsed, len(message.raw))
    return raw_id


#: The quarantine error kind of a message over ``processing.max_message_bytes``.
TOO_LARGE = "too_large"


def oversize_reason(size: int) -> str:
    """What staff read in ``mailbot quarantine list`` (no personal data: a size and what to do)."""
    return (
        f"message of {size / 1_000_000:.1f} MB is over processing.max_message_bytes: only its first "
        f"{OVERSIZE_PREFIX_BYTES // 1024} KB were read; the whole message stays at the source "
        "(raise the limit and move it back to the inbox to read it)"
    )


def ingest(
    source: Source,
    database: Database,
    clock: Clock,
    *,
    read: Reader,
    on_batch: Callable[[IngestReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> IngestReport:
    """One pass over ``source``: every message it has is stored (or recognised) and then marked done.

    ``read`` is required (production passes ``Processor.read``): a default would let a caller store
    a form's mail under the form's sender instead of the person who filled it in."""
    report = IngestReport()
    with database.transaction() as uow:
        cursor = uow.mailbox.cursor(source.name)
    for batch in source.batches(cursor):
        if should_stop is not None and should_stop():
            break  # the batch was not stored: it stays at the source for the next start
        _ingest_batch(source, database, clock, batch, report, read)
        if on_batch:
            on_batch(report)
    return report


def _ingest_batch(
    source: Source, database: Database, clock: Clock, batch: Batch, report: IngestReport, read: Reader
) -> None:
    stored: list[str] = []
    duplicates = 0
    with database.transaction() as uow:
        for message in batch.messages:
            raw_id = store_incoming(uow, source.name, message, clock, read, report.parsed)
            if raw_id is None:
                duplicates += 1
            else:
                stored.append(raw_id)
        uow.mailbox.advance(source.name, batch.cursor, clock())
    # Committed: only now may the source forget the messages (R-C17).
    source.done(batch.messages)
    report.batches += 1
    report.fetched += len(batch.messages)
    report.stored += len(stored)
    report.duplicates += duplicates
    log.info("ingested batch", extra={"stored": len(stored), "duplicates": duplicates, "source": source.name})
