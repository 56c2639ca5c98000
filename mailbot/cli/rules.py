"""``mailbot rules check``: the rules load, and every golden case still gets its category.

Golden cases (``rules/golden/*.toml``) are the company's own examples; running them after an edit
shows at once whether a change broke a decision that used to be right.
"""

from __future__ import annotations

import sys
import tomllib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import click

from mailbot.cli.common import settings_of
from mailbot.cli.output import json_option, to_json
from mailbot.domain.model import DUTCH_LABELS, Category, Organisation


def case_message(case: dict[str, Any]) -> bytes:
    msg = EmailMessage()
    msg["From"] = str(case.get("from", "klant@example.nl"))
    msg["To"] = "info@ordevos.nl"
    msg["Subject"] = str(case.get("subject", ""))
    for name, value in dict(case.get("headers", {})).items():
        msg[str(name)] = str(value)
    msg.set_content(str(case.get("body", "")))
    return msg.as_bytes()


def expected_category(value: str) -> Category:
    return DUTCH_LABELS.get(value) or Category(value)


def run_cases(rules_dir: Path) -> tuple[int, list[str]]:
    """(number of cases, the failures as readable lines)."""
    from mailbot.adapters.rules_loader import load_ruleset
    from mailbot.domain.classifier import RulesClassifier
    from mailbot.domain.forms import read_mail
    from mailbot.services.decide import classify_stateless

    org = Organisation()
    classifier = RulesClassifier(load_ruleset(rules_dir), org)
    total, failures = 0, []
    for file in sorted((rules_dir / "golden").glob("*.toml")):
        for number, case in enumerate(tomllib.loads(file.read_text(encoding="utf-8")).get("case", []), 1):
            total += 1
            result = classify_stateless(read_mail(case_message(case), org), classifier, org)
            want = expected_category(str(case["expect"]))
            triage_ok = "triage" not in case or bool(case["triage"]) == result.triage
            if result.category is not want or not triage_ok:
                failures.append(
                    f"{file.name} case {number} ({case.get('subject', '')!r}): expected "
                    f"{want.value}, got {result.category.value} (rule {result.rule})"
                )
    return total, failures


@click.group()
def rules() -> None:
    """Check the classification rules the company edits."""


@rules.command("check")
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory of rules/*.toml (default: rules.dir of the configuration, else the installed rules).",
)
@json_option("{rules_dir, cases, right, failures} as JSON (refused rules: {refused}).")
@click.pass_context
def check(ctx: click.Context, rules_dir: Path | None, as_json: bool) -> None:
    """Load the rules (file, line and reason on any error) and run the golden cases."""
    from mailbot.adapters.rules_loader import RulesError

    if rules_dir is None:
        rules_dir = settings_of(ctx).rules.dir
    try:
        total, failures = run_cases(rules_dir)
    except RulesError as exc:
        if as_json:
            click.echo(to_json({"rules_dir": str(rules_dir), "refused": str(exc)}))
        else:
            click.echo(f"rules refused: {exc}")
        sys.exit(2)
    if as_json:
        data = {
            "rules_dir": str(rules_dir),
            "cases": total,
            "right": total - len(failures),
            "failures": failures,
        }
        click.echo(to_json(data))
        sys.exit(1 if failures else 0)
    for line in failures:
        click.echo(f"FAILED {line}")
    click.echo(f"{total - len(failures)} of {total} golden cases right")
    if failures:
        sys.exit(1)


commands = [rules]
