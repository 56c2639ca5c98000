"""rules/*.toml are data the company edits: broken files are refused with file, line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbot.adapters.rules_loader import RulesError, load_ruleset
from mailbot.domain.model import Category, Organisation
from mailbot.domain.rules import RuleSet
from tests.support.classify import classify
from tests.unit.test_rules_support import RULES_DIR, make_mail

GOOD = """
[[rule]]
id = "complaint.subject"
category = "klacht"
weight = 10
in = ["subject"]
any = ["klacht*"]
"""


def _write(tmp_path: Path, text: str, name: str = "10-test.toml") -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_shipped_rules_load_and_are_named() -> None:
    ruleset = load_ruleset(RULES_DIR)
    assert len(ruleset.rules) >= 20
    assert {r.category for r in ruleset.rules} >= {
        Category.AUTOMATED,
        Category.COMPLAINT,
        Category.ACCESS,
        Category.RECTIFICATION,
        Category.ERASURE,
        Category.RESTRICTION,
        Category.OBJECTION,
        Category.OTHER,
    }
    assert all(
        ruleset.sources[r.id].endswith(tuple(f":{n}" for n in range(1, 10_000))) for r in ruleset.rules
    )


def test_dutch_category_names_are_accepted(tmp_path: Path) -> None:
    ruleset = load_ruleset(_write(tmp_path, GOOD))
    assert ruleset.rules[0].category is Category.COMPLAINT


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('[[rule]]\nid = "a"\ncategory = "klacht"\nany = ["x"\n', 4, "not valid TOML"),
        (GOOD + '\n[[rule]]\nid = "b"\ncategory = "complaints"\nany = ["x"]\n', 11, "unknown category"),
        (
            GOOD + '\n[[rule]]\nid = "b"\ncategory = "klacht"\nregex = ["(unclosed"]\n',
            12,
            "not a valid regular",
        ),
        (GOOD + '\n[[rule]]\nid = "b"\ncategory = "klacht"\nany = ["kla*cht"]\n', 12, "'*'"),
        (GOOD + '\n[[rule]]\nid = "b"\ncategory = "klacht"\nany = ["a|b"]\n', 12, "regular expression"),
        (GOOD + '\n[[rule]]\nid = "complaint.subject"\ncategory = "klacht"\nany = ["x"]\n', 10, "duplicate"),
        (GOOD + '\n[[rule]]\nid = "b"\ncategory = "klacht"\nweight = 0\nany = ["x"]\n', 12, "weight"),
        (
            GOOD + '\n[[rule]]\nid = "b"\ncategory = "klacht"\nin = ["body", "footer"]\nany = ["x"]\n',
            12,
            "in:",
        ),
        (GOOD + '\n[[rule]]\nid = "b"\ncategory = "klacht"\nanyy = ["x"]\n', 12, "unknown key"),
        (GOOD + '\n[[rule]]\nid = "b"\ncategory = "reply"\nany = ["x"]\n', 11, "threading"),
        (GOOD + '\n[[rule]]\nid = "b"\ncategory = "klacht"\n', 9, "at least one"),
        (GOOD + '\n[[rule]]\nid = "B C"\ncategory = "klacht"\nany = ["x"]\n', 10, "id:"),
        ('rule = "x"\n', 1, "array of tables"),
    ],
)
def test_broken_rules_file_is_refused_with_file_line_and_reason(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(RulesError) as info:
        load_ruleset(path)
    err = info.value
    assert err.file.endswith("10-test.toml")
    assert err.line == line, str(err)
    assert reason in err.reason
    assert str(err).startswith(f"{err.file}:{line}: ")


def test_missing_directory_and_empty_directory_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="not found"):
        load_ruleset(tmp_path / "nope")
    with pytest.raises(RulesError, match="no rules files"):
        load_ruleset(tmp_path)


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, GOOD)
    _write(tmp_path, "[thresholds]\nmin_score = 3\nmin_scroe = 4\n", "settings.toml")
    with pytest.raises(RulesError) as info:
        load_ruleset(tmp_path)
    assert (info.value.line, "unknown setting" in info.value.reason) == (3, True)


def _one_rule(tmp_path: Path, **fields: str) -> RuleSet:
    body = "\n".join(f"{k} = {v}" for k, v in fields.items())
    return load_ruleset(_write(tmp_path, f'[[rule]]\nid = "t"\ncategory = "klacht"\nweight = 10\n{body}\n'))


@pytest.mark.parametrize(
    ("pattern", "text", "hit"),
    [
        ('["klacht*"]', "Mijn klachten over de coach", True),
        ('["*verzoek"]', "Dit is een inzageverzoek", True),
        ('["*gegeven*"]', "persoonsgegevensregister", True),
        ('["~complaint"]', "several complaints", True),
        ('["~klacht"]', "twee klachten", True),
        ('["verwijder* .. gegevens"]', "verwijder dan al mijn gegevens", True),
        ('["verwijder* .. gegevens"]', "gegevens verwijderen", False),
        ('["geen klacht"]', "geen  klacht", True),
        ('["reclamation"]', "Réclamation officielle", True),
        ('["e-mail adres"]', "mijn e-mail adres", True),
        ('["klacht"]', "klachtenregeling", False),
        ('["art 15"]', "op grond van art. 15 AVG", True),
    ],
)
def test_pattern_semantics(tmp_path: Path, pattern: str, text: str, hit: bool) -> None:
    """Word prefixes/suffixes, Snowball stems, ordered gaps, accents and case, as the README promises."""
    ruleset = _one_rule(tmp_path, any=pattern)
    result = classify(make_mail("", text), ruleset, Organisation())
    assert (result.category is Category.COMPLAINT) is hit


def test_all_groups_and_unless(tmp_path: Path) -> None:
    ruleset = _one_rule(tmp_path, any='["dossier"]', all='[["opvragen", "kopie"]]', unless='["niet"]')
    org = Organisation()
    assert classify(make_mail("", "kopie van mijn dossier"), ruleset, org).category is Category.COMPLAINT
    assert classify(make_mail("", "mijn dossier is af"), ruleset, org).category is Category.OTHER
    assert classify(make_mail("", "kopie dossier niet nodig"), ruleset, org).category is Category.OTHER


def test_header_condition(tmp_path: Path) -> None:
    ruleset = _one_rule(tmp_path, headers='{ "x-mailer" = "^Klachtformulier" }')
    org = Organisation()
    hit = classify(make_mail("", "tekst", headers={"X-Mailer": "Klachtformulier 2.0"}), ruleset, org)
    assert hit.category is Category.COMPLAINT
    assert hit.evidence == ("x-mailer: Klachtformulier",)
