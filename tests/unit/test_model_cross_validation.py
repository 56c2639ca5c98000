"""The honest figure as a test (issue 14): leave-one-writer-set-out over every labelled set.

Each held-out set is scored by rules + a model trained on all the other sets only. The floors sit
just under today's figures (``mailbot model evaluate``; bench/README.md has them), so a change that
makes classification worse on writers it never saw fails here. About two minutes on two cores (30 sets).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbot.adapters.model_evaluation import cross_validate, summarise
from mailbot.adapters.rules_loader import load_ruleset
from mailbot.adapters.training_corpus import load_sets
from mailbot.domain.model import Organisation

REPO = Path(__file__).resolve().parents[2]
SHARED_LABELLED = REPO.parent / "shared" / "corpus" / "labelled"

#: 30 sets on 2026-12-07: mean 94.6%, worst w46 84.0% (machine mail and people in machine
#: packaging, added that day), rights requests found 98.2%, none lost, 4 automated acknowledged.
#: The floors dropped when harder writer sets joined, not because classification got worse: on the
#: 24 sets of the day before, the mean rose from 95.2% to 95.6% with the new training data.
MEAN_FLOOR = 0.94
WORST_FLOOR = 0.83
RECALL_FLOOR = 0.98
AUTO_ACKED_CEILING = 4


@pytest.mark.slow
def test_leave_one_writer_set_out_meets_its_floors() -> None:
    roots = [REPO / "corpus"] + ([SHARED_LABELLED] if SHARED_LABELLED.is_dir() else [])
    sets = load_sets(roots)
    assert len(sets) >= 30, [s.name for s in sets]
    scores = cross_validate(sets, load_ruleset(REPO / "mailbot" / "defaults" / "rules"), Organisation())
    summary = summarise(scores)
    table = ", ".join(f"{s.name} {s.accuracy:.1%}" for s in scores)
    assert summary.mean >= MEAN_FLOOR, table
    assert summary.worst.accuracy >= WORST_FLOOR, table
    assert summary.request_recall >= RECALL_FLOOR, table
    assert summary.requests_lost == 0, table  # no real request filed as "other" without a flag
    assert summary.auto_acked <= AUTO_ACKED_CEILING, table
