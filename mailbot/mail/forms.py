"""A web form's mail → the person who filled it in: their address, name, subject and words.

A website's contact form, an intake form or a booking tool sends its submissions from a machine
address (``noreply@…``), often marked ``Auto-Submitted``; the person's own words sit in fields
("Naam:", "E-mail:", "Onderwerp:", "Bericht:"). Read as it arrives, such mail is machine mail and
is never answered (R-C1, R-C3) — a complaint sent through the company's own website would lose its
48-hour promise. This module only reads the layout; whether a sender's mail may be read this way
is the organisation's decision (:mod:`mailbot.domain.forms`).

Fields are lines ``Label: value`` (plain-text renderings of Contact Form 7, Gravity Forms, WPForms
and the like) or, for HTML-only mail, ``Label value`` rows of a two-column table, which is what
the HTML renderer makes of ``<tr><td>Label</td><td>value</td></tr>``. Only known labels count.
The message field runs to the next known label or to a separator line (``--``, ``---``), where
form plugins put their footers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailbot.mail.addresses import strict_addresses

_NAME = ("naam", "name", "uw naam", "your name", "full name", "volledige naam", "voor- en achternaam",
         "contactpersoon", "nom", "vor- und nachname")  # fmt: skip
_FIRST = ("voornaam", "first name", "vorname", "prénom")
_LAST = ("achternaam", "last name", "surname", "nachname", "nom de famille")
_EMAIL = ("e-mail", "email", "e-mailadres", "emailadres", "e-mail adres", "uw e-mail", "uw e-mailadres",
          "your email", "your e-mail", "email address", "e-mail address", "e-mail-adresse",
          "adresse e-mail", "mail", "mailadres")  # fmt: skip
_PHONE = ("telefoon", "telefoonnummer", "tel", "tel.", "phone", "phone number", "mobiel", "mobiele nummer",
          "telefon", "téléphone")  # fmt: skip
_SUBJECT = ("onderwerp", "subject", "betreft", "topic", "regarding", "betreff", "objet", "uw onderwerp")
_MESSAGE = ("bericht", "message", "uw bericht", "your message", "vraag", "uw vraag", "vraag of opmerking",
            "vraag/opmerking", "opmerking", "opmerkingen", "toelichting", "omschrijving", "comments",
            "comment", "question", "nachricht", "ihre nachricht", "votre message", "uw reactie",
            "reactie")  # fmt: skip
_FROM = ("van", "from", "afzender")  # "Van: Naam <adres>"
_KINDS = {
    **dict.fromkeys(_NAME, "name"),
    **dict.fromkeys(_FIRST, "first"),
    **dict.fromkeys(_LAST, "last"),
    **dict.fromkeys(_EMAIL, "email"),
    **dict.fromkeys(_PHONE, "phone"),
    **dict.fromkeys(_SUBJECT, "subject"),
    **dict.fromkeys(_MESSAGE, "message"),
    **dict.fromkeys(_FROM, "from"),
}
_LABELLED = re.compile(r"^\s*\**\s*([^\W\d_][\w .()/+-]{0,38}?)\s*\**\s*\*?\s*[:：]\s*\**\s*(.*?)\s*$")
_BARE = re.compile(
    r"^\s*("
    + "|".join(sorted((re.escape(k) for k in _KINDS), key=len, reverse=True))
    + r")(?:\s+(.*?))?\s*$",
    re.IGNORECASE,
)
#: WPForms' plain text puts each label between dashes, its value below after a blank line.
_HEADING = re.compile(r"^\s*-{2,}\s*([^\W\d_].{0,40}?)\s*-{2,}\s*$")
#: What form plugins print for a field left empty.
_EMPTY = frozenset({"(leeg)", "(empty)", "(niet ingevuld)", "-", "—", "–", "n/a", "(none)"})
#: A choice left at "no": its label is the form's question, not the person's words ("Verwijder
#: ook mijn contactgegevens uit uw bestand: Nee" asks for nothing). A "yes" keeps its line.
_DECLINED = _EMPTY | {"nee", "no", "nein", "non", "false", "uit", "off", "niet aangevinkt", "unchecked"}
#: …also when the question is too long to be read as a label ("Label: Nee" at the end of a line).
#: A colon, not a question mark: "Mag mijn werkgever het verslag zien? Nee." is a person's answer.
_DECLINED_LINE = re.compile(r"^[^:?]{3,120}:\s*(?:nee|no|nein|non)\s*$", re.IGNORECASE)
_SEPARATOR = re.compile(r"^\s*(?:-{2,}|_{3,}|={3,})\s*$")
_OPTIONAL = re.compile(r"\s*\((?:optioneel|optional|verplicht|required)\)\s*$", re.IGNORECASE)
#: A form's first field comes within its first lines, under a heading at most; a letter that
#: names "Telefoon:" in its signature far down is not a form.
_FIELD_LIMIT = 40


@dataclass(frozen=True)
class FormFields:
    """What a person typed into a form: ``message`` is their words, other fields included.

    ``address`` is empty for a call-back form (a name and a phone number, no e-mail field): the
    person is owed an answer by phone, and there is no address to acknowledge.
    """

    address: str
    name: str
    subject: str
    message: str


def _field(line: str, bare: bool) -> tuple[str, str] | None:
    """``(kind, value)`` of a field line; kind ``other`` for an unknown label with a colon.

    A known label alone on its line is a field whose value is on the next line; a known label
    followed by its value without a colon counts only in ``bare`` (HTML table) text.
    """
    found = _HEADING.match(line)
    if found:
        return _KINDS.get(_OPTIONAL.sub("", found.group(1)).strip().lower(), "other"), ""
    found = _LABELLED.match(line)
    if found:
        label = _OPTIONAL.sub("", found.group(1)).strip()
        return _KINDS.get(label.lower(), "other"), found.group(2)
    found = _BARE.match(line)
    if found and (bare or not found.group(2)):
        return _KINDS[found.group(1).lower()], found.group(2) or ""
    return None


def _address(value: str) -> tuple[str, str] | None:
    """``(address, name)`` from a field value: ``a@b``, ``Name <a@b>``, or ``mailto:`` text."""
    value = value.strip().removeprefix("mailto:").strip()
    if "@" not in value:
        return None
    found = strict_addresses([value])
    if len(found) != 1:
        return None
    name, address = found[0]
    return address.lower(), name


_CONTACT = frozenset({"name", "first", "last", "email", "phone", "from", "subject"})


def read_form(text: str, *, html_rendering: bool = False) -> FormFields | None:
    """The fields of a form submission in ``text``, or None when the text is not one.

    A form has an address field and a message or phone field within its first lines. The
    person's words are everything from the first field to the footer, less the contact fields:
    the message, and whatever else they chose or typed (a dropdown, "Wat speelt er?").
    ``html_rendering``: the text was rendered from HTML, where a table row loses its colon and a
    label may stand on its own line above its value.
    """
    lines = text.splitlines()
    values: dict[str, str] = {}
    words: list[str] = []
    message = False  # a message label was seen
    started = False
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not started and index > _FIELD_LIMIT:
            return None
        if _SEPARATOR.match(line):
            if started:
                break  # a form's footer follows
            continue
        field = _field(line, html_rendering)
        if field is None or (field[0] == "other" and not started):
            if started and not _DECLINED_LINE.match(line):
                words.append(line)
            continue  # above the first known field: the form's heading ("Nieuwe inzending: …")
        started = True
        kind, value = field
        if kind not in _CONTACT:
            message = message or kind == "message"
            if value.strip().lower() not in _DECLINED:
                words.append(value if kind == "message" else line)
            continue
        if not value and _HEADING.match(line):
            while index < len(lines) and not lines[index].strip():
                index += 1  # "--- E-mailadres ---", a blank line, then the value
        below = lines[index] if index < len(lines) else ""
        if not value and below.strip() and _field(below, html_rendering) is None:
            value = below.strip()  # "E-mailadres" on a line of its own (Gravity Forms), its value below
            index += 1
        if value.strip().lower() in _EMPTY:
            value = ""
        values.setdefault(kind, value)
    if not message and "phone" not in values:
        return None  # "Van/Aan/Onderwerp" above a quoted mail: a mail program's header, not a form
    person = _address(values.get("email", "")) or _address(values.get("from", ""))
    if person is None and not (values.get("phone", "").strip() and values.get("name", "").strip()):
        return None  # neither an address nor a name and number to call back: nobody to answer
    person = person or ("", "")
    name = values.get("name", "").strip() or person[1].strip()
    if not name:
        name = " ".join(p for p in (values.get("first", ""), values.get("last", "")) if p).strip()
    return FormFields(
        address=person[0],
        name=name,
        subject=values.get("subject", "").strip(),
        message="\n".join(words).strip(),
    )
