"""``mailbot model train | evaluate | show``: the text model, built from labelled mail on this machine.

Training reads the labelled sets under ``[model] corpus`` (and, with ``--include-corrections``,
the company's own mail as staff reclassified it) and writes the model file; it never downloads
anything (the data stays in the EEA, on this machine). ``evaluate`` prints the honest figure:
leave-one-writer-set-out accuracy, mean and worst set, and the recall of rights requests.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mailbot.cli.common import settings_of
from mailbot.cli.output import json_option, report, table
from mailbot.domain.model import Organisation
from mailbot.policies import organisation_of

if TYPE_CHECKING:  # the model's imports (scikit-learn, numpy) load only for the commands using them
    from mailbot.adapters.model_evaluation import Mistake
    from mailbot.adapters.text_model import Example
    from mailbot.adapters.training_corpus import LabelledSet


def _sets(corpus: tuple[Path, ...], org: Organisation) -> list[LabelledSet]:
    from mailbot.adapters.training_corpus import CorpusError, load_sets

    missing = [str(p) for p in corpus if not p.is_dir()]
    if missing:
        raise click.ClickException(f"no such corpus folder: {', '.join(missing)}")
    try:
        sets = load_sets(corpus, org)
    except CorpusError as exc:
        raise click.ClickException(str(exc)) from None
    if not sets:
        raise click.ClickException(
            f"no labelled sets (a folder with labels.csv) under {', '.join(map(str, corpus))}"
        )
    return sets


def train_model(
    corpus: tuple[Path, ...], target: Path, org: Organisation, extra: list[Example] | None = None
) -> dict[str, Any]:
    """Train on every set under ``corpus`` (plus ``extra`` examples) and write ``target``."""
    from mailbot.adapters.text_model import Example, save, train

    examples = [Example(text, category) for s in _sets(corpus, org) for text, category in s.texts()]
    examples.extend(extra or [])
    model = train(examples)
    save(model, target)
    return model.meta


def correction_examples(ctx: click.Context) -> list[Example]:
    """Staff-reclassified tickets' original mail, read the way the model reads every message."""
    from mailbot.adapters.text_model import Example
    from mailbot.cli.common import opened_app
    from mailbot.domain.forms import read_mail
    from mailbot.domain.model_text import model_text
    from mailbot.mail.parse import UnparseableMail

    org = organisation_of(settings_of(ctx))
    examples: list[Example] = []
    with opened_app(ctx) as app:
        corrections = app.tickets.corrections()
    for raw, category in corrections:
        try:
            examples.append(Example(model_text(read_mail(raw, org)), category))
        except UnparseableMail:
            continue
    return examples


@click.group()
def model() -> None:
    """The trained text model that reads the words of each message (rules read the structure)."""


_CORPUS = click.option(
    "--corpus",
    "corpus",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder of labelled sets (repeatable; default: [model] corpus).",
)


@model.command("train")
@_CORPUS
@click.option("--include-corrections", is_flag=True, help="Also learn from the tickets staff reclassified.")
@json_option()
@click.pass_context
def train_command(
    ctx: click.Context, corpus: tuple[Path, ...], include_corrections: bool, as_json: bool
) -> None:
    """Build the model file from the labelled sets (deterministic: same data, same model)."""
    settings = settings_of(ctx)
    assert settings.model is not None
    extra: list[Example] = []
    if include_corrections:
        extra = correction_examples(ctx)
        if not as_json:
            click.echo(f"corrections: {len(extra)} reclassified tickets")
    started = time.monotonic()
    org = organisation_of(settings)
    meta = train_model(corpus or settings.model.corpus, settings.model.file, org, extra)
    seconds = time.monotonic() - started
    if as_json:
        data = {
            "file": str(settings.model.file),
            "examples": meta["examples"],
            "per_category": meta["per_category"],
            "corrections": len(extra),
            "seconds": round(seconds, 1),
        }
        report(True, data, "")
        return
    per = ", ".join(f"{k} {v}" for k, v in meta["per_category"].items())
    click.echo(f"trained on {meta['examples']} messages ({per}) in {seconds:.1f} s")
    click.echo(f"written {settings.model.file}")


@model.command("evaluate")
@_CORPUS
@click.option("--min-mean", type=float, default=None, help="Exit 1 if the mean accuracy is below this.")
@click.option("--mistakes", is_flag=True, help="Also list each held-out message decided otherwise.")
@json_option()
@click.pass_context
def evaluate_command(
    ctx: click.Context, corpus: tuple[Path, ...], min_mean: float | None, mistakes: bool, as_json: bool
) -> None:
    """Leave-one-writer-set-out: per held-out set, a model trained on all the others."""
    from mailbot.adapters.model_evaluation import cross_validate, summarise
    from mailbot.adapters.rules_loader import RulesError, load_ruleset

    settings = settings_of(ctx)
    assert settings.model is not None
    org = organisation_of(settings)
    sets = _sets(corpus or settings.model.corpus, org)
    if len(sets) < 2:
        raise click.ClickException("cross-validation needs at least two labelled sets")
    try:
        ruleset = load_ruleset(settings.rules.dir)
    except RulesError as exc:
        raise click.ClickException(f"rules refused: {exc}") from None
    started = time.monotonic()
    scores = cross_validate(sets, ruleset, org)
    summary = summarise(scores)
    if as_json:
        data = {
            "sets": [
                {
                    "name": s.name,
                    "messages": s.total,
                    "accuracy": s.accuracy,
                    "requests": s.requests,
                    "requests_found": s.requests_found,
                    "auto_acked": s.auto_acked,
                }
                for s in scores
            ],
            "mean": summary.mean,
            "worst": {"name": summary.worst.name, "accuracy": summary.worst.accuracy},
            "request_recall": summary.request_recall,
            "requests_lost": summary.requests_lost,
            "auto_acked": summary.auto_acked,
        }
        if mistakes:
            data["mistakes"] = [{"set": s.name, **_mistake_row(m)} for s in scores for m in s.mistakes]
        report(True, data, "")
        if min_mean is not None and summary.mean < min_mean:
            sys.exit(1)
        return
    table(
        ("HELD-OUT SET", "MESSAGES", "ACCURACY", "REQUESTS FOUND", "AUTO ACKED"),
        [
            (s.name, s.total, f"{s.accuracy:.1%}", f"{s.requests_found}/{s.requests}", s.auto_acked)
            for s in scores
        ],
        "no sets",
    )
    if mistakes:
        click.echo("")
        table(
            ("HELD-OUT SET", "FILE", "LABEL", "DECIDED", "RULE", "TRIAGE"),
            [(s.name, *_mistake_row(m).values()) for s in scores for m in s.mistakes],
            "no mistakes",
        )
    click.echo(
        f"\nmean {summary.mean:.1%}, worst {summary.worst.name} {summary.worst.accuracy:.1%}; "
        f"rights requests found {summary.request_recall:.1%}, filed as other without triage "
        f"{summary.requests_lost}; automated mail acknowledged {summary.auto_acked} "
        f"({len(sets)} sets, {time.monotonic() - started:.0f} s)"
    )
    if min_mean is not None and summary.mean < min_mean:
        sys.exit(1)


def _mistake_row(mistake: Mistake) -> dict[str, Any]:
    return {
        "file": mistake.file,
        "label": mistake.expected.value,
        "decided": mistake.got.value,
        "rule": mistake.rule,
        "triage": "yes" if mistake.triage else "no",
    }


@model.command("show")
@json_option()
@click.pass_context
def show_command(ctx: click.Context, as_json: bool) -> None:
    """What the model file was trained on (or that there is none)."""
    from mailbot.adapters.text_model import ModelFileError, load

    settings = settings_of(ctx)
    assert settings.model is not None
    try:
        loaded = load(settings.model.file)
    except ModelFileError as exc:
        raise click.ClickException(str(exc)) from None
    meta = loaded.meta
    if as_json:
        data = {
            "file": str(settings.model.file),
            "enabled": settings.model.enabled,
            "examples": meta["examples"],
            "per_category": meta["per_category"],
            "features": len(loaded.vocabulary),
            "data_sha256": meta["data_sha256"],
        }
        report(True, data, "")
        return
    click.echo(f"file: {settings.model.file}")
    click.echo(f"enabled: {'yes' if settings.model.enabled else 'no (rules only)'}")
    click.echo(
        f"examples: {meta['examples']} ({', '.join(f'{k} {v}' for k, v in meta['per_category'].items())})"
    )
    click.echo(f"features: {len(loaded.vocabulary)}; data sha256: {meta['data_sha256'][:16]}")


commands = [model]
