"""Issue 17: text staff typed into a customer letter (an extension reason, refusal reasons, an
answer) is introduced as theirs in the reader's language, and named when it is in another
language than the letter; staff notices say which language the requester reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbot import defaults
from mailbot.adapters.templates import TemplateRenderer, sample_context

DUTCH_REASON = "Uw verzoek betreft gegevens uit vier systemen en zes trainingsjaren, dat kost meer tijd."
ENGLISH_REASON = "Your request covers data in four systems and six years of courses, which takes more time."


@pytest.fixture
def renderer() -> TemplateRenderer:
    return TemplateRenderer(Path(defaults.TEMPLATES))


def extension(renderer: TemplateRenderer, lang: str, reason: str) -> str:
    ctx = sample_context("extension_notice")
    ctx["extension"] = {**ctx["extension"], "reason": reason}
    return renderer.render("extension_notice", lang, ctx).text


def test_english_reader_is_told_the_reason_is_in_dutch(renderer: TemplateRenderer) -> None:
    text = extension(renderer, "en", DUTCH_REASON)
    assert f"The reason, in our staff member's own words (in Dutch):\n\n{DUTCH_REASON}" in text


def test_reason_in_the_readers_own_language_gets_the_intro_only(renderer: TemplateRenderer) -> None:
    assert "in our staff member's own words:\n\n" + ENGLISH_REASON in extension(
        renderer, "en", ENGLISH_REASON
    )
    assert "De reden, in de woorden van onze medewerker:\n\n" + DUTCH_REASON in extension(
        renderer, "nl", DUTCH_REASON
    )
    dutch_reader = extension(renderer, "nl", ENGLISH_REASON)
    assert "De reden, in de woorden van onze medewerker (in het Engels):" in dutch_reader


def test_too_few_words_to_tell_gives_no_language_note(renderer: TemplateRenderer) -> None:
    text = extension(renderer, "en", "Facturen: 7 jaar.")
    assert "in our staff member's own words:" in text and "(in Dutch)" not in text


def test_both_parts_of_a_dutch_english_letter_are_marked(renderer: TemplateRenderer) -> None:
    """A French requester gets Dutch then English; the English half names the Dutch reason."""
    text = extension(renderer, "fr", DUTCH_REASON)
    dutch, english = text.split("-- English version --")
    assert "in de woorden van onze medewerker:" in dutch
    assert "in our staff member's own words (in Dutch):" in english


def test_refusal_reasons_are_introduced_as_staff_words(renderer: TemplateRenderer) -> None:
    ctx = sample_context("refusal")
    text = renderer.render("refusal", "en", ctx).text
    assert "The reason, in our staff member's own words (in Dutch):" in text
    ctx["refusal"] = {**ctx["refusal"], "reasons": [ENGLISH_REASON, "We keep invoices for seven years."]}
    text = renderer.render("refusal", "en", ctx).text
    assert "The reasons, in our staff member's own words:" in text


def test_partly_refused_request_names_the_staff_words(renderer: TemplateRenderer) -> None:
    text = renderer.render("request_fulfilled", "en", sample_context("request_fulfilled")).text
    assert "The reason, in our staff member's own words (in Dutch):" in text


def test_staff_answer_in_another_language_says_so(renderer: TemplateRenderer) -> None:
    ctx = sample_context("staff_answer")
    assert "[Our staff member wrote this answer in Dutch.]" in renderer.render("staff_answer", "en", ctx).text
    assert "[" not in renderer.render("staff_answer", "nl", ctx).text.split("\n")[0]
    ctx["answer"] = {**ctx["answer"], "text": ENGLISH_REASON}
    assert "wrote this answer" not in renderer.render("staff_answer", "en", ctx).text


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("nl", "Taal klant:         Nederlands (antwoord in het Nederlands)"),
        ("en", "Taal klant:         Engels (antwoord in het Engels)"),
        (
            "fr",
            "Taal klant:         Frans (brieven gaan in het Nederlands en Engels; antwoord in het Engels)",
        ),
    ],
)
def test_staff_notice_says_which_language_the_requester_reads(
    renderer: TemplateRenderer, language: str, line: str
) -> None:
    ctx = sample_context("staff_new_ticket")
    ctx["ticket"] = {**ctx["ticket"], "language": language}
    assert line in renderer.render("staff_new_ticket", "nl", ctx).text
