"""Whose mail is it: a form that relays a person's words is read as that person's mail.

Mail from the company's website form arrives from ``noreply@…``, sometimes with
``Auto-Submitted: auto-generated``: by its headers it is machine mail (R-C1, R-C3), kept and never
answered. But the words are a person's, typed into the company's own form, and a complaint sent
that way is owed the same 48 hours as one sent by mail. So before anything decides, such a message
becomes the person's: their address (from the form's e-mail field) is the sender, mailbot finds
or makes their customer record by it, classifies their subject and words, and acknowledges them.

Which senders relay forms is the organisation's to say, and the default is careful:

- an address or ``@domain`` in ``organisation.form_senders`` always counts;
- otherwise a sender counts only when its domain names the company (``ordevos.nl``,
  ``mail.ordevos.nl``, ``ordevos-web.nl``) or when machine mail says it carries a form
  ("Nieuw bericht via het contactformulier", "New form submission");
- the mailbox itself and staff never count (their forwards are staff mail), and the person's
  address must be a person's: not ours, not a machine's.

The machine's own markers (``Auto-Submitted``, ``Precedence``, list headers, the envelope sender)
describe the form's delivery, not the person, so they are dropped; a real bounce or an
out-of-office has no form fields and is untouched. ``via_form`` keeps the form's address.
"""

from __future__ import annotations

import dataclasses
import re

from mailbot.domain.autoreply import (
    MACHINE_MARKER_HEADERS,
    detect_automated,
    is_machine_sender,
    is_own_address,
)
from mailbot.domain.model import Organisation
from mailbot.mail.forms import FormFields, read_form
from mailbot.mail.parse import ParsedMail, parse_message

#: Words by which a form's mail names itself, in its subject or its first lines.
_NAMES_A_FORM = re.compile(
    r"formulier|\bform\b|formular|formulaire|submission|inzending|webform", re.IGNORECASE
)


def _configured(sender: str, org: Organisation) -> bool:
    domain = sender.rpartition("@")[2]
    return sender in org.form_senders or f"@{domain}" in org.form_senders


def _names_the_company(sender: str, org: Organisation) -> bool:
    """The sender's domain is the company's, a sub-domain of it, or a domain built on its name."""
    domain = sender.rpartition("@")[2]
    own = org.domain.lower()
    if domain == own or domain.endswith("." + own):
        return True
    label = own.split(".", 1)[0]
    return len(label) >= 4 and label in re.split(r"[.-]", domain)


def _says_it_is_a_form(parsed: ParsedMail) -> bool:
    head = "\n".join(parsed.text.lstrip().splitlines()[:3])
    return bool(_NAMES_A_FORM.search(parsed.subject) or _NAMES_A_FORM.search(head))


def relays_a_form(parsed: ParsedMail, org: Organisation) -> bool:
    """Whether ``parsed``'s sender is one whose form mail is read as the person's (see above)."""
    sender = (parsed.from_address or "").lower()
    if not sender or sender in org.own_addresses or sender in org.staff:
        return False
    if _configured(sender, org) or _names_the_company(sender, org):
        return True
    if any(name.startswith("list-") for name in parsed.headers):
        return False  # a mailing list's digest quotes members' signatures, not a form
    return detect_automated(parsed).automated and _says_it_is_a_form(parsed)


def _persons(fields: FormFields, org: Organisation) -> bool:
    if not fields.address:
        return True  # a call-back form: no address, so nothing is sent (decide: "no-sender")
    return not is_own_address(org, fields.address) and not is_machine_sender(fields.address)


def as_persons_mail(parsed: ParsedMail, org: Organisation) -> ParsedMail:
    """``parsed`` as the person's mail when a form relayed it, else ``parsed`` unchanged."""
    if parsed.via_form is not None or parsed.in_reply_to or not relays_a_form(parsed, org):
        return parsed
    fields = read_form(parsed.text, html_rendering=bool(parsed.html))
    if fields is None or not _persons(fields, org):
        return parsed
    machine = MACHINE_MARKER_HEADERS
    headers = {k: v for k, v in parsed.headers.items() if k not in machine and not k.startswith("list-")}
    return dataclasses.replace(
        parsed,
        from_address=fields.address or None,
        from_name=fields.name,
        reply_to=None,
        subject=fields.subject or parsed.subject,
        text=fields.message,
        html="",
        headers=headers,
        return_path=None,
        via_form=parsed.from_address,
    )


def read_mail(raw: bytes, org: Organisation) -> ParsedMail:
    """Raw bytes → the mail mailbot reasons about: parsed, and a form's mail as the person's.

    Every reader calls this one function — intake (to find the customer), processing, ``mailbot
    classify``, model training and evaluation — so all of them see the same sender and words.
    """
    return as_persons_mail(parse_message(raw), org)
