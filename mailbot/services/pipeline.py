"""One intake pass: ingest everything the source has, then process everything pending.

``fetch --once`` and every tick of ``mailbot run`` call this; the counts are what ``--json`` prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mailbot.services.ingest import IngestReport, ingest
from mailbot.services.ports import Clock, Source
from mailbot.services.process import Processor, ProcessReport, process_pending
from mailbot.services.repositories import Database


@dataclass(frozen=True)
class PassSummary:
    fetched: int
    tickets_opened: int
    appended: int
    automated: int
    duplicates: int
    quarantined: int

    def as_dict(self) -> dict[str, int]:
        return {
            "fetched": self.fetched,
            "tickets_opened": self.tickets_opened,
            "appended": self.appended,
            "automated": self.automated,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
        }


def summarise(ingested: IngestReport, processed: ProcessReport) -> PassSummary:
    return PassSummary(
        fetched=ingested.fetched,
        tickets_opened=processed.tickets_opened,
        appended=processed.appended,
        automated=processed.automated,
        duplicates=ingested.duplicates + processed.duplicates,
        quarantined=processed.quarantined,
    )


def run_pass(
    source: Source,
    database: Database,
    processor: Processor,
    clock: Clock,
    *,
    on_progress: Callable[[IngestReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> PassSummary:
    """``should_stop`` (SIGTERM in ``mailbot run``) ends the pass after the batch or message in hand."""
    ingested = ingest(
        source, database, clock, on_batch=on_progress, should_stop=should_stop, read=processor.read
    )
    processed = process_pending(database, processor, clock, parsed=ingested.parsed, should_stop=should_stop)
    return summarise(ingested, processed)
