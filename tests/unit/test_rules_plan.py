"""The rule index (``RuleSet.plan``) visits only rules whose anchor words occur; it must find
exactly the hits that evaluating every rule in file order finds, on every corpus message."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbot.adapters.rules_loader import load_ruleset
from mailbot.domain.rules import _evaluate_planned, _prepare, evaluate_rules
from mailbot.mail.parse import UnparseableMail, parse_message

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="module")
def ruleset():
    return load_ruleset(REPO / "mailbot" / "defaults" / "rules")


def test_planned_evaluation_finds_the_same_hits_as_evaluating_every_rule(ruleset) -> None:
    checked = 0
    for path in sorted(CORPUS.rglob("*.eml")):
        try:
            parsed = parse_message(path.read_bytes())
        except UnparseableMail:
            continue
        msg = _prepare(parsed, ruleset)
        for automated in (True, False):
            rules = ruleset.automated_rules if automated else ruleset.content_rules
            every = [(h.rule.id, h.evidence) for h in evaluate_rules(msg, rules, ruleset)]
            planned = [(h.rule.id, h.evidence) for h in _evaluate_planned(msg, ruleset.plan(automated))]
            assert planned == every, path.name
        checked += 1
    assert checked > 900
