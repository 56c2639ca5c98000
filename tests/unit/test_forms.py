"""A web form's mail read as the person's (issue 14): the layouts, and whose forms count."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailbot.adapters.rules_loader import load_ruleset
from mailbot.domain.classifier import ModelClassifier, Prediction
from mailbot.domain.forms import as_persons_mail, read_mail, relays_a_form
from mailbot.domain.model import Category, Organisation
from mailbot.mail.forms import read_form
from mailbot.mail.parse import parse_message

RULES = Path(__file__).resolve().parents[2] / "mailbot" / "defaults" / "rules"
ORG = Organisation(staff=("hoofdkantoor@ordevos.nl",), form_senders=("@forms.example.net",))

CONTACT_FORM_7 = """Nieuw bericht via het contactformulier op ordevos.nl

Naam: Marloes Verbeek
E-mail: m.verbeek71@gmail.com
Telefoon: 06-41822093
Onderwerp: Klacht over mijn coach
Bericht:
Goedemiddag,

De laatste drie afspraken is hij twee keer niet komen opdagen.

Met vriendelijke groet,
Marloes Verbeek

---
Pagina: https://www.ordevos.nl/contact/
"""

#: The same form without its heading line ("Nieuw bericht via het contactformulier …").
FIELDS_ONLY = CONTACT_FORM_7.split("\n", 2)[2]

GRAVITY_FORMS = """Nieuwe inzending: Intakeformulier Ordevos

Naam
Wesley Tjon

E-mailadres
w.tjon@live.nl

Telefoonnummer


Soort coaching
Burn-out / re-integratie

Wat speelt er?
Sinds maart thuis, de bedrijfsarts raadt coaching aan.

--
Gravity Forms op https://www.ordevos.nl/intake/
"""


def mail(
    sender: str,
    body: str,
    *,
    subject: str = "Nieuw bericht via het contactformulier",
    html: bool = False,
    headers: dict[str, str] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Ordevos website <{sender}>"
    msg["To"] = "info@ordevos.nl"
    msg["Subject"] = subject
    msg["Message-ID"] = "<form-1@forms.example.net>"
    for name, value in (headers or {}).items():
        msg[name] = value
    if html:
        msg.set_content(body, subtype="html")
    else:
        msg.set_content(body)
    return msg.as_bytes()


def test_a_plain_text_form_gives_the_persons_address_name_subject_and_words() -> None:
    fields = read_form(CONTACT_FORM_7)
    assert fields is not None
    assert (fields.address, fields.name, fields.subject) == (
        "m.verbeek71@gmail.com",
        "Marloes Verbeek",
        "Klacht over mijn coach",
    )
    assert fields.message.startswith("Goedemiddag,") and "niet komen opdagen" in fields.message
    assert "Pagina" not in fields.message and "06-41822093" not in fields.message  # footer, contact fields


def test_labels_on_their_own_line_keep_the_other_fields_as_the_persons_words() -> None:
    fields = read_form(GRAVITY_FORMS)
    assert fields is not None
    assert (fields.address, fields.name, fields.subject) == ("w.tjon@live.nl", "Wesley Tjon", "")
    assert "Soort coaching\nBurn-out / re-integratie" in fields.message
    assert "bedrijfsarts" in fields.message and "Gravity" not in fields.message


def test_an_html_table_form_is_read_from_its_rendering() -> None:
    html = (
        "<h2>Nieuw bericht via het contactformulier</h2><table>"
        "<tr><td><b>Naam</b></td><td>Hans Kuipers</td></tr>"
        "<tr><td><b>E-mail</b></td><td>hkuipers@ziggo.nl</td></tr>"
        "<tr><td><b>Onderwerp</b></td><td>Gegevens verwijderen</td></tr>"
        "<tr><td><b>Bericht</b></td><td>Graag al mijn gegevens wissen.</td></tr></table>"
    )
    parsed = read_mail(mail("noreply@ordevos-web.nl", html, html=True), ORG)
    assert (parsed.from_address, parsed.from_name, parsed.subject) == (
        "hkuipers@ziggo.nl",
        "Hans Kuipers",
        "Gegevens verwijderen",
    )
    assert parsed.text == "Graag al mijn gegevens wissen." and parsed.html == ""


def test_a_van_field_with_name_and_address_names_the_person() -> None:
    fields = read_form(
        "Van: Sabine Roelofs <sabine.roelofs@kpnmail.nl>\nTelefoon:\n"
        "Onderwerp: Verwijder alles\n\nBericht:\n.\n"
    )
    assert fields is not None
    assert (fields.address, fields.name, fields.subject) == (
        "sabine.roelofs@kpnmail.nl",
        "Sabine Roelofs",
        "Verwijder alles",
    )


@pytest.mark.parametrize(
    "text",
    [
        # a mail program's header above a quoted mail: no message field, no phone field
        "Dank je!\n\nVan: Ordevos <info@ordevos.nl>\nVerzonden: maandag 2 maart\n"
        "Aan: jan@example.nl\nOnderwerp: Uw vraag\n",
        # a form with neither an address nor a name and number: nobody to answer
        "Telefoon: 0612345678\nBericht:\nBel me terug\n",
        # an address that is not one
        "Naam: Piet\nE-mail: piet at example\nBericht:\nBel me terug\n",
        # an ordinary letter
        "Beste mensen,\n\nIk wil graag een afspraak maken.\n\nGroet, Piet",
    ],
)
def test_what_is_not_a_form_submission_is_not_read_as_one(text: str) -> None:
    assert read_form(text) is None


def test_the_companys_form_becomes_the_persons_mail_without_the_machines_markers() -> None:
    raw = mail(
        "noreply@ordevos-web.nl",
        CONTACT_FORM_7,
        headers={"Auto-Submitted": "auto-generated", "Precedence": "bulk", "Return-Path": "<>"},
    )
    machine = parse_message(raw)
    parsed = read_mail(raw, ORG)
    assert (parsed.from_address, parsed.via_form) == ("m.verbeek71@gmail.com", "noreply@ordevos-web.nl")
    assert parsed.return_path is None and parsed.reply_to is None
    assert "auto-submitted" not in parsed.headers and "precedence" not in parsed.headers
    assert parsed.message_id == machine.message_id  # still the same message for threading and dedupe


@pytest.mark.parametrize(
    ("sender", "subject", "headers", "relays"),
    [
        ("wordpress@ordevos.nl", "Vraag", {}, True),  # our own domain
        ("noreply@mail.ordevos.nl", "Vraag", {}, True),  # a sub-domain of it
        ("intake@ordevos-web.nl", "Vraag", {}, True),  # a domain built on the company's name
        ("submissions@forms.example.net", "Vraag", {}, True),  # configured as a whole domain
        ("noreply@webflow.example", "New form submission", {}, True),  # machine mail naming a form
        ("noreply@webflow.example", "Your weekly report", {}, False),  # machine mail, no form named
        ("jan@example.nl", "Contactformulier", {}, False),  # a person writing about a form
        ("info@ordevos.nl", "Vraag", {}, False),  # the mailbox itself
        ("hoofdkantoor@ordevos.nl", "Vraag", {}, False),  # staff: their forwards are staff mail
        ("noreply@lists.example", "Form digest", {"List-Id": "<x.lists.example>"}, False),  # a list
    ],
)
def test_whose_mail_counts_as_a_form(
    sender: str, subject: str, headers: dict[str, str], relays: bool
) -> None:
    raw = mail(sender, FIELDS_ONLY, subject=subject, headers=headers)
    assert relays_a_form(parse_message(raw), ORG) is relays
    assert (read_mail(raw, ORG).via_form is not None) is relays


@pytest.mark.parametrize("person", ["info@ordevos.nl", "femke@ordevos.nl", "noreply@example.nl"])
def test_a_form_naming_our_own_or_a_machine_address_stays_as_it_came(person: str) -> None:
    """A form that names our own or a machine's address must not make us answer it (loop guard)."""
    raw = mail("noreply@ordevos-web.nl", CONTACT_FORM_7.replace("m.verbeek71@gmail.com", person))
    parsed = read_mail(raw, ORG)
    assert parsed.via_form is None and parsed.from_address == "noreply@ordevos-web.nl"


def test_a_threaded_message_is_never_unwrapped() -> None:
    raw = mail("noreply@ordevos-web.nl", CONTACT_FORM_7, headers={"In-Reply-To": "<ack-1@ordevos.nl>"})
    assert read_mail(raw, ORG).via_form is None


def test_reading_twice_is_reading_once() -> None:
    parsed = read_mail(mail("noreply@ordevos-web.nl", CONTACT_FORM_7), ORG)
    assert as_persons_mail(parsed, ORG) is parsed


@given(st.text(max_size=400))
def test_any_text_is_read_without_error(text: str) -> None:
    fields = read_form(text)
    assert fields is None or "@" in fields.address


@given(
    st.lists(
        st.sampled_from(["Naam: X", "E-mail: a@b.nl", "Bericht:", "---", "", "Onderwerp: y", "tekst"]),
        max_size=30,
    )
)
def test_any_arrangement_of_form_lines_is_read_without_error(lines: list[str]) -> None:
    fields = read_form("\n".join(lines))
    assert fields is None or fields.address == "a@b.nl"


WPFORMS = """--- Naam ---

Thomas Verbeek

--- E-mailadres ---

t.verbeek@example.nl

--- Geboortedatum (ter verificatie) ---

(Leeg)

--- Soort verzoek ---

Inzage in mijn gegevens

--- Toelichting ---

Graag een kopie van alles wat u van mij hebt.

Verzonden vanaf: https://www.ordevos.nl/privacy/verzoek/
"""


def test_wpforms_labels_between_dashes_with_values_below_a_blank_line() -> None:
    fields = read_form(WPFORMS)
    assert fields is not None
    assert (fields.address, fields.name) == ("t.verbeek@example.nl", "Thomas Verbeek")
    assert "Inzage in mijn gegevens" in fields.message and "kopie van alles" in fields.message
    assert "(Leeg)" in fields.message  # an unknown field's value is the person's, kept as written


class _MachineSaying:
    """A text model that reads every text as machine mail."""

    def predict(self, text: str) -> Prediction:
        rest = (1.0 - 0.9) / (len(Category) - 1)
        return Prediction({c: 0.9 if c is Category.AUTOMATED else rest for c in Category})


def test_the_model_never_calls_a_persons_form_machine_mail() -> None:
    """Booking and callback forms read like notifications ("Status: in afwachting van betaling"),
    but a person typed them: the words decide their category, never "automated"."""
    classifier = ModelClassifier(load_ruleset(RULES), ORG, _MachineSaying())
    raw = mail("noreply@ordevos-web.nl", CONTACT_FORM_7.replace("Klacht over mijn coach", "Boeking"))
    assert classifier.content(parse_message(raw)).category is Category.AUTOMATED  # as it came
    result = classifier.content(read_mail(raw, ORG))
    assert result.category is not Category.AUTOMATED and not result.automated


def test_a_call_back_form_is_the_persons_mail_without_an_address() -> None:
    text = "Naam: R. Pranoto\nTelefoonnummer: 0651229087\nWaar gaat het over?: factuur 2x afgeschreven\n"
    fields = read_form(text)
    assert fields is not None and (fields.address, fields.name) == ("", "R. Pranoto")
    parsed = read_mail(mail("wordpress@ordevos.nl", text), ORG)
    assert parsed.via_form == "wordpress@ordevos.nl" and parsed.from_address is None
    assert "2x afgeschreven" in parsed.text


def test_a_choice_left_at_no_is_not_the_persons_words() -> None:
    """An opt-out page's "also delete my details: No" is the form's question, answered no."""
    text = (
        "Afmelding nieuwsbrief\n\nE-mailadres: g.brouwer@example.nl\n\n"
        "Waarom meldt u zich af? Ik ontvang te veel e-mails\n\nToelichting: —\n\n"
        "Verwijder ook mijn contactgegevens uit uw bestand: Nee\n"
    )
    fields = read_form(text)
    assert fields is not None and fields.address == "g.brouwer@example.nl"
    assert "Verwijder" not in fields.message and "—" not in fields.message
    assert "te veel e-mails" in fields.message
    ticked = read_form(text.replace("bestand: Nee", "bestand: Ja"))
    assert ticked is not None and "Verwijder ook mijn contactgegevens uit uw bestand: Ja" in ticked.message


def test_a_persons_own_no_in_the_message_is_kept() -> None:
    text = (
        "Naam: Piet\nE-mail: piet@example.nl\nBericht:\n"
        "Mag mijn werkgever het verslag zien? Nee.\nDat wil ik niet.\n"
    )
    fields = read_form(text)
    assert fields is not None and "Mag mijn werkgever het verslag zien? Nee." in fields.message
