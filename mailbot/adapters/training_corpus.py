"""Labelled mail on disk → sets of examples for training and cross-validation.

A *set* is a folder holding ``labels.csv`` (columns ``file`` and ``category``, Dutch or English
category names) and the ``.eml`` files it names: one writer's work. Sets are the unit of the
honest figure, leave-one-writer-set-out, so they are kept apart, never pooled before the split.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mailbot.domain.forms import read_mail
from mailbot.domain.model import DUTCH_LABELS, Category, Organisation
from mailbot.domain.model_text import model_text
from mailbot.mail.parse import ParsedMail, UnparseableMail


class CorpusError(Exception):
    """A labels file that cannot be used (message is one line naming file and row)."""


@dataclass(frozen=True)
class Labelled:
    file: str
    category: Category
    parsed: ParsedMail | None  # None: the bytes are not mail at all
    in_thread: bool = False  # the label names the ticket it belongs to (``ticket_ref``)

    @property
    def trainable(self) -> bool:
        """Replies are decided by threading, not by words: they teach the model nothing."""
        return self.parsed is not None and self.category is not Category.REPLY


@dataclass(frozen=True)
class LabelledSet:
    name: str
    folder: Path
    rows: tuple[dict[str, str], ...]
    messages: tuple[Labelled, ...]

    def texts(self) -> list[tuple[str, Category]]:
        return [(model_text(m.parsed), m.category) for m in self.messages if m.trainable and m.parsed]


def names_a_ticket(row: Mapping[str, str]) -> bool:
    """The labels row says which ticket the message belongs to (``ticket_ref``)."""
    return bool((row.get("ticket_ref") or "").strip())


def category_of(label: str) -> Category:
    """``klacht`` or ``complaint`` → Category; raises ValueError for a name mailbot does not know."""
    name = label.strip().lower()
    return DUTCH_LABELS[name] if name in DUTCH_LABELS else Category(name)


def find_sets(roots: Iterable[Path]) -> list[Path]:
    """Every folder under the roots (or a root itself) that holds a ``labels.csv``, sorted."""
    found: set[Path] = set()
    for root in roots:
        if (root / "labels.csv").is_file():
            found.add(root)
        found.update(p.parent for p in root.rglob("labels.csv"))
    return sorted(found)


def load_set(folder: Path, org: Organisation, name: str | None = None) -> LabelledSet:
    """One labelled folder, each message read as production reads it (``read_mail``: a form's
    mail as the person's), so the model learns from the words it will be shown."""
    labels = folder / "labels.csv"
    try:
        with labels.open(newline="", encoding="utf-8") as fh:
            rows = tuple(csv.DictReader(fh))
    except OSError as exc:
        raise CorpusError(f"{labels}: cannot read ({exc.strerror})") from None
    if not rows or "file" not in rows[0] or "category" not in rows[0]:
        raise CorpusError(f"{labels}: needs 'file' and 'category' columns")
    messages = []
    for number, row in enumerate(rows, start=2):
        try:
            category = category_of(row["category"])
        except ValueError:
            raise CorpusError(f"{labels}:{number}: unknown category {row['category']!r}") from None
        path = folder / row["file"]
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CorpusError(f"{labels}:{number}: cannot read {row['file']} ({exc.strerror})") from None
        try:
            parsed: ParsedMail | None = read_mail(raw, org)
        except UnparseableMail:
            parsed = None
        messages.append(Labelled(row["file"], category, parsed, names_a_ticket(row)))
    return LabelledSet(name or folder.name, folder, rows, tuple(messages))


def load_sets(roots: Iterable[Path], org: Organisation) -> list[LabelledSet]:
    """All sets under the roots; names are unique (a clash gets its parent folder's name too)."""
    folders = find_sets(roots)
    names = [f.name for f in folders]
    return [
        load_set(f, org, f"{f.parent.name}/{f.name}" if names.count(f.name) > 1 else f.name) for f in folders
    ]
