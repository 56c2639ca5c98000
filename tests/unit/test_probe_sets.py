"""Mail written without sight of the rules (tests/data/probes): the rules must generalise (issue 3).

The labelled corpus is what the rules were written against; these sets were written from a
brief by authors who saw neither the rules nor that corpus (see tests/data/probes/README.md).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from mailbot.domain.model import DUTCH_LABELS, Category, Classification, Organisation
from mailbot.domain.rules import classify
from mailbot.mail.parse import parse_message
from tests.unit.test_rules_support import corpus_rows, shipped_rules

PROBES = Path(__file__).resolve().parents[1] / "data" / "probes"
SETS = {"set1": 160, "set2": 150, "set3": 140, "set4": 140, "set5": 100, "set6": 100}
ACCURACY_FLOOR = 0.96  # the sets score 97.0-98.0% now; the labelled corpus's floor is 97%
NO_ACK = {Category.AUTOMATED, Category.REPLY}


@cache
def _result(folder: str, name: str) -> Classification:
    return classify(parse_message((PROBES / folder / name).read_bytes()), shipped_rules(), Organisation())


@pytest.mark.parametrize("folder", SETS)
def test_set_is_complete(folder: str) -> None:
    assert len(corpus_rows(PROBES / folder / "labels.csv")) == SETS[folder]


@pytest.mark.parametrize("folder", SETS)
def test_accuracy_floor_on_unseen_writers(folder: str) -> None:
    rows = corpus_rows(PROBES / folder / "labels.csv")
    wrong = [
        (r["file"], r["category"], _result(folder, r["file"]).category.value, _result(folder, r["file"]).rule)
        for r in rows
        if _result(folder, r["file"]).category is not DUTCH_LABELS[r["category"]]
    ]
    accuracy = 1 - len(wrong) / len(rows)
    assert accuracy >= ACCURACY_FLOOR, f"{folder}: accuracy {accuracy:.1%}; wrong: {wrong}"


@pytest.mark.parametrize("folder", SETS)
def test_machine_mail_is_never_acknowledged_R_C1_to_R_C6(folder: str) -> None:
    rows = corpus_rows(PROBES / folder / "labels.csv")
    machine = [r["file"] for r in rows if DUTCH_LABELS[r["category"]] is Category.AUTOMATED]
    assert len(machine) >= 18
    acknowledged = [(name, _result(folder, name).category.value) for name in machine]
    acknowledged = [(name, category) for name, category in acknowledged if Category(category) not in NO_ACK]
    assert acknowledged == []
