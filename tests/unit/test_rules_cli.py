"""``mailbot classify`` works without a database or config, prints one line per file, and reports."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailbot.cli.classify import command
from tests.unit.test_rules_support import CORPUS, RULES_DIR

LABELLED = CORPUS / "labelled"


def _needs_corpus() -> None:
    if not (LABELLED / "labels.csv").is_file():
        pytest.fail(f"labelled corpus missing at {LABELLED.resolve()}")


def test_json_one_object_per_line_with_the_documented_keys() -> None:
    _needs_corpus()
    result = CliRunner().invoke(
        command, ["--json", "--rules", str(RULES_DIR), str(LABELLED / "d094.eml"), str(LABELLED / "d001.eml")]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [set(r) for r in rows] == [
        {"file", "category", "secondary", "language", "rule", "confidence", "ticket_ref"}
    ] * 2
    assert (rows[0]["category"], rows[0]["secondary"], rows[0]["ticket_ref"]) == (
        "automated",
        "reply",
        "ORD-2026-00045",
    )
    assert rows[1]["category"] == "reply"


def test_folder_plain_output_and_unparseable_file(tmp_path: Path) -> None:
    (tmp_path / "a.eml").write_bytes(b"From: a@example.org\r\nSubject: Klacht\r\n\r\nIk ben boos.\r\n")
    (tmp_path / "empty.eml").write_bytes(b"")
    (tmp_path / "ignored.txt").write_bytes(b"not mail")
    result = CliRunner().invoke(command, ["--rules", str(RULES_DIR), str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 3
    assert lines[0].split() == ["FILE", "CATEGORY", "RULE", "CONFIDENCE", "LANGUAGE", "TICKET", "FLAGS"]
    assert lines[1].split()[1:3] == ["complaint", "complaint.subject-keyword"]
    assert lines[2].split()[1:3] == ["other", "unparseable"]
    assert lines[2].endswith("TRIAGE") and lines[1].index("complaint") == lines[0].index("CATEGORY")


def test_default_rules_are_the_installed_ones_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17: no rules/ in the working directory is fine; a configured rules.dir still wins."""
    (tmp_path / "m.eml").write_bytes(b"From: a@example.org\r\nSubject: klacht\r\n\r\nhoi\r\n")
    monkeypatch.chdir(tmp_path)
    for name in [k for k in os.environ if k.startswith("MAILBOT_")]:
        monkeypatch.delenv(name)
    result = CliRunner().invoke(command, ["m.eml", "--rules-only"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].split()[1] == "complaint"
    monkeypatch.setenv("MAILBOT_RULES__DIR", str(tmp_path / "own-rules"))
    refused = CliRunner().invoke(command, ["m.eml", "--rules-only"])
    assert refused.exit_code != 0 and "own-rules" in refused.output and "not found" in refused.output


def test_broken_rules_are_refused_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "10-x.toml").write_text('[[rule]]\nid = "x"\ncategory = "nonsense"\nany = ["a"]\n')
    (tmp_path / "m.eml").write_bytes(b"From: a@example.org\r\nSubject: hoi\r\n\r\nhoi\r\n")
    result = CliRunner().invoke(command, ["--rules", str(tmp_path), str(tmp_path / "m.eml")])
    assert result.exit_code == 1
    assert "10-x.toml:3:" in result.output


def test_report_on_the_labelled_corpus() -> None:
    _needs_corpus()
    result = CliRunner().invoke(
        command, ["--rules", str(RULES_DIR), "--report", str(LABELLED / "labels.csv"), str(LABELLED)]
    )
    lines = result.output.splitlines()
    accuracy = next(line for line in lines if line.startswith("accuracy:"))
    right, total = (int(x) for x in accuracy.split()[1].split("/"))
    assert total == 150
    assert right / total >= 0.97
    assert "automated messages in an acknowledged category: 0" in lines
    assert any(line.startswith("confusion matrix") for line in lines)
    assert result.exit_code == (0 if right == total else 1)


def test_report_lists_misclassified_files_with_their_rule(tmp_path: Path) -> None:
    (tmp_path / "m.eml").write_bytes(b"From: a@example.org\r\nSubject: Klacht\r\n\r\nIk ben boos.\r\n")
    (tmp_path / "labels.csv").write_text("file,category\nm.eml,overig\n")
    result = CliRunner().invoke(
        command, ["--rules", str(RULES_DIR), "--report", str(tmp_path / "labels.csv"), str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "m.eml: expected other, got complaint (rule complaint.subject-keyword)" in result.output
