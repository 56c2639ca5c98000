"""The classification tests' entry point: the production decision (``decide``) without stored
tickets, with the shipped rules as the classifier — the same path ``mailbot classify`` takes."""

from __future__ import annotations

from mailbot.domain.classifier import RulesClassifier
from mailbot.domain.model import Classification, Organisation
from mailbot.domain.rules import RuleSet
from mailbot.mail.parse import ParsedMail
from mailbot.services.decide import classify_stateless


def classify(parsed: ParsedMail, ruleset: RuleSet, org: Organisation) -> Classification:
    return classify_stateless(parsed, RulesClassifier(ruleset, org), org)
