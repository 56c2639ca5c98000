"""Issue 14: a complaint or rights request a machine relays (voicemail transcript, a booking's
cancellation reason, a portal notice) is read by its words, not filed unanswered by its headers."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbot.adapters.rules_loader import load_ruleset
from mailbot.domain.classifier import RELAYED_SURE, ModelClassifier
from mailbot.domain.model import Category, Organisation
from mailbot.mail.parse import parse_message
from mailbot.services.decide import Action, decide, stateless
from tests.support.fakes import FixedReading
from tests.support.mail import voicemail

RULES = Path(__file__).resolve().parents[2] / "mailbot" / "defaults" / "rules"
ORG = Organisation()


def classify(raw: bytes, category: Category, share: float):
    classifier = ModelClassifier(load_ruleset(RULES), ORG, FixedReading(category, share))
    parsed = parse_message(raw)
    return classifier.content(parsed), decide(
        parsed, classifier, ORG, stateless(ORG), sender=parsed.from_address
    )


def test_a_complaint_on_a_voicemail_transcript_opens_its_ticket_unanswered() -> None:
    result, decision = classify(voicemail(Auto_Submitted="auto-generated"), Category.COMPLAINT, 0.9)
    assert (result.category, result.triage, result.automated) == (Category.COMPLAINT, True, False)
    assert result.automated_reasons and "relayed by machine" in result.evidence[-1]
    assert decision.action is Action.OPEN
    assert decision.no_ack_reason == "relayed-by-machine"  # the sender is the machine


def test_below_the_sure_share_relayed_mail_stays_machine_mail() -> None:
    result, decision = classify(
        voicemail(Auto_Submitted="auto-generated"), Category.COMPLAINT, RELAYED_SURE - 0.05
    )
    assert result.category is Category.AUTOMATED and decision.action is Action.AUTOMATED


def test_words_read_as_other_leave_relayed_mail_machine_mail() -> None:
    result, _ = classify(voicemail(Auto_Submitted="auto-generated"), Category.OTHER, 0.95)
    assert result.category is Category.AUTOMATED


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},  # an autoresponder answers; it relays nobody
        {"Auto_Submitted": "auto-generated", "In_Reply_To": "<ack-1@ordevos.nl>"},  # in our thread
        {"Auto_Submitted": "auto-generated", "List_Id": "<coaches.lists.example>"},  # a list
    ],
)
def test_autoresponders_lists_and_thread_mail_are_never_read_as_relays(headers: dict[str, str]) -> None:
    result, _ = classify(voicemail(**headers), Category.COMPLAINT, 0.99)
    assert result.category is Category.AUTOMATED
