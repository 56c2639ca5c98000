"""Seeded fuzzing with real-world mail (issue 13): every file of the real-world corpus and a few
thousand seeded mutations (truncations, byte flips, duplicated header blocks, NULs) go through
parse → classify without raising and within a per-message time limit; a seeded sample also goes
through ingest + process on real storage, each ending as ticket, automated, duplicate or quarantine."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailbot.bootstrap import App
from mailbot.domain.model import Organisation
from mailbot.services.pipeline import run_pass
from tests.support.app import make_app
from tests.support.fakes import MemorySource, keyword_classifier
from tests.support.fuzz import REALWORLD, fuzz_cases, mutate, parse_and_classify_all, realworld_corpus
from tests.unit.test_rules_support import shipped_rules

SEED = 13
MUTATIONS = 3000
PER_MESSAGE_SECONDS = 5
RECEIVED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_corpus_and_mutations_parse_and_classify_without_raising_or_hanging() -> None:
    corpus = realworld_corpus()
    assert len(corpus) >= 700, f"real-world corpus not found at {REALWORLD}"
    figures = parse_and_classify_all(
        fuzz_cases(SEED, MUTATIONS), shipped_rules(), Organisation(), PER_MESSAGE_SECONDS
    )
    assert figures.cases == len(corpus) + MUTATIONS
    assert figures.crashes == [] and figures.hangs == 0, (figures.hangs, figures.crashes[:10])


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock) -> Iterator[App]:
    application = make_app(tmp_path, database_url, clock, classifier=keyword_classifier)
    yield application
    application.close()


def test_seeded_mutations_through_ingest_and_process_each_end_somewhere(app: App) -> None:
    rng = random.Random(SEED + 1)
    corpus = realworld_corpus()
    sample = [mutate(rng.choice(corpus), rng) for _ in range(120)] + rng.sample(corpus, 30)
    source = MemorySource()
    for raw in sample:
        source.add(raw, RECEIVED)
    started = time.monotonic()
    summary = run_pass(source, app.database, app.processor, app.clock)
    assert time.monotonic() - started < 60
    ended = summary.tickets_opened + summary.appended + summary.automated + summary.duplicates
    assert summary.fetched == len(set(sample))
    assert ended + summary.quarantined == summary.fetched, summary
