"""Mail written without sight of the rules (corpus/probes): the rules must generalise (issue 3).

The labelled corpus is what the rules were written against; these sets were written from a
brief by authors who saw neither the rules nor that corpus (see corpus/probes/README.md).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from mailbot.cli.classify import Score, score
from mailbot.domain.classifier import RulesClassifier
from mailbot.domain.model import DUTCH_LABELS, Category, Organisation
from tests.unit.test_rules_support import corpus_rows, shipped_rules

PROBES = Path(__file__).resolve().parents[2] / "corpus" / "probes"
SETS = {"set1": 160, "set2": 150, "set3": 140, "set4": 140, "set5": 100, "set6": 100}
ACCURACY_FLOOR = 0.96  # the sets score 97.0-98.0% now; the labelled corpus's floor is 97%


@cache
def _rows(folder: str) -> list[dict[str, str]]:
    return corpus_rows(PROBES / folder / "labels.csv")


@cache
def _score(folder: str) -> Score:
    """The same scoring as ``mailbot classify --report``."""
    return score(
        _rows(folder), PROBES / folder, RulesClassifier(shipped_rules(), Organisation()), Organisation()
    )


@pytest.mark.parametrize("folder", SETS)
def test_set_is_complete(folder: str) -> None:
    assert len(_rows(folder)) == SETS[folder]


@pytest.mark.parametrize("folder", SETS)
def test_accuracy_floor_on_unseen_writers(folder: str) -> None:
    result = _score(folder)
    wrong = [(name, expected.value, got.category.value, got.rule) for name, expected, got in result.wrong]
    assert result.accuracy >= ACCURACY_FLOOR, f"{folder}: accuracy {result.accuracy:.1%}; wrong: {wrong}"


@pytest.mark.parametrize("folder", SETS)
def test_machine_mail_is_never_acknowledged_R_C1_to_R_C6(folder: str) -> None:
    machine = [r for r in _rows(folder) if DUTCH_LABELS[r["category"]] is Category.AUTOMATED]
    assert len(machine) >= 18
    assert _score(folder).loops == 0
