"""rules/*.toml → a validated :class:`~mailbot.domain.rules.RuleSet`.

The company edits these files without a developer, so a mistake must be refused at start-up with
the file, the line and the reason — never half-loaded, never discovered when a complaint is
misfiled. Files are read in name order (``00-automated.toml`` before ``20-complaint.toml``), and
rule order within the set is file order: it breaks ties between equal scores.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from mailbot.domain.model import DUTCH_LABELS, Category
from mailbot.domain.rules import FIELDS, Rule, RuleDefinitionError, RuleSet, Thresholds

SETTINGS_FILE = "settings.toml"
_RULE_KEYS = frozenset(
    {
        "id",
        "category",
        "weight",
        "in",
        "unless_in",
        "any",
        "all",
        "unless",
        "regex",
        "headers",
        "languages",
        "description",
        "override",
    }
)
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_LANGS = frozenset({"nl", "en", "de", "fr"})
_DEFAULT_FIELDS = ("subject", "body")


class RulesError(Exception):
    """A rules file is broken: which file, which line (0 when unknown), and why."""

    def __init__(self, file: Path | str, line: int, reason: str) -> None:
        self.file = str(file)
        self.line = line
        self.reason = reason
        super().__init__(f"{self.file}:{line}: {reason}")


def _rule_lines(text: str) -> list[int]:
    """1-based line number of each ``[[rule]]`` header, in order."""
    return [i for i, line in enumerate(text.splitlines(), 1) if re.match(r"^\s*\[\[\s*rule\s*\]\]", line)]


def _key_line(text: str, start: int, key: str) -> int:
    """Line of ``key =`` inside the table whose header is on line ``start`` (falls back to ``start``)."""
    lines = text.splitlines()
    for i in range(start, len(lines) + 1):
        line = lines[i - 1]
        if i > start and re.match(r"^\s*\[", line):
            break
        if re.match(rf"^\s*{re.escape(key)}\s*=", line):
            return i
    return start


def _category(value: Any) -> Category:
    if not isinstance(value, str):
        raise RuleDefinitionError("category must be a string")
    name = value.strip().lower()
    if name in DUTCH_LABELS:
        return DUTCH_LABELS[name]
    try:
        return Category(name)
    except ValueError:
        names = ", ".join(c.value for c in Category)
        raise RuleDefinitionError(f"unknown category {value!r} (one of: {names})") from None


def _strings(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RuleDefinitionError(f"{key} must be a list of non-empty strings")
    return value


def _compile_rule(ruleset: RuleSet, data: dict[str, Any]) -> tuple[Rule, str | None]:
    """Returns the rule, or raises RuleDefinitionError naming the offending key (as ``key: reason``)."""
    unknown = sorted(set(data) - _RULE_KEYS)
    if unknown:
        raise RuleDefinitionError(f"{unknown[0]}: unknown key (allowed: {', '.join(sorted(_RULE_KEYS))})")
    rid = data.get("id")
    if not isinstance(rid, str) or not _ID.match(rid):
        raise RuleDefinitionError("id: required, lower-case letters, digits, '.', '_' or '-'")
    try:
        category = _category(data.get("category"))
    except RuleDefinitionError as exc:
        raise RuleDefinitionError(f"category: {exc}") from None
    if category is Category.REPLY:
        raise RuleDefinitionError("category: 'reply' is decided by threading, not by rules")
    weight = data.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight <= 100:
        raise RuleDefinitionError("weight: must be a number above 0 and at most 100")
    fields = data.get("in", list(_DEFAULT_FIELDS))
    if isinstance(fields, str):
        fields = [fields]
    if not isinstance(fields, list) or not fields or any(f not in FIELDS for f in fields):
        raise RuleDefinitionError(f"in: must list fields from {', '.join(sorted(FIELDS))}")
    unless_in = data.get("unless_in", [])
    if isinstance(unless_in, str):
        unless_in = [unless_in]
    if not isinstance(unless_in, list) or any(f not in FIELDS for f in unless_in):
        raise RuleDefinitionError(f"unless_in: must list fields from {', '.join(sorted(FIELDS))}")
    override = data.get("override", False)
    if not isinstance(override, bool):
        raise RuleDefinitionError("override: must be true or false")
    languages = _strings(data, "languages") if "languages" in data else []
    bad = [lang for lang in languages if lang not in _LANGS]
    if bad:
        raise RuleDefinitionError(f"languages: unknown language {bad[0]!r} (nl, en, de, fr)")

    def patterns(key: str) -> tuple:
        out = []
        for source in _strings(data, key):
            try:
                out.append(ruleset.compile_pattern(source))
            except RuleDefinitionError as exc:
                raise RuleDefinitionError(f"{key}: {exc}") from None
        return tuple(out)

    groups = []
    raw_all = data.get("all", [])
    if not isinstance(raw_all, list):
        raise RuleDefinitionError(
            "all: must be a list; each item a pattern or a list of alternative patterns"
        )
    for item in raw_all:
        alternatives = [item] if isinstance(item, str) else item
        if (
            not isinstance(alternatives, list)
            or not alternatives
            or not all(isinstance(a, str) and a.strip() for a in alternatives)
        ):
            raise RuleDefinitionError("all: each item must be a pattern or a list of alternative patterns")
        try:
            groups.append(tuple(ruleset.compile_pattern(a) for a in alternatives))
        except RuleDefinitionError as exc:
            raise RuleDefinitionError(f"all: {exc}") from None
    regexes = []
    for source in _strings(data, "regex"):
        try:
            regexes.append(re.compile(source, re.IGNORECASE))
        except re.error as exc:
            raise RuleDefinitionError(f"regex: {source!r} is not a valid regular expression: {exc}") from None
    headers = []
    raw_headers = data.get("headers", {})
    if not isinstance(raw_headers, dict):
        raise RuleDefinitionError("headers: must be a table of header name = regular expression")
    for name, source in raw_headers.items():
        if not isinstance(source, str):
            raise RuleDefinitionError(f"headers: value of {name!r} must be a string")
        try:
            headers.append((name.lower(), re.compile(source, re.IGNORECASE)))
        except re.error as exc:
            raise RuleDefinitionError(
                f"headers: {source!r} is not a valid regular expression: {exc}"
            ) from None
    rule = Rule(
        id=rid,
        category=category,
        weight=float(weight),
        fields=tuple(fields),
        any=patterns("any"),
        all=tuple(groups),
        unless=patterns("unless"),
        regex=tuple(regexes),
        headers=tuple(headers),
        languages=frozenset(languages),
        description=str(data.get("description", "")),
        unless_in=tuple(unless_in),
        override=override,
    )
    if not (rule.any or rule.all or rule.regex or rule.headers):
        raise RuleDefinitionError("any: a rule needs at least one of any, all, regex or headers")
    return rule, None


def _load_settings(path: Path) -> Thresholds:
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(path, _decode_line(exc, text), f"not valid TOML: {exc}") from None
    table = data.get("thresholds", {})
    allowed = set(Thresholds.__dataclass_fields__)
    values: dict[str, Any] = {}
    for key, value in table.items():
        line = _key_line(text, 1, key)
        if key not in allowed:
            raise RulesError(path, line, f"unknown setting {key!r} (allowed: {', '.join(sorted(allowed))})")
        if key == "default_language":
            if value not in _LANGS:
                raise RulesError(path, line, "default_language must be one of nl, en, de, fr")
        elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise RulesError(path, line, f"{key} must be a number ≥ 0")
        values[key] = value
    return Thresholds(**values)


def _decode_line(exc: tomllib.TOMLDecodeError, text: str) -> int:
    match = re.search(r"line (\d+)", str(exc))
    if match:
        return int(match.group(1))
    return max(1, len(text.splitlines())) if "end of document" in str(exc) else 0


def load_ruleset(directory: Path) -> RuleSet:
    """Load and validate every ``*.toml`` in ``directory``; RulesError(file, line, reason) on any problem."""
    directory = Path(directory)
    if not directory.is_dir():
        raise RulesError(directory, 0, "rules directory not found")
    files = sorted(p for p in directory.glob("*.toml") if p.name != SETTINGS_FILE)
    if not files:
        raise RulesError(directory, 0, "no rules files (*.toml) found")
    settings = directory / SETTINGS_FILE
    ruleset = RuleSet(thresholds=_load_settings(settings) if settings.is_file() else Thresholds())
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise RulesError(path, 0, f"not UTF-8 text: {exc}") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RulesError(path, _decode_line(exc, text), f"not valid TOML: {exc}") from None
        extra = sorted(set(data) - {"rule"})
        if extra:
            raise RulesError(
                path, _key_line(text, 1, extra[0]), f"unknown top-level key {extra[0]!r}: use [[rule]]"
            )
        rules = data.get("rule", [])
        if not isinstance(rules, list):
            raise RulesError(path, 1, "'rule' must be an array of tables: write [[rule]]")
        starts = _rule_lines(text)
        for n, item in enumerate(rules):
            start = starts[n] if n < len(starts) else 1
            try:
                rule, _ = _compile_rule(ruleset, item)
                ruleset.add(rule, f"{path.name}:{start}")
            except RuleDefinitionError as exc:
                reason = str(exc)
                key = reason.split(":", 1)[0] if ":" in reason else ""
                line = _key_line(text, start, key) if key and " " not in key else start
                rid = item.get("id") if isinstance(item, dict) else None
                prefix = f"rule {rid!r}: " if isinstance(rid, str) else f"rule #{n + 1}: "
                raise RulesError(path, line, prefix + reason) from None
    return ruleset
