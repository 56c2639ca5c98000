"""Fakes for service tests: an in-memory mail source and a tiny classifier.

The real classifier has its own tests; the pipeline tests only need a predictable one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from mailbot.domain.classifier import Prediction
from mailbot.domain.model import Category, Classification
from mailbot.mail.parse import ParsedMail
from mailbot.services.ports import Batch, Cursor, IncomingMessage


class MemorySource:
    """Holds messages like a mailbox folder; ``done`` removes them like a move to Processed."""

    name = "memory:INBOX"

    def __init__(self, batch_size: int = 50) -> None:
        self.batch_size = batch_size
        self.messages: list[IncomingMessage] = []
        self.done_keys: list[str] = []
        self._uid = 0
        self.validity = 1

    def add(self, raw: bytes, received_at: datetime | None = None) -> IncomingMessage:
        self._uid += 1
        message = IncomingMessage(key=f"{self.validity}:{self._uid}", raw=raw, received_at=received_at)
        self.messages.append(message)
        return message

    def batches(self, cursor: Cursor) -> Iterator[Batch]:
        pending = list(self.messages)
        for start in range(0, len(pending), self.batch_size):
            chunk = pending[start : start + self.batch_size]
            last = int(chunk[-1].key.split(":")[1])
            yield Batch(messages=chunk, cursor=Cursor(self.validity, last))

    def done(self, messages: Sequence[IncomingMessage]) -> None:
        keys = {m.key for m in messages}
        self.done_keys.extend(keys)
        self.messages = [m for m in self.messages if m.key not in keys]

    def close(self) -> None:
        return None


#: Body text that makes the fake answer as the text model does when it alone reads machine mail.
MODEL_SAYS_MACHINE = "[reads like machine mail]"


def _keywords(parsed: ParsedMail) -> Classification:
    if parsed.header("Auto-Submitted") not in (None, "no"):
        return Classification(Category.AUTOMATED, "fake-auto", 1.0, automated=True)
    if MODEL_SAYS_MACHINE in parsed.text:  # what the text model alone decides (rule "model")
        return Classification(
            Category.AUTOMATED, "model", 0.8, triage=True, automated=True, automated_reasons=("model",)
        )
    if "klacht" in parsed.subject.lower():
        return Classification(Category.COMPLAINT, "fake-klacht", 0.9, evidence=("klacht",))
    if "inzage" in parsed.text.lower():
        return Classification(Category.ACCESS, "fake-inzage", 0.9, evidence=("inzage",))
    return Classification(Category.OTHER, "fake-other", 0.5)


class _KeywordClassifier:
    """A classifier (``mailbot.domain.classifier.Classifier``) that reads three keywords: tests of
    the pipeline should not depend on the shipped rules."""

    def content(self, parsed: ParsedMail) -> Classification:
        return _keywords(parsed)

    def reply_intent(self, parsed: ParsedMail) -> Classification:
        return _keywords(parsed)


keyword_classifier = _KeywordClassifier()


class FixedReading:
    """A text model that gives ``category`` the share ``share`` for every text."""

    def __init__(self, category: Category, share: float) -> None:
        self.category, self.share = category, share

    def predict(self, text: str) -> Prediction:
        rest = (1.0 - self.share) / (len(Category) - 1)
        return Prediction({c: self.share if c is self.category else rest for c in Category})


class WordReading:
    """A text model that reads a category from the first of ``words`` in the text (share
    ``share``, or the word's own), else "other": tests choose what each mail's words say."""

    def __init__(self, words: dict[str, Category | tuple[Category, float]], share: float = 0.95) -> None:
        self.words, self.share = words, share

    def predict(self, text: str) -> Prediction:
        lowered = text.lower()
        found = next((c for w, c in self.words.items() if w in lowered), Category.OTHER)
        category, share = found if isinstance(found, tuple) else (found, self.share)
        return FixedReading(category, share).predict(text)
