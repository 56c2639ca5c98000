"""``mailbot rules check``: the company's golden cases guard every rules edit (issue 3)."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from mailbot.cli import main

RULES = Path(__file__).resolve().parents[2] / "mailbot" / "defaults" / "rules"


def check(rules_dir: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["rules", "check", "--rules", str(rules_dir)])
    return result.exit_code, result.output


def test_shipped_golden_cases_all_hold() -> None:
    code, out = check(RULES)
    assert code == 0, out
    assert "golden cases right" in out and not out.startswith("0 of")


def test_a_case_the_rules_get_wrong_fails_the_check(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    (rules / "golden" / "zz-wrong.toml").write_text(
        '[[case]]\nsubject = "Vraag"\nbody = "Hoe laat begint de training?"\nexpect = "klacht"\n',
        encoding="utf-8",
    )
    code, out = check(rules)
    assert code == 1
    assert "FAILED zz-wrong.toml case 1" in out and "expected complaint, got other" in out


def test_broken_rules_are_refused_with_file_and_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    (rules / "50-mine.toml").write_text('[[rule]]\nid = "mine"\ncategory = "verwijderen"\n', encoding="utf-8")
    code, out = check(rules)
    assert code == 2 and "50-mine.toml" in out
