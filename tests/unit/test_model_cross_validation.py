"""The honest figure as a test (issue 14): leave-one-writer-set-out over every labelled set.

Each held-out set is scored by rules + a model trained on all the other sets only. The floors sit
just under today's figures (``mailbot model evaluate``; bench/README.md has them), so a change that
makes classification worse on writers it never saw fails here. About four minutes on two cores (35 sets).
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

#: 35 sets on 2026-12-07 (fourth session): mean 92.5%, rights requests found 95.5%, 2 lost (both
#: w52, young people in street language), 6 automated acknowledged. Worst w56 36.0%: mail wrapped by
#: the website's form and other platforms, which the header and sender rules call automated before
#: any word is read — a missing capability (company-named form senders), not a model miss, so it
#: has its own floor and the worst of the others is w52 83.5%. A request made inside a ticket's
#: thread counts as found when the reply carries it as its secondary (``domain/scoring.py``, the
#: reference corpus's d031). The floors dropped when harder writer sets joined, not because
#: classification got worse; the targets (96% / 92% / 99% / none lost / none acknowledged) are not met.
MEAN_FLOOR = 0.92
WORST_FLOOR = 0.82
RECALL_FLOOR = 0.95
REQUESTS_LOST_CEILING = 2
AUTO_ACKED_CEILING = 6
#: Sets whose misses are a known missing capability, each with its own floor.
KNOWN_GAPS = {"w56": 0.35}


@pytest.mark.slow
def test_leave_one_writer_set_out_meets_its_floors() -> None:
    roots = [REPO / "corpus"] + ([SHARED_LABELLED] if SHARED_LABELLED.is_dir() else [])
    sets = load_sets(roots, Organisation())
    assert len(sets) >= 35, [s.name for s in sets]
    scores = cross_validate(sets, load_ruleset(REPO / "mailbot" / "defaults" / "rules"), Organisation())
    summary = summarise(scores)
    table = ", ".join(f"{s.name} {s.accuracy:.1%}" for s in scores)
    assert summary.mean >= MEAN_FLOOR, table
    assert min(s.accuracy for s in scores if s.name not in KNOWN_GAPS) >= WORST_FLOOR, table
    for gap in scores:
        if gap.name in KNOWN_GAPS:
            assert gap.accuracy >= KNOWN_GAPS[gap.name], table
    assert summary.request_recall >= RECALL_FLOOR, table
    assert summary.requests_lost <= REQUESTS_LOST_CEILING, table  # real requests as "other", no flag
    assert summary.auto_acked <= AUTO_ACKED_CEILING, table
