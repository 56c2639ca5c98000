"""The model's shares → a content decision (issue 14, R-A16): recall of rights requests first."""

from __future__ import annotations

from mailbot.domain.classifier import (
    CONFIDENT,
    GDPR_PLAUSIBLE,
    OTHER_OVER_OVERRIDE,
    REQUEST_OVER_OVERRIDE,
    Prediction,
    decide_content,
)
from mailbot.domain.model import Category, Classification

C = Category


def shares(**values: float) -> Prediction:
    """Shares for the named categories, the rest of the mass spread evenly over the others."""
    named = {Category(k): v for k, v in values.items()}
    rest = [c for c in Category if c not in named and c is not Category.REPLY]
    left = max(0.0, 1.0 - sum(named.values()))
    full = dict(named, **{c: left / len(rest) for c in rest})
    return Prediction(full, {c: (f"word-{c.value}",) for c in named})


def test_a_plain_complaint_is_a_complaint_and_says_why() -> None:
    result = decide_content(shares(complaint=0.9), "nl")
    assert result.category is C.COMPLAINT
    assert result.rule == "model"
    assert result.evidence[0] == "p(complaint)=0.90"
    assert "word-complaint" in result.evidence
    assert not result.triage


def test_a_plausible_request_beats_other_and_gets_a_human_look() -> None:
    result = decide_content(shares(other=0.7, erasure=GDPR_PLAUSIBLE + 0.01), "nl")
    assert result.category is C.ERASURE
    assert result.triage


def test_a_request_below_plausible_stays_other_but_is_flagged_with_the_request_as_secondary() -> None:
    result = decide_content(shares(other=0.9, access=0.06), "en")
    assert result.category is C.OTHER
    assert result.secondary is C.ACCESS
    assert result.triage


def test_clear_other_is_not_flagged() -> None:
    result = decide_content(shares(other=0.99), "en")
    assert result.category is C.OTHER
    assert not result.triage and result.secondary is None


def test_the_word_rules_as_second_opinion_lift_a_faint_request() -> None:
    prediction = shares(other=0.8, objection=0.12)
    alone = decide_content(prediction, "nl")
    agreed = decide_content(prediction, "nl", rules_request=lambda: C.OBJECTION)
    assert alone.category is C.OTHER
    assert agreed.category is C.OBJECTION and agreed.triage


def test_an_unsure_request_or_complaint_goes_to_triage() -> None:
    result = decide_content(shares(rectification=CONFIDENT - 0.1, other=0.3), "nl")
    assert result.category is C.RECTIFICATION and result.triage


def test_two_strong_intents_give_a_secondary() -> None:
    result = decide_content(shares(access=0.55, erasure=0.4), "nl")
    assert result.category is C.ACCESS
    assert result.secondary is C.ERASURE


def test_a_complaint_that_also_asks_for_erasure_is_filed_as_the_request_with_the_complaint_beside() -> None:
    result = decide_content(shares(complaint=0.6, erasure=0.35), "nl")
    assert result.category is C.ERASURE  # its legal month must run (R-A16)
    assert result.secondary is C.COMPLAINT
    assert result.triage


def test_the_model_calls_mail_automated_only_when_sure_and_no_request_is_plausible() -> None:
    sure = decide_content(shares(automated=0.9), "en")
    assert sure.category is C.AUTOMATED and sure.automated and sure.triage
    with_request = decide_content(shares(automated=0.65, access=0.3), "en")
    assert with_request.category is C.ACCESS
    in_thread = decide_content(shares(automated=0.9, complaint=0.05), "en", allow_automated=False)
    assert in_thread.category is not C.AUTOMATED


def test_the_company_override_wins_unless_the_words_are_clearly_a_request() -> None:
    override = Classification(
        category=C.COMPLAINT, rule="complaint.subject-keyword", confidence=1.0, evidence=("klacht",)
    )
    kept = decide_content(shares(erasure=REQUEST_OVER_OVERRIDE - 0.1), "nl", override=override)
    assert kept is override
    led = decide_content(shares(erasure=REQUEST_OVER_OVERRIDE + 0.1), "nl", override=override)
    assert led.category is C.ERASURE
    assert led.secondary is C.COMPLAINT
    assert "klacht" in led.evidence


def test_a_klacht_subject_over_words_clearly_not_a_complaint_is_other_and_keeps_its_promise() -> None:
    """ "Rugklachten - kan de sessie staand?": the subject's promise stays, the category follows the
    words, and a human looks (the model can be wrong where the company promised 48 hours)."""
    override = Classification(
        category=C.COMPLAINT, rule="complaint.subject-keyword", confidence=1.0, evidence=("klachten",)
    )
    kept = decide_content(shares(other=OTHER_OVER_OVERRIDE - 0.05), "nl", override=override)
    assert kept is override and kept.first_answer_as is None
    other = decide_content(shares(other=OTHER_OVER_OVERRIDE + 0.05), "nl", override=override)
    assert other.category is C.OTHER and other.rule == "model"
    assert other.triage and other.first_answer_as is C.COMPLAINT
    assert "klachten" in other.evidence and other.evidence[0].startswith("p(other)=")
