"""``mailbot classify``: stateless classification of .eml files, and an accuracy report.

No database, no config: the rules directory (default ``rules/`` in the working directory) and the
organisation defaults are all it needs, so the company can try a rules change on a folder of mail
before deploying it. Output names files and categories only, never addresses or subjects.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from mailbot.adapters.rules_loader import RulesError, load_ruleset
from mailbot.adapters.training_corpus import names_a_ticket
from mailbot.cli.common import settings_of
from mailbot.cli.output import table
from mailbot.domain.classifier import Classifier
from mailbot.domain.forms import read_mail
from mailbot.domain.model import DUTCH_LABELS, Category, Classification, Organisation
from mailbot.domain.rules import classify_unparseable
from mailbot.domain.scoring import NO_ACK, decided_as_labelled
from mailbot.mail.parse import UnparseableMail
from mailbot.policies import organisation_of
from mailbot.services.decide import classify_stateless

#: Categories that never get an acknowledgement; automated mail outside them starts a loop.


def iter_messages(paths: tuple[Path, ...]) -> Iterator[Path]:
    """Files as given, folders searched recursively for ``*.eml``, in a stable order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.eml") if p.is_file())
        else:
            yield path


def classify_file(path: Path, classifier: Classifier, org: Organisation) -> Classification:
    """What ``decide`` makes of the file without stored tickets (the production decision path).
    Never raises for bad mail: unreadable bytes become an ``unparseable`` triage result."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        from mailbot.errors import plain_reason

        return classify_unparseable(f"cannot read file: {plain_reason(exc)}")
    try:
        parsed = read_mail(raw, org)
    except UnparseableMail as exc:
        return classify_unparseable(str(exc))
    return classify_stateless(parsed, classifier, org)


def as_record(path: Path, result: Classification) -> dict[str, object]:
    return {
        "file": str(path),
        "category": result.category.value,
        "secondary": result.secondary.value if result.secondary else None,
        "language": result.language,
        "rule": result.rule,
        "confidence": result.confidence,
        "ticket_ref": result.ticket_ref,
    }


def _label(value: str) -> Category:
    name = value.strip().lower()
    if name in DUTCH_LABELS:
        return DUTCH_LABELS[name]
    return Category(name)


@dataclass(frozen=True)
class Score:
    """How a folder of labelled mail was classified: what ``--report`` prints and tests assert."""

    total: int
    wrong: tuple[tuple[str, Category, Classification], ...]  # file, expected, result
    confusion: Counter[tuple[Category, Category]]  # (expected, classified) → messages
    loops: int  # automated messages in a category that gets an acknowledgement

    @property
    def accuracy(self) -> float:
        return 1 - len(self.wrong) / self.total if self.total else 0.0


def score(rows: list[dict[str, str]], folder: Path, classifier: Classifier, org: Organisation) -> Score:
    """Classify each labelled row's file; raises ValueError for a category name it does not know."""
    confusion: Counter[tuple[Category, Category]] = Counter()
    wrong: list[tuple[str, Category, Classification]] = []
    loops = 0
    for row in rows:
        try:
            expected = _label(row["category"])
        except ValueError:
            raise ValueError(f"unknown category {row['category']!r}") from None
        result = classify_file(folder / row["file"], classifier, org)
        correct = decided_as_labelled(expected, result, in_thread=names_a_ticket(row))
        confusion[(expected, expected if correct else result.category)] += 1
        if not correct:
            wrong.append((row["file"], expected, result))
        if expected is Category.AUTOMATED and result.category not in NO_ACK:
            loops += 1
    return Score(len(rows), tuple(wrong), confusion, loops)


def _report(labels_csv: Path, folder: Path, classifier: Classifier, org: Organisation) -> int:
    with labels_csv.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "file" not in rows[0] or "category" not in rows[0]:
        raise click.ClickException(f"{labels_csv}: needs 'file' and 'category' columns")
    try:
        result = score(rows, folder, classifier, org)
    except ValueError as exc:
        raise click.ClickException(f"{labels_csv}: {exc}") from None
    right = result.total - len(result.wrong)
    click.echo(f"accuracy: {right}/{result.total} = {right / result.total:.1%}")
    click.echo(f"automated messages in an acknowledged category: {result.loops}")
    cats = list(Category)
    width = max(len(c.value) for c in cats) + 1
    click.echo("\nconfusion matrix (rows: expected, columns: classified)")
    click.echo(" " * width + " ".join(f"{c.value[:6]:>6}" for c in cats))
    for exp in cats:
        click.echo(f"{exp.value:<{width}}" + " ".join(f"{result.confusion[(exp, got)]:>6}" for got in cats))
    if result.wrong:
        click.echo("\nmisclassified:")
        for name, expected, got in result.wrong:
            click.echo(f"  {name}: expected {expected.value}, got {got.category.value} (rule {got.rule})")
    return 0 if not result.wrong else 1


@click.command("classify")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(path_type=Path),
    help="Directory of rules/*.toml (default: rules.dir of the configuration, else the installed rules).",
)
@click.option(
    "--model",
    "model_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("storage/text-model.npz"),
    show_default=True,
    help="The text model (mailbot model train); missing: the rules alone.",
)
@click.option("--rules-only", is_flag=True, help="Ignore the text model.")
@click.option(
    "--report",
    "labels_csv",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Labels CSV (file,category): print accuracy, confusion matrix and misclassified files for FOLDER.",
)
@click.pass_context
def command(
    ctx: click.Context,
    paths: tuple[Path, ...],
    as_json: bool,
    rules_dir: Path | None,
    model_file: Path,
    rules_only: bool,
    labels_csv: Path | None,
) -> None:
    """Classify .eml files or folders without a database; or score them against a labels CSV."""
    from mailbot.adapters.classifiers import classifier_for
    from mailbot.adapters.text_model import ModelFileError

    if rules_dir is None:
        rules_dir = settings_of(ctx).rules.dir
    try:
        ruleset = load_ruleset(rules_dir)
    except RulesError as exc:
        raise click.ClickException(f"rules refused: {exc}") from None
    org = organisation_of(settings_of(ctx))
    try:
        classifier = classifier_for(ruleset, org, None if rules_only else model_file)
    except ModelFileError as exc:
        raise click.ClickException(str(exc)) from None
    if labels_csv is not None:
        if len(paths) != 1 or not paths[0].is_dir():
            raise click.UsageError("--report takes exactly one FOLDER")
        sys.exit(_report(labels_csv, paths[0], classifier, org))
    rows = []
    for path in iter_messages(paths):
        result = classify_file(path, classifier, org)
        if as_json:  # streamed: one object per line, however many files
            click.echo(json.dumps(as_record(path, result), ensure_ascii=False))
            continue
        category = result.category.value + (f"/{result.secondary.value}" if result.secondary else "")
        flags = " ".join(f for f, on in (("TRIAGE", result.triage),) if on)
        confidence = f"{result.confidence:.2f}"
        rows.append((path, category, result.rule, confidence, result.language, result.ticket_ref, flags))
    if not as_json:
        header = ("FILE", "CATEGORY", "RULE", "CONFIDENCE", "LANGUAGE", "TICKET", "FLAGS")
        table(header, rows, "no .eml files found")
