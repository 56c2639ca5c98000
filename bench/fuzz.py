"""Bad-input figures (issue 13): the real-world corpus and seeded mutations of it through parse →
classify (each under a per-message time limit), then a seeded sample through ingest + process on
real SQLite storage. Prints cases, unparseable, crashes, hangs, the slowest message, how the stored
sample ended (tickets, automated, duplicates, quarantined), elapsed, peak RSS and the core count.
The same cases as ``tests/service/test_fuzz_corpus.py`` (``tests/support/fuzz.py``).

    .venv/bin/python bench/fuzz.py [--mutations 3000] [--seed 13] [--stored 500]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def through_storage(sample: list[bytes]) -> dict[str, int]:
    """The sample through the real pipeline on SQLite: each must end somewhere, nothing escapes."""
    from mailbot.services.pipeline import run_pass
    from tests.support.app import make_app
    from tests.support.fakes import MemorySource

    received = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="fuzzb") as root:
        app = make_app(Path(root), f"sqlite:///{root}/mailbot.db", lambda: received)
        source = MemorySource()
        for raw in sample:
            source.add(raw, received)
        try:
            summary = run_pass(source, app.database, app.processor, app.clock)
        finally:
            app.close()
    return {
        "stored_fetched": summary.fetched,
        "tickets": summary.tickets_opened,
        "appended": summary.appended,
        "automated": summary.automated,
        "duplicates": summary.duplicates,
        "quarantined": summary.quarantined,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutations", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--stored", type=int, default=500, help="mutated cases also run through storage")
    parser.add_argument("--per-message-seconds", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("mailbot").setLevel(logging.ERROR)  # the expected "processing failed" lines

    from mailbot.domain.model import Organisation
    from tests.support.fuzz import fuzz_cases, mutate, parse_and_classify_all, realworld_corpus
    from tests.unit.test_rules_support import shipped_rules

    started = time.perf_counter()
    figures = parse_and_classify_all(
        fuzz_cases(args.seed, args.mutations), shipped_rules(), Organisation(), args.per_message_seconds
    )
    classified = time.perf_counter() - started
    rng = random.Random(args.seed + 1)
    corpus = realworld_corpus()
    stored = through_storage([mutate(rng.choice(corpus), rng) for _ in range(args.stored)])
    print(
        json.dumps(
            {
                "cases": figures.cases,
                "unparseable": figures.unparseable,
                "crashes": len(figures.crashes),
                "hangs": figures.hangs,
                "slowest_message_s": round(figures.slowest_seconds, 3),
                "parse_classify_s": round(classified, 1),
                **stored,
                "elapsed_s": round(time.perf_counter() - started, 1),
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "cores": os.cpu_count(),
            }
        )
    )
    for crash in figures.crashes[:10]:
        print(crash, file=sys.stderr)


if __name__ == "__main__":
    main()
