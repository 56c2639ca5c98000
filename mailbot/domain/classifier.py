"""What ``decide`` needs from a classifier, and the rules-based one.

A classifier answers two questions about a parsed message: what it is (automated mail first, then
the content category, never "reply" — threading is decided against tickets, not guessed here),
and, for a message that turned out to be a reply, what its own words ask (its secondary intent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mailbot.domain.model import Classification, Organisation
from mailbot.domain.rules import RuleSet, classify_content, reply_intent
from mailbot.mail.parse import ParsedMail


class Classifier(Protocol):
    def content(self, parsed: ParsedMail) -> Classification: ...
    def reply_intent(self, parsed: ParsedMail) -> Classification: ...


@dataclass(frozen=True)
class RulesClassifier:
    """The company's rules (``rules/*.toml``) as a classifier."""

    ruleset: RuleSet
    org: Organisation

    def content(self, parsed: ParsedMail) -> Classification:
        return classify_content(parsed, self.ruleset, self.org)

    def reply_intent(self, parsed: ParsedMail) -> Classification:
        return reply_intent(parsed, self.ruleset)
