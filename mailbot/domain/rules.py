"""The rules engine: ordered, named rules (data from ``rules/*.toml``) → a Classification that says why.

Size (over 400 lines): compiling the rules, planning which can match, and evaluating them share
private compiled structures; split, those would become a public API nobody else should use.

How a message is read:

1. Machine mail first (R-C1…R-C6 header signals from :mod:`mailbot.domain.autoreply`, plus the
   company's ``automated`` rules on subjects, senders and wording). Answering a robot starts a
   loop, so this stage wins over everything, even a ticket reference.
2. Threading (stateless :func:`classify` only): a ticket reference in the subject or a
   Message-ID of ours in In-Reply-To/References makes a human message a ``reply``.
3. Content: every content rule that matches adds its weight to its category; the highest total
   wins, the runner-up may become the secondary intent. Rules read what the person wrote now
   (:mod:`mailbot.mail.text` strips quotes, signatures and disclaimers), so a footer saying
   "verwijder dit bericht" does not make an erasure request.

Patterns are word-based, not substring-based, so they are fast and predictable:

* ``klacht`` matches that word; ``klacht*`` any word starting with it (klachten, klachtmelding);
  ``*verzoek`` any word ending with it (inzageverzoek); ``*klacht*`` any word containing it.
* ``~klacht`` matches by Snowball stem in nl/en/de/fr (klachten, complaints, Beschwerden…).
* Words separated by spaces must follow each other; ``..`` allows up to five words in between
  (``verwijder* .. gegevens`` matches "verwijder al mijn gegevens").
* Accents and case are ignored (``reclamation`` matches "réclamation").

Each message's words are analysed once against all terms of the rule set (cached per word), so the
cost grows with the message, not with the number of rules.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain

import snowballstemmer

from mailbot.domain.autoreply import detect_automated
from mailbot.domain.model import GDPR_CATEGORIES, Category, Classification, Organisation
from mailbot.domain.threading import find_ticket_refs, is_own_message_id
from mailbot.mail.language import detect_language
from mailbot.mail.parse import ParsedMail
from mailbot.mail.text import READ_LIMIT, MessageText, split_text
from mailbot.mail.words import word_splitter

FIELDS: frozenset[str] = frozenset({"subject", "body", "own", "forwarded", "quoted", "from", "attachments"})
STEM_LANGUAGES: dict[str, str] = {"nl": "dutch", "en": "english", "de": "german", "fr": "french"}
GAP = 5  # words a ``..`` may skip

_WORD = re.compile(r"\w+")
_REGEX_CHARS = re.compile(r"[|()\[\]{}?+\\^$]")


# In ASCII text \w is exactly [A-Za-z0-9_]; str.isalnum() is the regex engine's own test for \w
_ASCII_WORD_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
words_of = word_splitter(_WORD, _ASCII_WORD_CHARS, str.isalnum)


class RuleDefinitionError(ValueError):
    """A rule cannot be compiled (bad pattern, unknown field); the loader adds file and line."""


def fold(word: str) -> str:
    """Lower-case and strip accents, so "Réclamation" and "reclamation" are the same word."""
    word = word.lower()
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass(frozen=True)
class Term:
    """One word test: exact, prefix (``abc*``), suffix (``*abc``), infix (``*abc*``) or stem (``~abc``)."""

    kind: str
    text: str

    @classmethod
    def parse(cls, token: str) -> Term:
        if token.startswith("~"):
            word = fold(token[1:])
            if not word or not _WORD.fullmatch(word):
                raise RuleDefinitionError(f"bad stem term {token!r}")
            return cls("stem", word)
        starts, ends = token.startswith("*"), token.endswith("*")
        word = fold(token.strip("*"))
        if not word or not _WORD.fullmatch(word):
            raise RuleDefinitionError(
                f"bad word {token!r}: use letters/digits with an optional leading or trailing *"
            )
        if starts and ends:
            return cls("infix", word)
        if ends:
            return cls("prefix", word)
        if starts:
            return cls("suffix", word)
        return cls("exact", word)


@dataclass(frozen=True)
class Pattern:
    """A sequence of terms; ``gaps[i]`` is how many words may separate term i-1 and term i."""

    source: str
    terms: tuple[int, ...]
    gaps: tuple[int, ...]
    anchor: int = -1  # the most specific term: if absent from a text, the pattern cannot match it


@dataclass(frozen=True)
class Rule:
    """One named rule: where to look, what to look for, what it means, and how much it counts."""

    id: str
    category: Category
    weight: float
    fields: tuple[str, ...]
    any: tuple[Pattern, ...] = ()
    all: tuple[tuple[Pattern, ...], ...] = ()  # each group must match (any pattern of the group)
    unless: tuple[Pattern, ...] = ()
    regex: tuple[re.Pattern[str], ...] = ()
    headers: tuple[tuple[str, re.Pattern[str]], ...] = ()
    languages: frozenset[str] = frozenset()
    description: str = ""
    unless_in: tuple[str, ...] = ()  # fields the veto reads; empty = the rule's own fields
    override: bool = False  # a company decision ("klacht" in the subject) no text model may overrule


@dataclass(frozen=True)
class Thresholds:
    """Score levels that turn rule totals into a decision (``rules/settings.toml``)."""

    min_score: float = 3.0  # below this, nothing was recognised: OTHER
    gdpr_min_score: float = 2.0  # R-A16: favour recall for data-subject requests
    confident_score: float = 6.0  # below this, a GDPR request or body-only complaint gets triage
    secondary_min: float = 3.0
    secondary_ratio: float = 0.3
    automated_min: float = 4.0  # total of automated rules that makes a message machine mail
    default_language: str = "nl"


_NO_TERMS: frozenset[int] = frozenset()


class TermIndex:
    """All distinct terms of a rule set, and a per-word cache of which terms each word satisfies."""

    def __init__(self) -> None:
        self.terms: list[Term] = []
        self._ids: dict[Term, int] = {}
        self._exact: dict[str, list[int]] = {}
        self._prefix: dict[str, list[int]] = {}
        self._suffix: dict[str, list[int]] = {}
        self._infix: list[tuple[str, int]] = []
        self._stem: dict[tuple[str, str], list[int]] = {}
        self._stem_heads: set[str] = set()
        self._stemmers = {lang: snowballstemmer.stemmer(name) for lang, name in STEM_LANGUAGES.items()}
        # the per-word cache: words already judged, and the term ids of those that satisfy any
        self._seen: set[str] = set()
        self._hits: dict[str, frozenset[int]] = {}
        self._anchors: dict[int, tuple[Sequence[Pattern], frozenset[int], dict[int, tuple[int, ...]]]] = {}

    def add(self, term: Term) -> int:
        found = self._ids.get(term)
        if found is not None:
            return found
        tid = len(self.terms)
        self.terms.append(term)
        self._ids[term] = tid
        if term.kind == "exact":
            self._exact.setdefault(term.text, []).append(tid)
        elif term.kind == "prefix":
            self._prefix.setdefault(term.text, []).append(tid)
        elif term.kind == "suffix":
            self._suffix.setdefault(term.text, []).append(tid)
        elif term.kind == "infix":
            self._infix.append((term.text, tid))
        else:
            for lang, stemmer in self._stemmers.items():
                stem = stemmer.stemWord(term.text)
                self._stem.setdefault((lang, stem), []).append(tid)
                self._stem_heads.add(stem[:3])
        self._forget()
        return tid

    def match_word(self, word: str) -> frozenset[int]:
        """Term ids a (raw) word satisfies; cached, because mail vocabulary repeats."""
        if word in self._seen:
            return self._hits.get(word, _NO_TERMS)
        w = fold(word)
        ids: list[int] = list(self._exact.get(w, ()))
        if len(w) > 40 or not w.isalpha():
            # numbers, codes and base64 debris: exact terms only (no vocabulary word looks like them)
            result = frozenset(ids)
            self._remember(word, result)
            return result
        if self._prefix:
            for end in range(1, len(w) + 1):
                ids.extend(self._prefix.get(w[:end], ()))
        if self._suffix:
            for start in range(len(w)):
                ids.extend(self._suffix.get(w[start:], ()))
        for text, tid in self._infix:
            if text in w:
                ids.append(tid)
        if self._stem and w[:3] in self._stem_heads and not w.isdigit():
            for lang, stemmer in self._stemmers.items():
                ids.extend(self._stem.get((lang, stemmer.stemWord(w)), ()))
        result = frozenset(ids)
        self._remember(word, result)
        return result

    def hits(self, words: set[str]) -> dict[str, frozenset[int]]:
        """The words that satisfy any term, with their term ids.

        Set operations rather than a lookup per word: a message has hundreds of distinct words,
        few of them new and fewer still satisfying a term.
        """
        for word in words - self._seen:
            self.match_word(word)
        hits = self._hits
        return {word: hits[word] for word in hits.keys() & words}

    def anchors_of(self, patterns: Sequence[Pattern]) -> tuple[frozenset[int], dict[int, tuple[int, ...]]]:
        """The anchors of a pattern list, and for each anchor the list positions of its patterns.

        Vocabulary rules list a hundred patterns or more and a text holds the anchors of a few:
        looking those few up beats testing every pattern. Cached per list, by identity (the entry
        keeps the list alive, so its id cannot be reused).
        """
        entry = self._anchors.get(id(patterns))
        if entry is None or entry[0] is not patterns:
            by_anchor: dict[int, list[int]] = {}
            for position, pattern in enumerate(patterns):
                by_anchor.setdefault(pattern.anchor, []).append(position)
            entry = (patterns, frozenset(by_anchor), {a: tuple(ps) for a, ps in by_anchor.items()})
            self._anchors[id(patterns)] = entry
        return entry[1], entry[2]

    def _remember(self, word: str, result: frozenset[int]) -> None:
        if len(self._seen) > 200_000:  # bound memory on an endless stream of new words
            self._forget()
        self._seen.add(word)
        if result:
            self._hits[word] = result

    def _forget(self) -> None:
        self._seen.clear()
        self._hits.clear()


@dataclass
class RuleSet:
    """Compiled rules in file order; content rules and automated rules are scored separately."""

    rules: list[Rule] = field(default_factory=list)
    thresholds: Thresholds = field(default_factory=Thresholds)
    index: TermIndex = field(default_factory=TermIndex)
    sources: dict[str, str] = field(default_factory=dict)  # rule id → "file:line", for reports
    # rule id → one anchor term per ``any`` pattern: a rule none of whose anchors occur in the
    # message cannot fire, which lets most rules be skipped with one set operation
    first_terms: dict[str, frozenset[int]] = field(default_factory=dict)
    _order: dict[str, int] = field(default_factory=dict)
    _plans: dict[bool, tuple[tuple[Rule, ...], _Plan]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def compile_pattern(self, source: str) -> Pattern:
        """``"verwijder* .. gegevens"`` → term ids and gaps (raises RuleDefinitionError)."""
        terms: list[int] = []
        gaps: list[int] = []
        gap = 0
        for token in source.split():
            if token == "..":
                if not terms:
                    raise RuleDefinitionError(f"pattern {source!r} cannot start with '..'")
                gap = GAP
                continue
            stem = token.startswith("~")
            core = token[1:] if stem else token
            lead, trail = core.startswith("*"), core.endswith("*")
            core = core.strip("*")
            if "*" in core or "~" in core:
                raise RuleDefinitionError(f"'*' and '~' only at the start or end of a word in {source!r}")
            if _REGEX_CHARS.search(core):
                raise RuleDefinitionError(
                    f"{token!r} in {source!r} looks like a regular expression: use regex = [...] for those,"
                    " or a list of alternatives"
                )
            pieces = _WORD.findall(core)
            if not pieces:
                raise RuleDefinitionError(f"no word in {token!r} of pattern {source!r}")
            # "e-mail", "art.15": consecutive words, as the tokenizer will see them
            for i, piece in enumerate(pieces):
                text = piece
                if i == 0 and lead:
                    text = "*" + text
                if i == len(pieces) - 1 and trail:
                    text = text + "*"
                if stem and len(pieces) == 1:
                    text = "~" + text
                terms.append(self.index.add(Term.parse(text)))
                gaps.append(gap)
                gap = 0
        if not terms:
            raise RuleDefinitionError(f"empty pattern {source!r}")
        if gap:
            raise RuleDefinitionError(f"pattern {source!r} cannot end with '..'")
        terms_ = self.index.terms
        anchor = max(terms, key=lambda tid: (terms_[tid].kind != "stem", len(terms_[tid].text)))
        return Pattern(source, tuple(terms), tuple(gaps), anchor)

    def add(self, rule: Rule, source: str = "") -> None:
        if any(r.id == rule.id for r in self.rules):
            raise RuleDefinitionError(f"id: duplicate rule id {rule.id!r}")
        self.rules.append(rule)
        self.first_terms[rule.id] = frozenset(p.anchor for p in rule.any)
        self._order[rule.id] = len(self._order)
        if source:
            self.sources[rule.id] = source

    def plan(self, automated: bool) -> _Plan:
        """The evaluation plan of the automated (True) or content (False) rules, built once.

        Rebuilt whenever ``rules`` no longer holds the same rule objects in the same order (the
        check is one tuple comparison by identity), so editing ``rules`` directly stays correct.
        """
        current = tuple(self.rules)
        cached = self._plans.get(automated)
        if cached is not None and cached[0] == current:
            return cached[1]
        rules = self.automated_rules if automated else self.content_rules
        plan = _Plan.build(rules, self.first_terms)
        self._plans[automated] = (current, plan)
        return plan

    @property
    def automated_rules(self) -> list[Rule]:
        return [r for r in self.rules if r.category is Category.AUTOMATED]

    @property
    def content_rules(self) -> list[Rule]:
        return [r for r in self.rules if r.category is not Category.AUTOMATED]

    def order(self, rule: Rule) -> int:
        """Position in file order (ties between equal scores go to the earlier rule)."""
        return self._order[rule.id]


@dataclass(frozen=True)
class _Plan:
    """Rules in file order, indexed by anchor term so that rules which cannot fire are never visited.

    A rule with ``any`` patterns and no regex or header trigger cannot fire unless one of its
    anchors occurs in its fields (the first check of :func:`_evaluate`). Most rules fail that
    check on most mail; instead of asking each rule in turn, the anchors present in each field
    combination are intersected once with the anchors of all rules reading those fields. Rules
    that survive are evaluated exactly as before, in file order, so the hits are the same.
    """

    rules: tuple[Rule, ...]
    first_terms: tuple[frozenset[int], ...]
    always: tuple[int, ...]  # rules with no anchor gate (regex, headers, or ``all`` only)
    # per field combination: all anchors of gated rules reading it, and anchor → those rules
    groups: tuple[tuple[tuple[str, ...], frozenset[int], dict[int, tuple[int, ...]]], ...]
    # per rule: the anchors of each of its ``all`` groups; a group none of whose anchors occurs
    # in the rule's fields cannot match, so the rule cannot fire (checked before its patterns)
    required: tuple[tuple[frozenset[int], ...], ...]

    @classmethod
    def build(cls, rules: Sequence[Rule], first_terms: dict[str, frozenset[int]]) -> _Plan:
        terms = tuple(first_terms[r.id] for r in rules)
        always: list[int] = []
        by_fields: dict[tuple[str, ...], dict[int, list[int]]] = {}
        for i, rule in enumerate(rules):
            if rule.any and not rule.regex and not rule.headers:
                group = by_fields.setdefault(rule.fields, {})
                for tid in terms[i]:
                    group.setdefault(tid, []).append(i)
            else:
                always.append(i)
        groups = tuple(
            (names, frozenset(group), {tid: tuple(ids) for tid, ids in group.items()})
            for names, group in by_fields.items()
        )
        required = tuple(tuple(frozenset(p.anchor for p in group) for group in rule.all) for rule in rules)
        return cls(tuple(rules), terms, tuple(always), groups, required)

    def candidates(self, msg: _Message) -> list[int]:
        """Positions (file order) of the rules that can fire on this message."""
        found = set(self.always)
        for names, anchors, rules_of in self.groups:
            common = anchors & msg.present(names)
            for tid in common:
                found.update(rules_of[tid])
        return sorted(found)


class _Field:
    """One text field tokenised: the words, and for each term id the positions where it occurs."""

    __slots__ = ("_hits", "_positions", "present", "text", "words")

    def __init__(self, text: str, index: TermIndex) -> None:
        self.text = text
        self.words = words_of(text)
        hits = index.hits(set(self.words))
        present: set[int] = set().union(*hits.values())
        self._hits = hits
        # positions are only needed for the few patterns whose anchor occurs: built on first use
        self._positions: dict[int, list[int]] | None = None
        self.present = present

    @property
    def positions(self) -> dict[int, list[int]]:
        """For each term id, the word positions where it occurs."""
        positions = self._positions
        if positions is None:
            positions = {}
            hits = self._hits
            if hits:
                for pos, word in enumerate(self.words):
                    ids = hits.get(word)
                    if ids:
                        for tid in ids:
                            positions.setdefault(tid, []).append(pos)
            self._positions = positions
        return positions

    def find(self, pattern: Pattern) -> str | None:
        """The matched words (evidence) of the first occurrence of the pattern, or None."""
        positions = self.positions
        first = positions.get(pattern.terms[0])
        if not first:
            return None
        if len(pattern.terms) == 1:
            return self.words[first[0]]
        rest = []
        for tid in pattern.terms[1:]:
            found = positions.get(tid)
            if not found:
                return None
            rest.append(found)
        for start in first:
            end = self._follow(start, pattern, rest)
            if end is not None:
                return " ".join(self.words[start : end + 1])
        return None

    @staticmethod
    def _follow(start: int, pattern: Pattern, rest: list[list[int]]) -> int | None:
        pos = start
        for gap, found in zip(pattern.gaps[1:], rest, strict=True):
            nxt = next((p for p in found if pos < p <= pos + 1 + gap), None)
            if nxt is None:
                return None
            pos = nxt
        return pos


@dataclass
class _Message:
    """What the rules read of one message, tokenised lazily per field."""

    parsed: ParsedMail
    index: TermIndex
    subject: str
    own: str
    forwarded: str
    quoted: str
    language: str
    _fields: dict[str, _Field] = field(default_factory=dict)
    _present: dict[tuple[str, ...], frozenset[int]] = field(default_factory=dict)

    def present(self, names: tuple[str, ...]) -> frozenset[int]:
        """Term ids occurring in any of these fields (cached per field combination)."""
        found = self._present.get(names)
        if found is None:
            found = frozenset().union(*(self.field(n).present for n in names))
            self._present[names] = found
        return found

    def field(self, name: str) -> _Field:
        cached = self._fields.get(name)
        if cached is None:
            text = self._text(name)
            # "body" and "own" are the same text when nothing was forwarded: tokenise once
            cached = next((f for f in self._fields.values() if f.text == text), None) or _Field(
                text, self.index
            )
            self._fields[name] = cached
        return cached

    def _text(self, name: str) -> str:
        if name == "subject":
            return self.subject
        if name == "body":
            return f"{self.own}\n{self.forwarded}" if self.forwarded else self.own
        if name == "own":
            return self.own
        if name == "forwarded":
            return self.forwarded
        if name == "quoted":
            return self.quoted
        if name == "from":
            return f"{self.parsed.from_name} {self.parsed.from_address or ''}"
        if name == "attachments":
            return " ".join(a.filename for a in self.parsed.attachments)
        return ""


def _prepare(parsed: ParsedMail, ruleset: RuleSet) -> _Message:
    parts = split_text(parsed.text[:READ_LIMIT], parsed.subject)
    language = detect_language(
        f"{parsed.subject}\n{parts.own or parts.forwarded}", ruleset.thresholds.default_language
    )
    return _Message(parsed, ruleset.index, parsed.subject, parts.own, parts.forwarded, parts.quoted, language)


def _first_match(
    msg: _Message, rule: Rule, patterns: Sequence[Pattern], fields: Sequence[str] = ()
) -> str | None:
    """The evidence of the first pattern (in list order) found, field by field."""
    if len(patterns) > _SHORT_LIST:
        return _first_match_indexed(msg, rule, patterns, fields)
    for name in fields or rule.fields:
        fld = msg.field(name)
        present = fld.present
        for pattern in patterns:
            if pattern.anchor not in present:
                continue
            hit = fld.find(pattern)
            if hit is not None:
                return hit
    return None


_SHORT_LIST = 16  # shorter pattern lists are tested one by one: cheaper than the set operations


def _first_match_indexed(
    msg: _Message, rule: Rule, patterns: Sequence[Pattern], fields: Sequence[str] = ()
) -> str | None:
    """:func:`_first_match` for long lists: only the patterns whose anchor occurs, in list order."""
    anchors, positions_of = msg.index.anchors_of(patterns)
    for name in fields or rule.fields:
        fld = msg.field(name)
        common = anchors.intersection(fld.present)
        if not common:
            continue
        if len(common) == 1:
            order: Iterable[int] = positions_of[next(iter(common))]
        else:
            order = sorted(chain.from_iterable(map(positions_of.__getitem__, common)))
        for position in order:
            hit = fld.find(patterns[position])
            if hit is not None:
                return hit
    return None


def _evaluate(msg: _Message, rule: Rule, first_terms: frozenset[int]) -> str | None:
    """The evidence if the rule fires on this message, else None."""
    if rule.languages and msg.language not in rule.languages:
        return None
    if rule.any and not rule.regex and not rule.headers and first_terms.isdisjoint(msg.present(rule.fields)):
        return None
    evidence: str | None = None
    if rule.any:
        evidence = _first_match(msg, rule, rule.any)
    if evidence is None and rule.regex:
        for name in rule.fields:
            text = msg.field(name).text
            for rx in rule.regex:
                m = rx.search(text)
                if m:
                    evidence = m.group(0)[:80]
                    break
            if evidence is not None:
                break
    if evidence is None and rule.headers:
        for hname, rx in rule.headers:
            for value in msg.parsed.headers.get(hname, ()):
                m = rx.search(value)
                if m:
                    evidence = f"{hname}: {m.group(0)[:60]}"
                    break
            if evidence is not None:
                break
    has_trigger = bool(rule.any or rule.regex or rule.headers)
    if has_trigger and evidence is None:
        return None
    extra: list[str] = []
    for group in rule.all:
        hit = _first_match(msg, rule, group)
        if hit is None:
            return None
        extra.append(hit)
    if rule.unless and _first_match(msg, rule, rule.unless, rule.unless_in) is not None:
        return None
    if evidence is None:
        evidence = " + ".join(extra)
    elif extra:
        evidence = " + ".join([evidence, *extra])
    return evidence


@dataclass(frozen=True)
class RuleHit:
    rule: Rule
    evidence: str


def evaluate_rules(msg: _Message, rules: Iterable[Rule], ruleset: RuleSet) -> list[RuleHit]:
    hits = []
    for rule in rules:
        evidence = _evaluate(msg, rule, ruleset.first_terms[rule.id])
        if evidence is not None:
            hits.append(RuleHit(rule, evidence))
    return hits


def _evaluate_planned(msg: _Message, plan: _Plan) -> list[RuleHit]:
    """Same hits as :func:`evaluate_rules` over ``plan.rules``, visiting only rules that can fire."""
    hits = []
    rules = plan.rules
    first_terms = plan.first_terms
    required = plan.required
    for i in plan.candidates(msg):
        rule = rules[i]
        if required[i]:
            present = msg.present(rule.fields)
            if any(group.isdisjoint(present) for group in required[i]):
                continue
        evidence = _evaluate(msg, rule, first_terms[i])
        if evidence is not None:
            hits.append(RuleHit(rule, evidence))
    return hits


def _automated_by_rules(msg: _Message, ruleset: RuleSet) -> list[RuleHit]:
    hits = _evaluate_planned(msg, ruleset.plan(True))
    total = sum(h.rule.weight for h in hits)
    return hits if total >= ruleset.thresholds.automated_min else []


def _decide_content(msg: _Message, ruleset: RuleSet) -> Classification:
    t = ruleset.thresholds
    hits = _evaluate_planned(msg, ruleset.plan(False))
    scores: dict[Category, float] = {}
    by_category: dict[Category, list[RuleHit]] = {}
    for hit in hits:
        scores[hit.rule.category] = scores.get(hit.rule.category, 0.0) + hit.rule.weight
        by_category.setdefault(hit.rule.category, []).append(hit)
    ranked = sorted(
        (c for c in scores if scores[c] > 0), key=lambda c: (-scores[c], _order(ruleset, by_category[c]))
    )
    if not ranked:
        return Classification(Category.OTHER, "default.other", 0.5, language=msg.language)
    best = ranked[0]
    top = scores[best]
    floor = t.gdpr_min_score if best in GDPR_CATEGORIES else t.min_score
    if top < floor or best is Category.REPLY:
        return Classification(
            Category.OTHER,
            "default.other",
            0.4,
            evidence=tuple(h.evidence for h in hits[:5]),
            language=msg.language,
            triage=best in GDPR_CATEGORIES,  # R-A16: a faint request signal still gets a human look
            secondary=best if best in GDPR_CATEGORIES else None,
        )
    runner = next((c for c in ranked[1:] if c is not Category.OTHER), None)
    second_score = scores[runner] if runner is not None else 0.0
    secondary = None
    if (
        runner is not None
        and best is not Category.OTHER
        and second_score >= t.secondary_min
        and second_score >= t.secondary_ratio * top
    ):
        secondary = runner
    competitor = max((scores[c] for c in ranked[1:]), default=0.0)
    confidence = round(min(1.0, top / (t.confident_score * 1.5)) * (top / (top + competitor)), 3)
    best_hits = by_category[best]
    from_subject = any("subject" in h.rule.fields and len(h.rule.fields) == 1 for h in best_hits)
    triage = False
    if best in GDPR_CATEGORIES and top < t.confident_score:
        triage = True  # R-A16: ambiguous request → its category and a human check, deadline running
    if best is Category.COMPLAINT and not from_subject:
        # R-B1: the promise is made for "klacht" in the subject; a complaint read from the body is
        # still a complaint (48-hour clock, decision in domain-rules), but a human confirms it
        triage = True
        confidence = min(confidence, 0.6)
    if best in GDPR_CATEGORIES and competitor >= 0.8 * top:
        triage = True
    return Classification(
        category=best,
        rule=best_hits[0].rule.id,
        confidence=confidence,
        evidence=tuple(dict.fromkeys(h.evidence for h in best_hits))[:8],
        secondary=secondary,
        triage=triage,
        language=msg.language,
    )


def _order(ruleset: RuleSet, hits: list[RuleHit]) -> int:
    """Tie-break by file order of the first rule: earlier rules were put first on purpose."""
    return min(ruleset.order(h.rule) for h in hits)


def _automated(msg: _Message, ruleset: RuleSet, org: Organisation) -> Classification | None:
    signals = detect_automated(msg.parsed, org)
    rule_hits: list[RuleHit] = []
    if not signals.automated:
        rule_hits = _automated_by_rules(msg, ruleset)
        if not rule_hits:
            return None
    refs = find_ticket_refs(msg.subject, org.ticket_prefix)
    own_thread = any(is_own_message_id(m, org.domain) for m in msg.parsed.thread_ids)
    reasons = signals.reasons + tuple(f"{h.rule.id}: {h.evidence}" for h in rule_hits)
    return Classification(
        category=Category.AUTOMATED,
        rule=signals.reasons[0].split(" ", 1)[0] if signals.reasons else rule_hits[0].rule.id,
        confidence=1.0 if signals.automated else 0.8,
        evidence=tuple(h.evidence for h in rule_hits) or signals.reasons[:3],
        secondary=Category.REPLY if (refs or own_thread) else None,
        language=msg.language,
        ticket_ref=refs[0] if refs else None,
        automated=True,
        automated_reasons=reasons,
    )


def classify_content(parsed: ParsedMail, ruleset: RuleSet, org: Organisation) -> Classification:
    """Automated detection first; otherwise the content category (never REPLY), with the reasons.

    The pipeline calls this after it has done threading against the database itself.
    """
    msg = _prepare(parsed, ruleset)
    auto = _automated(msg, ruleset, org)
    if auto is not None:
        return auto
    return _decide_content(msg, ruleset)


@dataclass(frozen=True)
class Structure:
    """What the rules settle before a text model reads the words: machine mail (``verdict``,
    automated) and the company's overrides (``override``); the body as the rules split it (the
    model reads the same split: ``parts``); and, asked for only when the model is unsure (it
    costs a full rules pass), the request the word rules would have chosen."""

    verdict: Classification | None
    language: str
    parts: MessageText
    override: Classification | None = None
    _msg: _Message | None = None
    _ruleset: RuleSet | None = None
    #: The answer of :meth:`rules_request` once asked (a full rules pass: never twice per message).
    _asked: list[Category | None] = field(default_factory=list, compare=False, repr=False)

    def rules_request(self) -> Category | None:
        """The GDPR category the word rules choose for this message, if they choose one."""
        if self._msg is None or self._ruleset is None:
            return None
        if not self._asked:
            opinion = _decide_content(self._msg, self._ruleset)
            self._asked.append(opinion.category if opinion.category in GDPR_CATEGORIES else None)
        return self._asked[0]


def structural_verdict(parsed: ParsedMail, ruleset: RuleSet, org: Organisation) -> Structure:
    """Automated mail first (headers and structure), then the override rules (``override = true``)."""
    msg = _prepare(parsed, ruleset)
    parts = MessageText(msg.own, msg.forwarded, msg.quoted)
    auto = _automated(msg, ruleset, org)
    if auto is not None:
        return Structure(auto, msg.language, parts)
    return Structure(None, msg.language, parts, _override(msg, ruleset), msg, ruleset)


def reply_override(parsed: ParsedMail, ruleset: RuleSet) -> Structure:
    """The override rules on a reply's own words (its subject is our acknowledgement's)."""
    msg = _prepare(parsed, ruleset)
    body_only = _Message(parsed, ruleset.index, "", msg.own, msg.forwarded, msg.quoted, msg.language)
    parts = MessageText(msg.own, msg.forwarded, msg.quoted)
    return Structure(None, msg.language, parts, _override(body_only, ruleset), body_only, ruleset)


def _override(msg: _Message, ruleset: RuleSet) -> Classification | None:
    rules = [r for r in ruleset.content_rules if r.override]
    hits = evaluate_rules(msg, rules, ruleset) if rules else []
    if not hits:
        return None
    best = max(hits, key=lambda h: (h.rule.weight, -ruleset.order(h.rule)))
    return Classification(
        category=best.rule.category,
        rule=best.rule.id,
        confidence=1.0,
        evidence=(best.evidence,),
        language=msg.language,
    )


def reply_intent(parsed: ParsedMail, ruleset: RuleSet) -> Classification:
    """What a reply asks in its own words: the content decision on the body, without the subject
    ("Re: [ORD-…] Ontvangstbevestiging: Adreswijziging" is our ack's subject, not a new request)."""
    msg = _prepare(parsed, ruleset)
    body_only = _Message(parsed, ruleset.index, "", msg.own, msg.forwarded, msg.quoted, msg.language)
    return _decide_content(body_only, ruleset)


def classify_unparseable(reason: str) -> Classification:
    """Bytes that are not mail at all: a human looks (triage), nothing is sent."""
    return Classification(
        category=Category.OTHER,
        rule="unparseable",
        confidence=0.0,
        evidence=(reason[:200],),
        triage=True,
    )
