"""The real-world corpus (../shared/corpus/realworld): every message is classified without an
exception, and every bounce, out-of-office and auto-reply in index.csv is AUTOMATED."""

from __future__ import annotations

from functools import cache

import pytest

from mailbot.domain.model import Category, Classification, Organisation
from mailbot.domain.rules import classify_unparseable
from mailbot.mail.parse import UnparseableMail, parse_message
from tests.support.classify import classify
from tests.unit.test_rules_support import CORPUS, corpus_rows, shipped_rules

REALWORLD = CORPUS / "realworld"
MACHINE_KINDS = {"bounce", "out-of-office", "auto-reply"}

#: Files whose index.csv kind (assigned by a heuristic script) is wrong, with the reason.
#: Rules are not bent to these. Empty today: every machine-kind file is detected on its merits.
KIND_EXCLUSIONS: dict[str, str] = {}


ROWS = corpus_rows(REALWORLD / "index.csv")


@cache
def _classify(path: str) -> Classification:
    raw = (REALWORLD / path).read_bytes()
    try:
        parsed = parse_message(raw)
    except UnparseableMail as exc:
        return classify_unparseable(str(exc))
    return classify(parsed, shipped_rules(), Organisation())


def test_corpus_is_present() -> None:
    assert len(ROWS) >= 700, f"real-world corpus not found at {REALWORLD.resolve()}"
    assert {r["kind"] for r in ROWS} >= MACHINE_KINDS


def test_every_message_is_classified_without_error() -> None:
    """All files in one test (they are many and fast): none may raise."""
    failures = []
    for row in ROWS:
        try:
            result = _classify(row["path"])
        except Exception as exc:  # the point of the test is to report any exception
            failures.append((row["path"], repr(exc)))
            continue
        assert isinstance(result.category, Category)
    assert not failures, failures[:10]


MACHINE_ROWS = [r for r in ROWS if r["kind"] in MACHINE_KINDS and r["path"] not in KIND_EXCLUSIONS]


@pytest.mark.parametrize("row", MACHINE_ROWS, ids=[r["path"] for r in MACHINE_ROWS])
def test_bounces_and_autoreplies_are_automated(row: dict[str, str]) -> None:
    """R-C1…R-C6: never acknowledge a bounce, out-of-office or auto-reply."""
    result = _classify(row["path"])
    assert result.category is Category.AUTOMATED, (result.rule, result.evidence)
