"""What the person wrote now: quotes, forwards' headers, signatures and disclaimers are stripped;
HTML and every charset are decoded first (R-C11)."""

from __future__ import annotations

import pytest

from mailbot.domain.model import Category, Organisation
from mailbot.mail.html import html_to_text
from mailbot.mail.parse import parse_message
from mailbot.mail.text import current_text, split_text
from tests.support.classify import classify
from tests.unit.test_rules_support import make_mail, shipped_rules


def test_quoted_history_after_gmail_attribution_is_removed() -> None:
    body = (
        "Hou maar op met deze nieuwsbrieven.\n\nBas\n\n"
        "Op di 3 feb 2026 om 07:30 schreef Ordevos Nieuws <nieuws@ordevos.nl>:\n> Klacht? Verwijder dit.\n"
    )
    parts = split_text(body, "Re: Nieuwsbrief")
    assert "nieuwsbrieven" in parts.own
    assert "Klacht" not in parts.own
    assert "Klacht" in parts.quoted


def test_wrapped_attribution_and_outlook_header_block_are_history() -> None:
    body = (
        "Prima, dank je.\n\n"
        "________________________________\n"
        "Van: Coach <coach@ordevos.nl>\nVerzonden: donderdag 12 februari 2026 16:30\n"
        "Aan: Daan\nOnderwerp: klacht\n\nIk heb uw klacht ontvangen.\n"
    )
    assert current_text(body, "Re: huiswerk") == "Prima, dank je."


def test_forwarded_message_keeps_its_body_but_not_its_headers() -> None:
    """A daughter forwarding her mother's complaint: the forwarded words are the message."""
    body = (
        "Kunnen jullie dit oppakken?\n\nLaura\n\n"
        "---------- Forwarded message ---------\n"
        "Van: Moeder <moeder@example.org>\nDate: ma 2 feb 2026\nSubject: gesprek\nTo: coach@ordevos.nl\n\n"
        "Ik wil dat dit als klacht wordt genoteerd.\n"
    )
    parts = split_text(body, "Fwd: Brief van mijn moeder")
    assert "oppakken" in parts.own
    assert parts.forwarded == "Ik wil dat dit als klacht wordt genoteerd."
    assert "moeder@example.org" not in parts.current


def test_signature_after_closing_formula_is_removed() -> None:
    body = (
        "Graag een nieuwe afspraak.\n\nMet vriendelijke groet,\nJan Jansen\nKlachtenfunctionaris\nBedrijf BV"
    )
    assert current_text(body) == "Graag een nieuwe afspraak."


@pytest.mark.parametrize("marker", ["P.S.", "PS:", "Ps.", "PPS", "N.B.", "NB:"])
def test_a_postscript_below_the_sign_off_is_the_writers_own_words(marker: str) -> None:
    body = (
        "Ik kan de laatste sessie niet.\n\nGroet,\nNiels\nTel. 06-12345678\n\n"
        f"{marker} als het traject klaar is mag alles van mij weg."
    )
    own = split_text(body).own
    assert own.startswith("Ik kan de laatste sessie niet.")
    assert own.endswith(f"{marker} als het traject klaar is mag alles van mij weg.")
    assert "Niels" not in own and "06-12345678" not in own


def test_sig_dash_delimiter() -> None:
    assert (
        current_text("Wanneer is de training?\n-- \nJan | verwijder dit bericht") == "Wanneer is de training?"
    )


def test_disclaimer_paragraph_is_removed_but_a_confidentiality_complaint_is_not() -> None:
    body = (
        "Uw coach heeft vertrouwelijke informatie gedeeld met mijn werkgever.\n\n"
        "Dit bericht is uitsluitend bestemd voor de geadresseerde. Bent u niet de beoogde ontvanger, "
        "verwijder dit bericht dan en stel de afzender op de hoogte."
    )
    text = current_text(body)
    assert "vertrouwelijke informatie" in text
    assert "verwijder dit bericht" not in text


DISCLAIMERS = [
    "Disclaimer: niets uit dit bericht bindt ons.",
    "Bent u NIET de beoogde ontvanger, stel ons dan op de hoogte.",
    "If you are not the intended recipient, please notify the sender.",
    "If you are not the intended addressee, tell us.",
    "Indien u niet de juiste geadresseerde bent, meld het ons.",
    "Dit bericht is uitsluitend bestemd voor de geadresseerde.",
    "This e-mail is intended solely for the person it names.",
    "Wenn Sie nicht der richtige Adressat sind, informieren Sie uns.",
    "Sollten Sie nicht der beabsichtigte Empfänger sein, bitte melden.",
    "Ce message est destiné au destinataire prévu uniquement.",
    "Aan dit bericht kunnen geen rechten worden ontleend.",
    "No rights can be derived from this message.",
    "Please consider the environment before printing this e-mail.",
    "Denk aan het milieu voordat u dit bericht print.",
    "Ordevos B.V. is ingeschreven bij de Kamer van Koophandel onder 12345678.",
    "Ordevos is ingeschreven in het handelsregister.",
    "Dit bericht is vertrouwelijk. Heeft u het per abuis ontvangen, gooi het weg.",
    "This message is CONFIDENTIAL. If you received it in error, delete it.",
    "Diese Nachricht ist vertraulich; falls irrtümlich erhalten, bitte löschen.",
    "Ce message est confidentiel. Reçu par erreur ? Supprimez-le.",
]


@pytest.mark.parametrize("footer", DISCLAIMERS)
def test_every_kind_of_disclaimer_is_dropped(footer: str) -> None:
    """One footer per disclaimer pattern: the cheap hint-word filter in front of them hides none."""
    question = "Mijn vraag gaat over de training."
    assert current_text(f"{question}\n\n{footer}") == question


def test_disclaimer_saying_verwijder_dit_bericht_is_not_an_erasure_request() -> None:
    """A footer saying "verwijder dit bericht" must not open an erasure request (and its legal clock)."""
    parsed = make_mail(
        "Vraag over de training",
        "Hoe laat begint de training op maandag?\n\n"
        "Disclaimer: dit bericht is vertrouwelijk. Heeft u het per abuis ontvangen, verwijder dit bericht "
        "en al uw gegevens daarvan direct en informeer de afzender.",
    )
    result = classify(parsed, shipped_rules(), Organisation())
    assert result.category is Category.OTHER


def test_html_only_mail_is_converted_with_quotes_marked() -> None:
    html = (
        "<html><head><style>p{color:red}</style></head><body><p>Ik ben erg ontevreden&nbsp;&eacute;</p>"
        "<blockquote>Oude tekst met klacht</blockquote></body></html>"
    )
    text = html_to_text(html)
    assert "Ik ben erg ontevreden é" in text
    assert "> Oude tekst met klacht" in text
    assert "color:red" not in text
    assert current_text(text) == "Ik ben erg ontevreden é"


def test_r_c11_encoded_subject_and_windows_1252_qp_body_are_decoded() -> None:
    raw = (
        b"From: Anna <anna@example.org>\r\nTo: info@ordevos.nl\r\nReturn-Path: <anna@example.org>\r\n"
        b"Subject: =?UTF-8?Q?Klacht_over_coach?=\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: text/plain; charset="windows-1252"\r\nContent-Transfer-Encoding: quoted-printable\r\n'
        b"\r\nIk ben teleurgesteld in het traject =E9=E9n keer\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.subject == "Klacht over coach"
    assert "één keer" in parsed.text
    result = classify(parsed, shipped_rules(), Organisation())
    assert result.category is Category.COMPLAINT
    assert result.rule == "complaint.subject-keyword"


def test_base64_html_alternative_and_attachment_are_separated() -> None:
    raw = (
        b"From: a@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="m"\r\n\r\n'
        b'--m\r\nContent-Type: multipart/alternative; boundary="a"\r\n\r\n'
        b"--a\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"SGFsbG8gd2VyZWxk\r\n"
        b"--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hallo wereld</p>\r\n--a--\r\n"
        b'--m\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="cv.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--m--\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.text == "Hallo wereld"
    assert "<p>Hallo wereld</p>" in parsed.html
    assert [(a.filename, a.content_type, a.content) for a in parsed.attachments] == [
        ("cv.pdf", "application/pdf", b"%PDF-")
    ]


def test_truncated_multipart_still_yields_its_text_and_a_defect() -> None:
    raw = (
        b"From: a@example.org\r\nSubject: x\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nHallo daar\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.text.strip() == "Hallo daar"
    assert "CloseBoundaryNotFoundDefect" in parsed.defects


def test_rfc2231_filename_and_8bit_header() -> None:
    raw = (
        "From: Zoë <zoe@example.org>\r\nSubject: Fiets ophalen\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhoi\r\n'
        "--b\r\nContent-Type: application/octet-stream\r\n"
        "Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf\r\n\r\nxx\r\n--b--\r\n"
    ).encode()
    parsed = parse_message(raw)
    assert parsed.from_name == "Zoë"
    assert parsed.attachments[0].filename == "résumé.pdf"


def test_strict_address_parsing_refuses_a_display_name_that_looks_like_our_address() -> None:
    """R-C13: the parsed address is the real one, never the one shown in the display name."""
    parsed = make_mail("Vraag", "hoi", sender='"ceo@ordevos.nl" <evil@x.example>')
    assert parsed.from_address == "evil@x.example"
