"""The honest figure as a test (issue 14): leave-one-writer-set-out over every labelled set.

Each held-out set is scored by rules + a model trained on all the other sets only. The floors sit
just under today's figures (``mailbot model evaluate``; bench/README.md has them), so a change that
makes classification worse on writers it never saw fails here. About three minutes on two cores (33 sets).
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

#: 33 sets on 2026-12-07 (fourth session): mean 94.3%, worst w52 83.0% (young clients on their
#: phones: slang, emoji, dictation typos), rights requests found 98.0%, 2 lost (both w52: an
#: objection to a TikTok clip in street language, a one-line "stop that" in a reply), 5 automated
#: acknowledged. A request made inside a ticket's thread counts as found when the reply carries it
#: as its secondary (``domain/scoring.py``, the reference corpus's d031). The floors dropped when
#: harder writer sets joined, not because classification got worse; the targets (96% / 92% / 99% /
#: none lost / none acknowledged) are not met.
MEAN_FLOOR = 0.94
WORST_FLOOR = 0.82
RECALL_FLOOR = 0.975
REQUESTS_LOST_CEILING = 2
AUTO_ACKED_CEILING = 5


@pytest.mark.slow
def test_leave_one_writer_set_out_meets_its_floors() -> None:
    roots = [REPO / "corpus"] + ([SHARED_LABELLED] if SHARED_LABELLED.is_dir() else [])
    sets = load_sets(roots)
    assert len(sets) >= 33, [s.name for s in sets]
    scores = cross_validate(sets, load_ruleset(REPO / "mailbot" / "defaults" / "rules"), Organisation())
    summary = summarise(scores)
    table = ", ".join(f"{s.name} {s.accuracy:.1%}" for s in scores)
    assert summary.mean >= MEAN_FLOOR, table
    assert summary.worst.accuracy >= WORST_FLOOR, table
    assert summary.request_recall >= RECALL_FLOOR, table
    assert summary.requests_lost <= REQUESTS_LOST_CEILING, table  # real requests as "other", no flag
    assert summary.auto_acked <= AUTO_ACKED_CEILING, table
