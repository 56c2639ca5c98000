"""``mailbot model train | show | evaluate``, ``classify --model``, and staff corrections as
training examples that go when the customer is erased (issue 14)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from mailbot.adapters.maildir import ensure_maildir
from mailbot.adapters.maildir_sender import deliver_to_maildir
from mailbot.adapters.training_corpus import category_of
from tests.support.app import REPO, mailbot_env
from tests.support.app import run_cli as run
from tests.support.mail import make_mail

#: Two small labelled sets: enough for a model and a two-fold cross-validation in seconds.
SETS = (REPO / "corpus" / "probes" / "set5", REPO / "corpus" / "probes" / "set6")


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    values = mailbot_env(tmp_path, database_url)
    ensure_maildir(tmp_path / "storage" / "inbox")
    return values


def trainable() -> int:
    """Labelled messages that are not replies (a reply's category comes from its thread)."""
    rows = [line.split(",")[1] for s in SETS for line in (s / "labels.csv").read_text().splitlines()[1:]]
    return sum(1 for category in rows if category not in ("reply", "category"))


def corpus_args() -> list[str]:
    return [arg for s in SETS for arg in ("--corpus", str(s))]


def test_train_show_evaluate_and_classify_with_the_model(env: dict[str, str], tmp_path: Path) -> None:
    model_file = tmp_path / "storage" / "text-model.npz"
    code, out = run(env, "model", "show")
    assert code == 1 and "no text model" in out
    code, out = run(env, "model", "train", *corpus_args())
    assert code == 0, out
    assert model_file.is_file() and f"trained on {trainable()} messages" in out
    code, out = run(env, "model", "show")
    assert code == 0 and f"examples: {trainable()}" in out and "features:" in out
    code, out = run(env, "model", "evaluate", *corpus_args())
    assert code == 0, out
    assert "set5" in out and "set6" in out and "mean " in out and "worst " in out
    code, _ = run(env, "model", "evaluate", *corpus_args(), "--min-mean", "1.01")
    assert code == 1  # a floor the figures miss fails the command

    mail = tmp_path / "verzoek.eml"
    mail.write_bytes(
        make_mail(subject="mijn gegevens", body="Wilt u al mijn persoonsgegevens verwijderen? Dank u.")
    )
    rules_dir = str(REPO / "mailbot" / "defaults" / "rules")
    code, out = run(env, "classify", "--rules", rules_dir, "--model", str(model_file), "--json", str(mail))
    assert code == 0, out
    [result] = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert result["category"] == "erasure" and result["rule"] == "model"
    code, out = run(env, "classify", "--rules", rules_dir, "--rules-only", "--json", str(mail))
    assert code == 0 and json.loads(out.splitlines()[-1])["rule"] != "model"


def test_evaluate_lists_the_mistakes_behind_its_figures(env: dict[str, str]) -> None:
    code, out = run(env, "model", "evaluate", *corpus_args(), "--mistakes", "--json")
    assert code == 0, out
    data = json.loads(out)
    labels = {
        (s.name, row["file"]): row["category"]
        for s in SETS
        for row in csv.DictReader((s / "labels.csv").read_text(encoding="utf-8").splitlines())
    }
    for held_out in data["sets"]:
        wrong = [m for m in data["mistakes"] if m["set"] == held_out["name"]]
        assert len(wrong) == round(held_out["messages"] * (1 - held_out["accuracy"]))
    for mistake in data["mistakes"]:
        label = category_of(labels[mistake["set"], mistake["file"]]).value
        assert mistake["label"] == label and mistake["decided"] != label
    code, out = run(env, "model", "evaluate", *corpus_args(), "--mistakes")
    assert code == 0 and "DECIDED" in out
    assert all(m["file"] in out for m in data["mistakes"])


def test_a_damaged_model_file_is_refused_in_one_line(env: dict[str, str], tmp_path: Path) -> None:
    broken = tmp_path / "storage" / "text-model.npz"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    code, out = run(env, "model", "show")
    assert code == 1 and "not a readable text model" in out and "Traceback" not in out
    code, out = run(env, "tickets", "list")
    assert code != 0 and "text model" in out and len(out.strip().splitlines()) == 1


def test_staff_corrections_teach_the_model_and_go_with_the_customer(
    env: dict[str, str], tmp_path: Path
) -> None:
    inbox = tmp_path / "storage" / "inbox"
    deliver_to_maildir(
        inbox,
        make_mail(
            sender="greet@example.nl",
            subject="nieuwsbrief",
            body="Ik wil niet dat mijn gegevens nog voor jullie reclame worden gebruikt.",
        ),
    )
    assert run(env, "fetch", "--once")[0] == 0
    code, out = run(env, "tickets", "list", "--json")
    [ticket] = json.loads(out)
    code, out = run(env, "model", "train", *corpus_args(), "--include-corrections")
    assert code == 0 and "corrections: 0" in out
    target = "restriction" if ticket["category"] == "objection" else "objection"
    assert run(env, "tickets", "reclassify", ticket["ref"], target, "--actor", "anna")[0] == 0
    code, out = run(env, "model", "train", *corpus_args(), "--include-corrections")
    assert code == 0 and "corrections: 1" in out and f"trained on {trainable() + 1} messages" in out

    code, out = run(env, "customers", "erase", "greet@example.nl", "--yes")
    assert code == 0, out
    code, out = run(env, "model", "train", *corpus_args(), "--include-corrections")
    assert code == 0 and "corrections: 0" in out and f"trained on {trainable()} messages" in out
