"""``decide`` on a reply whose own words make a rights request: its own ticket when the words are
clear and the thread's ticket is not that request already; appended otherwise."""

from __future__ import annotations

from typing import Any

from mailbot.adapters.rules_loader import load_ruleset
from mailbot.domain.classifier import ModelClassifier
from mailbot.domain.model import Category, Organisation
from mailbot.mail.parse import parse_message
from mailbot.services.decide import REQUEST_IN_REPLY, Action, decide, stateless
from tests.support.app import REPO
from tests.support.fakes import FixedReading
from tests.support.mail import make_mail

ORG = Organisation()
RULES = load_ruleset(REPO / "mailbot" / "defaults" / "rules")


class Threads:
    """``mailbot classify``'s stateless lookup, but ``ORD-2026-00001`` is the ticket ``T1`` and is
    the request ``category`` already."""

    def __init__(self, category: Category) -> None:
        self.category, self._stateless = category, stateless(ORG)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stateless, name)

    def ticket_by_ref(self, ref: str) -> str | None:
        return "T1" if ref == "ORD-2026-00001" else None

    def has_request(self, ticket_id: str, category: Category) -> bool:
        return category is self.category


def _reply() -> bytes:
    return make_mail(
        sender="m.verbeek@example.nl",
        name="Marloes",
        subject="Re: [ORD-2026-00001] Uw factuur",
        body="Dank u. Wilt u nu al mijn gegevens wissen?",
    )


def _decide(share: float, ticket_category: Category):
    classifier = ModelClassifier(RULES, ORG, FixedReading(Category.ERASURE, share))
    parsed = parse_message(_reply())
    return decide(parsed, classifier, ORG, Threads(ticket_category), sender="m.verbeek@example.nl")


def test_a_clear_request_on_another_ticket_opens_its_own() -> None:
    decision = _decide(0.9, Category.COMPLAINT)
    assert decision.action is Action.OPEN and decision.asked_in == "T1"
    assert decision.classification.category is Category.ERASURE
    assert decision.classification.triage and decision.no_ack_reason == "in-thread"  # R-C5
    assert "asked in the thread of ORD-2026-00001" in decision.classification.evidence


def test_the_same_request_on_its_own_ticket_is_appended() -> None:
    decision = _decide(0.9, Category.ERASURE)
    assert decision.action is Action.APPEND and decision.ticket_id == "T1"
    assert decision.possible_request is None  # the thread carries it: nothing to tell staff


def test_a_faint_request_stays_a_reply_naming_it_as_its_secondary() -> None:
    decision = _decide(REQUEST_IN_REPLY - 0.2, Category.COMPLAINT)
    assert decision.action is Action.APPEND
    assert decision.classification.secondary is Category.ERASURE
    assert decision.possible_request is Category.ERASURE  # staff are told in the follow-up notice
