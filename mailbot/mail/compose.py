"""Structured values → a safe outgoing ``EmailMessage``.

Every header is built from a typed value (an ``Address``, a ``datetime``, a checked Message-ID), never
by pasting strings, so that nothing a customer writes can become a header of its own (R-C12).

The Python on these machines (3.11.7) predates the standard library's fix for CVE-2024-6923: a
subject such as ``=?utf-8?q?a=0D=0ABcc:_x@y?=`` is *decoded* by the header parser when it is set and
then written out with a raw CR LF, which adds a ``Bcc`` header. So this module does its own checks
and does not trust the library to refuse:

* :func:`clean_header_text` turns customer text into one harmless line (it decodes encoded-words the
  way a mail client would show them, folds control characters to spaces, and breaks any
  encoded-word syntax that is left);
* :func:`build_message` refuses (:class:`HeaderValueError`) CR, LF, NUL and other control
  characters in every header value, encoded-word syntax in values that would be reinterpreted,
  and addresses that do not parse strictly (R-C13), and then writes the header lines itself
  (``mailbot.mail.headers``): printable ASCII folded at spaces, or base64 encoded-words, so no
  value can become a line of its own. The library's header objects are not used for our headers
  at all: they re-parse every value (most of an outgoing mail's cost) and are what the CVE is in.
"""

from __future__ import annotations

import email.policy
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import format_datetime

from mailbot.mail import headers
from mailbot.mail.body import text_body

__all__ = [
    "AUTO_GENERATED",
    "AUTO_REPLIED",
    "MAX_REFERENCES",
    "HeaderValueError",
    "OutgoingMail",
    "build_message",
    "clean_header_text",
    "is_answerable",
    "make_message_id",
    "subject_with_ref",
    "thread_headers",
]

#: RFC 3834 values (R-C7): acknowledgements answer a message, digests/reminders/escalations do not.
AUTO_REPLIED = "auto-replied"
AUTO_GENERATED = "auto-generated"
_AUTO_SUBMITTED_VALUES = frozenset({AUTO_REPLIED, AUTO_GENERATED})

#: How many References to keep: the thread root plus the most recent ones (RFC 5322 §3.6.4 lets
#: a writer trim; an unbounded list lets a hostile thread grow our headers without limit).
MAX_REFERENCES = 20

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_FORBIDDEN_IN_HEADER = re.compile(r"[\r\n\x00]")
_WHITESPACE = re.compile(r"\s+")
_ENCODED_WORD_START = "=?"
_ENCODED_WORD = re.compile(r"=\?.*\?=", re.DOTALL)
_ENCODED_WORD_TOKEN = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
# dot-atom local part (RFC 5322 §3.2.3) and LDH domain labels: strict on purpose (R-C13).
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")
_MSG_ID = re.compile(r"<[!-;=?A-~]{1,250}@[!-;=?A-Z^-~]{1,250}>")  # ASCII printable, no <, >, [ ] in domain
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_TICKET_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,39}")


class HeaderValueError(ValueError):
    """A header value we were asked to set is unsafe or malformed (CR, LF, NUL, bad address; R-C12)."""


def _refuse_unsafe(name: str, value: str) -> str:
    """Refuse CR/LF/NUL and other control characters: they are how one header becomes two."""
    if _FORBIDDEN_IN_HEADER.search(value) or _CONTROL.search(value):
        raise HeaderValueError(f"{name}: control character (CR, LF, NUL, ...) in header value")
    return value


def _decode_one(match: re.Match[str]) -> str:
    try:
        return str(make_header(decode_header(match.group(0))))
    except (LookupError, ValueError, UnicodeError):
        return match.group(0)


def _decode_encoded_words(value: str) -> str:
    """Show encoded-words as a mail client would, so they cannot smuggle CR/LF past us later."""
    for _ in range(3):  # nested encodings: decode a few rounds, then break what is left
        decoded = _ENCODED_WORD_TOKEN.sub(_decode_one, value)
        if decoded == value:
            break
        value = decoded
    return value


def clean_header_text(value: str, max_len: int = 200) -> str:
    """Make customer-provided text (a subject) safe to put into one header line.

    Encoded-words are decoded first (a subject that *looks* encoded would otherwise be decoded
    by the library into CR LF), control characters become spaces, whitespace collapses, and any
    encoded-word syntax that survives is broken with a space so that no reader decodes it. The
    result is plain Unicode: the email library encodes it on output (R-C11).
    """
    text = _decode_encoded_words(value)
    text = _CONTROL.sub(" ", text)
    text = _WHITESPACE.sub(" ", text).strip()
    if _ENCODED_WORD.search(text):
        text = text.replace(_ENCODED_WORD_START, "= ?")
    if len(text) > max_len:
        text = text[: max_len - 1].rstrip() + "…"
    return text


def _check_domain(domain: str) -> str:
    if not _DOMAIN.fullmatch(domain) or "." not in domain:
        raise HeaderValueError("not a fully qualified domain name")
    return domain.lower()


def make_message_id(domain: str) -> str:
    """A globally unique Message-ID on our own domain, so replies can be matched to a ticket (R-C9)."""
    return f"<{uuid.uuid4().hex}@{_check_domain(domain)}>"


def _valid_msg_id(value: str) -> bool:
    return bool(_MSG_ID.fullmatch(value))


def thread_headers(
    parent_message_id: str | None,
    parent_references: Sequence[str],
    parent_in_reply_to: Sequence[str],
) -> tuple[str | None, tuple[str, ...]]:
    """In-Reply-To and References for an answer to a parent message (R-C10, RFC 5322 §3.6.4).

    In-Reply-To is the parent's Message-ID; References is the parent's References (else its
    In-Reply-To) followed by the parent's Message-ID. The parent's ids are sender-controlled text,
    so anything that is not a well-formed ``<id@domain>`` is dropped, duplicates are removed and the
    list is trimmed to the thread root plus the newest ids.
    """
    parent = parent_message_id.strip() if parent_message_id else None
    if parent is not None and not _valid_msg_id(parent):
        parent = None
    inherited = [r.strip() for r in parent_references] or [r.strip() for r in parent_in_reply_to]
    chain: dict[str, None] = {}
    for ref in inherited:
        if _valid_msg_id(ref) and ref != parent:
            chain[ref] = None
    refs = list(chain)
    if parent is not None:
        refs.append(parent)
    if len(refs) > MAX_REFERENCES:
        refs = [refs[0], *refs[-(MAX_REFERENCES - 1) :]]
    return parent, tuple(refs)


def subject_with_ref(ref: str, subject: str) -> str:
    """``[ORD-2026-00042] subject``: the token inbound threading looks for (R-C10), never twice."""
    _refuse_unsafe("ticket ref", ref)
    if not _TICKET_REF.fullmatch(ref):
        raise HeaderValueError("malformed ticket reference")
    cleaned = clean_header_text(subject)
    token = f"[{ref}]"
    if token.lower() in cleaned.lower():
        return cleaned
    return f"{token} {cleaned}".rstrip()


@dataclass(frozen=True)
class OutgoingMail:
    """Everything an outgoing message is made of, as structured values.

    ``to`` holds bare addresses (the customer's verified From address, R-C8): no display names,
    because a customer's name is exactly the text an attacker controls. ``language`` is a
    Content-Language value, one tag or a comma-separated list ("nl, en").
    """

    from_address: str
    from_name: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None
    message_id: str
    date: datetime
    language: str
    auto_submitted: str | None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    reply_to: str | None = None
    ticket_ref: str | None = None
    #: (file name, MIME type, content): the access export attached to its letter.
    attachments: tuple[tuple[str, str, bytes], ...] = ()


def is_answerable(addr_spec: str) -> bool:
    """Whether :func:`build_message` would accept ``addr_spec`` as a recipient (a dotless domain
    such as ``jan@localhost`` is readable but cannot be answered): the decision skips the
    acknowledgement instead of failing the whole message on it."""
    try:
        _address("To", addr_spec)
    except HeaderValueError:
        return False
    return True


def _address(field: str, addr_spec: str, display_name: str = "") -> tuple[str, str]:
    """(display name, addr-spec) from strictly checked parts (R-C13): a lenient parse may pick
    another address, so nothing is parsed here at all — the parts must already be exact."""
    _refuse_unsafe(field, addr_spec)
    _refuse_unsafe(field, display_name)
    if _ENCODED_WORD_START in display_name:
        raise HeaderValueError(f"{field}: encoded-word syntax in display name")
    if addr_spec.count("@") != 1:
        raise HeaderValueError(f"{field}: not a single addr-spec")
    local, domain = addr_spec.split("@")
    if len(local) > 64 or not _LOCAL_PART.fullmatch(local):
        raise HeaderValueError(f"{field}: malformed local part")
    _check_domain(domain)
    if display_name != " ".join(display_name.split()):
        raise HeaderValueError(f"{field}: display name with leading, trailing or repeated spaces")
    if display_name and not display_name.isascii() and len(display_name.encode("utf-8")) > 45:
        raise HeaderValueError(f"{field}: non-ASCII display name over 45 bytes (one encoded-word)")
    return display_name, addr_spec


def _checked(mail: OutgoingMail) -> list[str]:
    """Every header value validated, then written as lines (``mail.headers``); raises
    :class:`HeaderValueError` for the first unsafe or malformed one."""
    if mail.date.tzinfo is None or mail.date.utcoffset() is None:
        raise ValueError("date must be timezone-aware")
    if not mail.to:
        raise HeaderValueError("To: at least one recipient")
    if mail.auto_submitted is not None and mail.auto_submitted not in _AUTO_SUBMITTED_VALUES:
        raise HeaderValueError("Auto-Submitted: unknown value")
    if not _valid_msg_id(mail.message_id):
        raise HeaderValueError("Message-ID: malformed")
    if mail.in_reply_to is not None and not _valid_msg_id(mail.in_reply_to):
        raise HeaderValueError("In-Reply-To: malformed")
    if any(not _valid_msg_id(ref) for ref in mail.references):
        raise HeaderValueError("References: malformed")
    tags = [tag.strip() for tag in mail.language.split(",")]
    if not all(_LANGUAGE_TAG.fullmatch(tag) for tag in tags):
        raise HeaderValueError("Content-Language: malformed")
    if mail.ticket_ref is not None and not _TICKET_REF.fullmatch(mail.ticket_ref):
        raise HeaderValueError("X-Mailbot-Ticket: malformed")
    _refuse_unsafe("Subject", mail.subject)
    if _ENCODED_WORD.search(mail.subject):
        raise HeaderValueError("Subject: encoded-word syntax (use clean_header_text)")
    for filename, _type, _content in mail.attachments:
        _refuse_unsafe("attachment filename", filename)

    lines = [
        headers.address_header("From", [_address("From", mail.from_address, mail.from_name)]),
        headers.address_header("To", [_address("To", addr) for addr in mail.to]),
    ]
    if mail.reply_to is not None:
        lines.append(headers.address_header("Reply-To", [_address("Reply-To", mail.reply_to)]))
    lines += [
        headers.unstructured_header("Subject", mail.subject),
        headers.header_line("Date", format_datetime(mail.date)),
        headers.header_line("Message-ID", mail.message_id),
    ]
    if mail.in_reply_to is not None:
        lines.append(headers.header_line("In-Reply-To", mail.in_reply_to))
    if mail.references:
        lines.append(headers.id_list_header("References", mail.references))
    if mail.auto_submitted is not None:
        lines.append(headers.header_line("Auto-Submitted", mail.auto_submitted))
        lines.append(headers.header_line("X-Auto-Response-Suppress", "All"))
    if mail.ticket_ref is not None:
        lines.append(headers.header_line("X-Mailbot-Ticket", mail.ticket_ref))
    lines.append(headers.header_line("Content-Language", ", ".join(tags)))
    return lines


def _body(mail: OutgoingMail) -> bytes:
    """The MIME body with its Content-* and MIME-Version lines: written directly for text (and
    HTML), from the library with attachments (names refused for CR/LF)."""
    if not mail.attachments:
        return text_body(mail.text, mail.html)
    body = EmailMessage(policy=email.policy.SMTP)
    body.set_content(mail.text, charset="utf-8")
    if mail.html is not None:
        body.add_alternative(mail.html, subtype="html", charset="utf-8")
    for filename, content_type, content in mail.attachments:
        maintype, _, subtype = content_type.partition("/")
        body.add_attachment(content, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
    return body.as_bytes(policy=email.policy.SMTP)


def build_message(mail: OutgoingMail) -> bytes:
    """The message as bytes for SMTP (CRLF line ends), built once; raises
    :class:`HeaderValueError` for any unsafe or malformed value.

    Safe by construction (``mailbot.mail.headers``): each value is checked here and written as
    printable ASCII or base64 encoded-words, so nothing a customer wrote can end a header line;
    ``tests/unit/test_compose_hostile.py`` proves it over generated hostile values. Automatic mail
    (``auto_submitted`` set) also gets ``X-Auto-Response-Suppress: All`` so other responders stay
    quiet (R-C7); a human staff reply gets neither header.
    """
    head = "\r\n".join(_checked(mail)).encode("ascii")
    if b"\x00" in head or any(len(line) > 998 for line in head.split(b"\r\n")):
        raise HeaderValueError("header block: NUL or over-long line")  # cannot happen; cheap to know
    return head + b"\r\n" + _body(mail)
