"""The honest figure as a test (issue 14): leave-one-writer-set-out over every labelled set.

Each held-out set is scored by rules + a model trained on all the other sets only. The floors sit
just under today's figures (``mailbot model evaluate``; bench/README.md has them), so a change that
makes classification worse on writers it never saw fails here. About four minutes on two cores (37 sets).
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

#: 37 sets on 2026-12-07 (fifth session): mean 93.2%, rights requests found 97.0%, 1 lost (w52,
#: young people in street language), 16 automated mails in an acknowledged category. Worst of the
#: writer sets w57 82.0% (the website's forms: newsletter opt-out notices read as the person's words
#: and called erasure, the company's own system mail called "other" — 8 of the 16), then w52 83.5%.
#: w56 (mail wrapped by forms and platforms) rose from 36.0% to 68.0% when a form's mail became the
#: person's (``domain/forms.py``); its rest is platform notifications (LinkedIn, voicemail, chat)
#: that carry a person's words without their address, so it keeps its own floor. A request made
#: inside a ticket's thread counts as found when the reply carries it as its secondary
#: (``domain/scoring.py``, the reference corpus's d031). Floors moved down only when harder writer
#: sets joined; the targets (96% / 92% / 99% / none lost / none acknowledged) are not met.
#: 39 sets (sixth session, w59 mail programs' shapes and w60 newcomers joined): mean 93.1%, worst
#: w56 69.5%, then w52 83.0%, w57 84.5%, w59 85.0%; found 97.4%, 2 lost (w52, w57), 21 automated
#: acknowledged (w59 4, w60 2: notices and calendar replies with a personal note read as "other").
#: 41 sets (w61 mixed intents and changed minds, w62 shift workers on phones): mean 92.6%, worst
#: w56 70.0%, then w61 80.0% (requests and new questions inside replies: the worst floor moved to
#: 0.79 for it), w52 83.5%; found 96.7%, 1 lost, 21 automated acknowledged.
#: 43 sets (w63 former clients, w64 escalating complaints; Outlook recalls now machine mail):
#: mean 92.3%, worst w56 71.0%, then w63 80.0%, w61 81.0%; found 96.6%, 19 automated
#: acknowledged; 5 lost at the old faint-request share, 2 at 0.035 (``FAINT_REQUEST``).
MEAN_FLOOR = 0.92
WORST_FLOOR = 0.79
RECALL_FLOOR = 0.96
REQUESTS_LOST_CEILING = 2
AUTO_ACKED_CEILING = 19
#: Sets whose misses are a known missing capability, each with its own floor.
KNOWN_GAPS = {"w56": 0.66}


@pytest.mark.slow
def test_leave_one_writer_set_out_meets_its_floors() -> None:
    roots = [REPO / "corpus"] + ([SHARED_LABELLED] if SHARED_LABELLED.is_dir() else [])
    sets = load_sets(roots, Organisation())
    assert len(sets) >= 43, [s.name for s in sets]
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
