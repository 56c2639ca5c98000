"""Machine mail is detected from standard headers and never acknowledged (R-C1…R-C6)."""

from __future__ import annotations

import pytest

from mailbot.domain.autoreply import (
    auto_submitted_is_automatic,
    detect_automated,
    is_machine_sender,
    suppresses_auto_response,
)
from mailbot.domain.model import Category, Organisation
from mailbot.mail.parse import parse_message
from tests.support.classify import classify
from tests.unit.test_rules_support import make_mail, shipped_rules

ORG = Organisation()


@pytest.mark.parametrize(
    ("value", "automatic"),
    [
        ("auto-replied", True),
        ("auto-replied; owner-email=jan@example.org", True),
        ("Auto-Generated", True),
        ("auto-notified", True),
        ("no", False),
        ("No", False),
        (" no ; comment", False),
        (None, False),
    ],
)
def test_r_c1_auto_submitted_token_other_than_no(value: str | None, automatic: bool) -> None:
    """R-C1: any Auto-Submitted token but ``no`` (parameters after ';' ignored, any case)."""
    assert auto_submitted_is_automatic(value) is automatic


def test_r_c1_auto_submitted_no_allows_a_normal_classification() -> None:
    parsed = make_mail("Klacht over coach", "Ik dien een klacht in.", headers={"Auto-Submitted": "no"})
    assert classify(parsed, shipped_rules(), ORG).category is Category.COMPLAINT


def test_r_c1_auto_replied_with_owner_email_is_automated_even_with_complaint_words() -> None:
    parsed = make_mail(
        "Klacht over coach",
        "Ik dien een klacht in.",
        headers={"Auto-Submitted": "auto-replied; owner-email=jan@example.org"},
    )
    result = classify(parsed, shipped_rules(), ORG)
    assert result.category is Category.AUTOMATED
    assert result.automated
    assert any(r.startswith("R-C1") for r in result.automated_reasons)


def test_r_c2_null_return_path_is_automated() -> None:
    """R-C2: bounces and Exchange OOFs come with ``Return-Path: <>``; never answer a null sender."""
    parsed = make_mail("Vraag", "Wanneer is mijn afspraak?", return_path="<>")
    signals = detect_automated(parsed, ORG)
    assert signals.automated
    assert "R-C2 null return-path" in signals.reasons


def test_r_c2_missing_return_path_is_only_a_hint() -> None:
    parsed = make_mail("Vraag", "Wanneer is mijn afspraak?", return_path=None)
    signals = detect_automated(parsed, ORG)
    assert not signals.automated
    assert signals.weak == ("R-C2 no return-path",)


@pytest.mark.parametrize(
    "headers",
    [
        {"List-Id": "<coaches.lists.example.org>"},
        {"List-Unsubscribe": "<https://example.org/u>"},
        {"Precedence": "bulk"},
        {"Precedence": "list"},
        {"Precedence": "junk"},
    ],
)
def test_r_c3_list_and_bulk_mail_is_automated(headers: dict[str, str]) -> None:
    """R-C3: a human post to a mailing list about complaints is still list traffic: no ack."""
    parsed = make_mail("Ervaring met klachtencommissie?", "Heeft iemand een klacht gehad?", headers=headers)
    assert classify(parsed, shipped_rules(), ORG).category is Category.AUTOMATED


def test_r_c3_precedence_first_class_is_not_bulk() -> None:
    parsed = make_mail("Vraag", "Hallo", headers={"Precedence": "first-class"})
    assert not detect_automated(parsed, ORG).automated


@pytest.mark.parametrize(
    ("address", "machine"),
    [
        ("MAILER-DAEMON@mx.example.org", True),
        ("postmaster@example.org", True),
        ("noreply@example.org", True),
        ("no-reply@example.org", True),
        ("do-not-reply@example.org", True),
        ("owner-coaches@lists.example.org", True),
        ("coaches-request@lists.example.org", True),
        ("jan.noreply.fan@example.org", False),
        ("marie@example.org", False),
        (None, False),
    ],
)
def test_r_c3_machine_senders(address: str | None, machine: bool) -> None:
    assert is_machine_sender(address) is machine


@pytest.mark.parametrize(
    ("value", "suppress"),
    [
        ("All", True),
        ("OOF, AutoReply", True),
        ("DR, RN, NRN, OOF", True),
        ("None", False),
        ("DR", False),
        ("", False),
    ],
)
def test_r_c4_x_auto_response_suppress_all_vs_none(value: str, suppress: bool) -> None:
    """R-C4: All/OOF/AutoReply ask not to be answered; None suppresses nothing."""
    assert suppresses_auto_response(value) is suppress


def test_r_c4_exchange_oof_markers_make_it_automated_and_none_does_not() -> None:
    oof = make_mail(
        "Automatisch antwoord: Vraag",
        "Ik ben afwezig.",
        headers={"X-Auto-Response-Suppress": "All", "X-MS-Exchange-Inbox-Rules-Loop": "jan@example.org"},
    )
    normal = make_mail("Vraag", "Wanneer is mijn afspraak?", headers={"X-Auto-Response-Suppress": "None"})
    assert classify(oof, shipped_rules(), ORG).category is Category.AUTOMATED
    assert classify(normal, shipped_rules(), ORG).category is Category.OTHER


@pytest.mark.parametrize("marker", ["X-Autoreply", "X-Autorespond", "X-Autogenerated"])
def test_r_c4_de_facto_autoresponder_headers(marker: str) -> None:
    parsed = make_mail("Re: uw bericht", "Bedankt voor uw bericht.", headers={marker: "yes"})
    assert detect_automated(parsed, ORG).automated


def _report(report_type: str, subject: str) -> bytes:
    return (
        "From: Mail Delivery System <mailer@mx.example.org>\r\n"
        "To: info@ordevos.nl\r\n"
        f"Subject: {subject}\r\n"
        "Return-Path: <mailer@mx.example.org>\r\n"
        f'Content-Type: multipart/report; report-type={report_type}; boundary="b1"\r\n'
        "\r\n--b1\r\nContent-Type: text/plain\r\n\r\nVerwijder mijn gegevens (quoted original)\r\n"
        f"--b1\r\nContent-Type: message/{report_type}\r\n\r\nFinal-Recipient: rfc822; x@example.org\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n\r\n--b1--\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("report_type", "subject"),
    [
        ("delivery-status", "Undelivered Mail: verwijderverzoek"),
        ("disposition-notification", "Gelezen: Klacht"),
    ],
)
def test_r_c6_dsn_and_mdn_are_machine_mail(report_type: str, subject: str) -> None:
    """R-C6: delivery and disposition notifications are never a customer ticket, whatever they quote."""
    parsed = parse_message(_report(report_type, subject))
    assert parsed.report_type == report_type
    result = classify(parsed, shipped_rules(), ORG)
    assert result.category is Category.AUTOMATED
    assert any(r.startswith("R-C6") for r in result.automated_reasons)


def test_r_c5_our_own_acknowledgement_looping_back_is_automated() -> None:
    parsed = make_mail(
        "[ORD-2026-00099] Ontvangstbevestiging: Klacht", "Beste klant,", sender="info@ordevos.nl"
    )
    result = classify(parsed, shipped_rules(), ORG)
    assert result.category is Category.AUTOMATED
    assert result.secondary is Category.REPLY
    assert result.ticket_ref == "ORD-2026-00099"


def test_out_of_office_quoting_a_ticket_is_automated_with_reply_secondary() -> None:
    """Labels put machine mail first: an OOF on our ack is AUTOMATED, secondary REPLY, ticket kept."""
    parsed = make_mail(
        "Automatisch antwoord: [ORD-2026-00045] Ontvangstbevestiging: Klacht",
        "Ik ben afwezig tot maandag. Klachten over de gemeente via het formulier.",
        headers={"Auto-Submitted": "auto-replied", "In-Reply-To": "<ticket-45.ack@ordevos.nl>"},
    )
    result = classify(parsed, shipped_rules(), ORG)
    assert (result.category, result.secondary, result.ticket_ref) == (
        Category.AUTOMATED,
        Category.REPLY,
        "ORD-2026-00045",
    )


def test_out_of_office_without_machine_headers_is_caught_by_the_rules() -> None:
    """A vacation notice with no headers at all: subject and autoresponder wording together decide."""
    parsed = make_mail(
        "Niet aanwezig tot 2 maart",
        "Beste relatie,\n\nWij zijn gesloten wegens vakantie. Vanaf maandag zijn wij weer bereikbaar.",
    )
    result = classify(parsed, shipped_rules(), ORG)
    assert result.category is Category.AUTOMATED
    assert result.rule.startswith("auto.")


def test_a_person_announcing_an_absence_is_not_automated() -> None:
    """R-C4: subject words are a weak signal; a human asking to move an appointment is not a robot."""
    parsed = make_mail(
        "Afwezig volgende week", "Ik ben afwezig volgende week, kan mijn afspraak verzet worden?"
    )
    assert classify(parsed, shipped_rules(), ORG).category is not Category.AUTOMATED


def _calendar_mail(method_line: str, subject: str, body: str = "") -> bytes:
    return (
        "From: Markus Vogel <markus@web.example>\r\nTo: info@ordevos.nl\r\n"
        f"Subject: {subject}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        f"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        f"--b\r\nContent-Type: text/calendar; charset=utf-8; method=REPLY\r\n\r\n"
        f"BEGIN:VCALENDAR\r\n{method_line}BEGIN:VEVENT\r\nSUMMARY:Gesprek\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        "--b--\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("method_line", "subject", "reason"),
    [
        ("METHOD:REPLY\r\n", "Abgelehnt: Gesprek n.a.v. uw klacht", "R-C6 calendar reply"),
        ("METHOD:REPLY\r\n", "Tentative: Workshop LinkedIn", "R-C6 calendar reply"),
        ("METHOD:CANCEL\r\n", "Geannuleerd: intake", "R-C6 calendar cancel"),
        ("", "Uitnodiging: kennismaking", "R-C6 calendar request"),  # no METHOD line: an invitation
    ],
)
def test_calendar_responses_are_machine_mail_whatever_the_subject_says(
    method_line: str, subject: str, reason: str
) -> None:
    """classification.md: an iTIP message (a ``text/calendar`` part) is written by a calendar
    program, often with an empty body; "klacht" in the subject of a declined meeting about a
    complaint must not open a complaint ticket or send an acknowledgement."""
    parsed = parse_message(_calendar_mail(method_line, subject))
    assert reason in detect_automated(parsed, ORG).reasons
    assert classify(parsed, shipped_rules(), ORG).category is Category.AUTOMATED


def test_a_calendar_file_named_in_text_is_not_a_calendar_message() -> None:
    parsed = make_mail("Klacht", "Ik stuur u mijn agenda als .ics bestand. METHOD:REPLY")
    assert detect_automated(parsed, ORG).reasons == ()


@pytest.mark.parametrize(
    "local",
    [
        "notifications",
        "notification",
        "notify",
        "notifications-noreply",
        "news",
        "newsletter",
        "nieuwsbrief",
        "reports",
        "alerts",
        "system",
    ],
)
def test_notification_mailboxes_are_machine_senders(local: str) -> None:
    assert is_machine_sender(f"{local}@calendly.example")


@pytest.mark.parametrize("local", ["report.team", "systeembeheer", "alert.jansen", "newsdesk"])
def test_people_whose_address_only_starts_like_a_robot_are_not_machine_senders(local: str) -> None:
    assert not is_machine_sender(f"{local}@example.nl")


def test_an_outlook_recall_is_machine_mail_even_with_klacht_in_its_subject() -> None:
    recall = make_mail(
        "Intrekken: Formele klacht dienstverlening",
        'Monique van Dam wil het bericht "Formele klacht dienstverlening" intrekken.',
        headers={"X-MS-Exchange-Organization-Recall": "True"},
    )
    assert "R-C6 outlook recall" in detect_automated(recall).reasons
    assert classify(recall, shipped_rules(), ORG).category is Category.AUTOMATED
    plain = make_mail("Intrekken: Formele klacht dienstverlening", "Ik trek mijn klacht in.")
    assert not detect_automated(plain).automated  # a person withdrawing a complaint writes it
