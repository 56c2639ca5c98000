"""Content rules per family, on messages written for these tests (not lifted from the corpus).

Each case cites the rule it proves. The shipped rules in ``rules/`` are used, so a rules change
that breaks a family fails here with the message that shows it.
"""

from __future__ import annotations

import pytest

from mailbot.domain.model import GDPR_CATEGORIES, Category, Organisation
from mailbot.domain.rules import classify_content, classify_unparseable
from tests.support.classify import classify
from tests.unit.test_rules_support import make_mail, shipped_rules

ORG = Organisation()


def _classify(subject: str, body: str):  # type: ignore[no-untyped-def]
    return classify(make_mail(subject, body), shipped_rules(), ORG)


COMPLAINTS = [
    ("Klacht over coach", "Graag een reactie."),
    ("KLACHTEN", "zie onderwerp"),
    ("klachtmelding", "bel me"),
    ("Re: Antw: klacht", "Nog steeds geen reactie op mijn mail."),
    ("Vraag", "Ik ben zeer teleurgesteld, niemand belt terug en ik wil mijn geld terug."),
    ("Slechte ervaring", "De coach was onbeleefd en onprofessioneel. Ik wil een andere coach."),
    ("Problem with my sessions", "I am very disappointed. The coach was rude and I want a refund."),
    ("Beschwerde über das Coaching", "Ich bin sehr unzufrieden."),
    ("Réclamation", "Je ne suis pas satisfaite de l'accompagnement."),
]


@pytest.mark.parametrize(("subject", "body"), COMPLAINTS)
def test_complaints_in_many_words_r_b1(subject: str, body: str) -> None:
    """R-B1 / issue 3: complaints are recognised without the word "klacht" and in nl/en/de/fr."""
    assert _classify(subject, body).category is Category.COMPLAINT


def test_r_b1_klacht_in_subject_is_confident_without_triage() -> None:
    result = _classify("=?UTF-8?Q?Klacht_over_coach?=", "Mijn coach kwam niet opdagen.")
    assert (result.category, result.triage, result.rule) == (
        Category.COMPLAINT,
        False,
        "complaint.subject-keyword",
    )


def test_r_b1_klacht_only_in_body_is_a_complaint_flagged_for_triage() -> None:
    """R-B1 decision: a body-only complaint is still a complaint; with low confidence, triage too."""
    result = _classify("Vraag over mijn traject", "Ik wil graag een klacht melden.")
    assert result.category is Category.COMPLAINT
    assert result.triage is True
    assert "klacht" in " ".join(result.evidence).lower()


def test_negated_klacht_in_subject_is_not_a_complaint() -> None:
    assert _classify("Geen klacht, maar een compliment!", "Mijn coach heeft me enorm geholpen.").category is (
        Category.OTHER
    )


def test_question_about_the_complaints_procedure_is_not_a_complaint() -> None:
    result = _classify(
        "Vraag voor scriptie over klachtenprocedures", "Mag ik iemand interviewen over klachten?"
    )
    assert result.category is Category.OTHER


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("Welke gegevens hebben jullie van mij?", "Ik wil dat graag zien.", Category.ACCESS),
        ("Vraagje", "Mag ik weten wat jullie allemaal over mij hebben opgeslagen?", Category.ACCESS),
        ("DSAR", "Please treat this as a data subject access request.", Category.ACCESS),
        (
            "Auskunft",
            "Bitte teilen Sie mir mit, welche Daten Sie über mich gespeichert haben.",
            Category.ACCESS,
        ),
        ("Fout telefoonnummer", "Mijn telefoonnummer in jullie systeem is verkeerd.", Category.RECTIFICATION),
        ("Change of address", "I moved house. Please update my address.", Category.RECTIFICATION),
        ("Gegevens wissen", "Ik wil dat jullie alles wat jullie van mij hebben wissen.", Category.ERASURE),
        ("Verzoek", "Wilt u mijn persoonsgegevens uit uw administratie verwijderen?", Category.ERASURE),
        ("Mes données", "Pouvez-vous supprimer toutes mes données personnelles ?", Category.ERASURE),
        ("Dossier", "Wilt u mijn dossier afschermen tot het geschil is opgelost?", Category.RESTRICTION),
        ("Hold", "Please restrict the processing of my data while you check it.", Category.RESTRICTION),
        ("Stop", "Ik wil geen reclame meer van jullie ontvangen.", Category.OBJECTION),
        ("Nieuwsbrief", "Graag van de nieuwsbrief af.", Category.OBJECTION),
        ("Marketing", "Please stop sending me marketing emails.", Category.OBJECTION),
        ("Widerspruch", "Ich widerspreche der Nutzung meiner Daten für Werbung.", Category.OBJECTION),
    ],
)
def test_gdpr_requests_without_legal_words_r_a16(subject: str, body: str, expected: Category) -> None:
    """R-A16: requests need no legal words; nl, en, de, fr."""
    assert _classify(subject, body).category is expected


def test_r_a16_welke_gegevens_is_access_and_the_clock_runs() -> None:
    """R-A16 / test case 12: "Welke gegevens hebben jullie van mij?" (no "AVG") is an access request."""
    result = _classify("Welke gegevens hebben jullie van mij?", "")
    assert result.category is Category.ACCESS
    assert result.category in GDPR_CATEGORIES


def test_r_a16_ambiguous_request_keeps_its_category_and_gets_triage() -> None:
    """R-A16: a weak request signal is the request's category plus a triage flag, never plain "other"."""
    result = _classify("Vraagje", "Kunnen jullie mijn nieuwsbrief stopzetten?")
    assert result.category is Category.OBJECTION
    assert result.triage is True


def test_two_intents_main_and_secondary() -> None:
    """R-A16: one e-mail may hold several requests: main category plus a secondary intent."""
    result = _classify(
        "Klacht en verzoek",
        "Ik dien hierbij een klacht in over mijn coach. "
        "Daarna wil ik dat jullie al mijn gegevens verwijderen.",
    )
    assert result.category is Category.COMPLAINT
    assert result.secondary is Category.ERASURE


def test_unsubscribe_that_asks_for_deletion_is_erasure_with_objection_secondary() -> None:
    result = _classify("Afmelden", "Ik wil me afmelden en verwijder ook al mijn gegevens uit jullie bestand.")
    assert (result.category, result.secondary) == (Category.ERASURE, Category.OBJECTION)


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Afspraak verwijderen", "Kunnen jullie mijn afspraak van donderdag verwijderen? Ik ben ziek."),
        (
            "Niet verwijderen!",
            "Mijn dossier is nodig voor een procedure; niet meer gebruiken, alleen bewaren.",
        ),
        ("Hulp bij bezwaar UWV", "Ik wil bezwaar maken tegen het besluit van het UWV."),
        ("Factuur klopt niet", "Op de factuur staan vijf sessies in plaats van vier."),
    ],
)
def test_request_words_in_another_sense_are_not_that_request(subject: str, body: str) -> None:
    """Traps: deleting an appointment, "do not delete", an objection against the UWV, a wrong invoice."""
    result = _classify(subject, body)
    assert result.category not in {Category.ERASURE, Category.OBJECTION, Category.RECTIFICATION}


def test_vendor_pitch_full_of_gdpr_words_is_other() -> None:
    result = _classify(
        "Automate GDPR erasure & access requests",
        "Handling erasure requests manually? Our platform deletes records in one click. "
        "Book a 20-minute call.",
    )
    assert result.category is Category.OTHER


@pytest.mark.parametrize(
    ("subject", "headers", "ref"),
    [
        ("Re: [ORD-2026-00042] Ontvangstbevestiging: Klacht", {}, "ORD-2026-00042"),
        ("aanvullende informatie", {"In-Reply-To": "<ticket-31.ack@ordevos.nl>"}, None),
        ("Fwd: ORD-2026-00119 complaint", {}, "ORD-2026-00119"),
    ],
)
def test_replies_by_subject_reference_or_our_message_id_r_c10(
    subject: str, headers: dict[str, str], ref: str | None
) -> None:
    """R-C10: a subject reference or In-Reply-To naming our Message-ID makes a reply, whatever it says."""
    result = classify(
        make_mail(subject, "Ik ben nog steeds boos, klacht!", headers=headers), shipped_rules(), ORG
    )
    assert result.category is Category.REPLY
    assert result.ticket_ref == ref


def test_reply_to_a_newsletter_on_a_subdomain_is_not_a_ticket_reply() -> None:
    parsed = make_mail(
        "Re: Nieuwsbrief februari",
        "Hou op met deze nieuwsbrieven.",
        headers={"In-Reply-To": "<nb-2026-02@news.ordevos.nl>"},
    )
    assert classify(parsed, shipped_rules(), ORG).category is Category.OBJECTION


def test_classify_content_never_returns_reply() -> None:
    """The pipeline threads against the database itself; content classification ignores references."""
    parsed = make_mail("Re: [ORD-2026-00042] klacht", "Ik dien een klacht in over mijn coach.")
    result = classify_content(parsed, shipped_rules(), ORG)
    assert result.category is Category.COMPLAINT


def test_every_result_says_why() -> None:
    result = _classify("Verwijderverzoek", "Verwijder al mijn gegevens.")
    assert result.rule in shipped_rules().sources
    assert result.evidence
    assert 0 < result.confidence <= 1


@pytest.mark.parametrize(
    ("subject", "body", "language"),
    [
        (
            "Vraag",
            "Ik heb een vraag over de training van maandag en wil graag weten hoe laat het begint.",
            "nl",
        ),
        ("Question", "I have a question about the training and would like to know when it starts.", "en"),
        ("Frage", "Ich habe eine Frage zu dem Training und möchte wissen, wann es beginnt.", "de"),
        ("Question", "Bonjour, je voudrais savoir à quelle heure commence la formation avec vous.", "fr"),
    ],
)
def test_language_is_detected(subject: str, body: str, language: str) -> None:
    assert _classify(subject, body).language == language


def test_unparseable_is_other_with_triage() -> None:
    result = classify_unparseable("no headers found")
    assert (result.category, result.rule, result.triage) == (Category.OTHER, "unparseable", True)
