"""Raw bytes → ParsedMail, a plain value the rest of mailbot can reason about.

mail-parser (over the stdlib ``email`` package) does the MIME walking and charset decoding; the
stdlib does what must be strict: addresses are parsed with ``strict=True`` (R-C13, CVE-2023-27043)
and headers are RFC 2047-decoded before anyone classifies them (R-C11). Parsing never raises for
bad mail: whatever can be read is returned and the problems are listed in ``defects``; only input
that is not mail at all raises :class:`UnparseableMail`, which the pipeline quarantines.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.header import decode_header, make_header
from email.headerregistry import HeaderRegistry
from email.message import Message

import mailparser

from mailbot.mail.html import html_to_text

# mail-parser logs one line per MIME part type it does not render; that is noise, not news.
logging.getLogger("mailparser").setLevel(logging.CRITICAL)

_HEADER_FACTORY = HeaderRegistry()
_MSGID = re.compile(r"<[^<>\s]+>")


class UnparseableMail(ValueError):
    """The bytes are not an e-mail message we can read at all."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class ParsedMail:
    """Everything mailbot needs from one message, decoded.

    ``headers`` keeps every header (lower-case name → decoded values, in order) so that the
    automated-mail rules (R-C1…R-C6) can look at whatever they need.
    """

    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    from_address: str | None
    from_name: str
    reply_to: str | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    date: datetime | None
    text: str
    html: str
    attachments: tuple[Attachment, ...]
    headers: dict[str, tuple[str, ...]]
    content_type: str
    report_type: str | None
    return_path: str | None
    defects: tuple[str, ...] = field(default=())

    def header(self, name: str) -> str | None:
        """First value of a header (case-insensitive), or None."""
        values = self.headers.get(name.lower())
        return values[0] if values else None

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """Message-IDs this message says it answers: In-Reply-To first, then References newest first."""
        seen: dict[str, None] = {}
        for mid in (*self.in_reply_to, *reversed(self.references)):
            seen.setdefault(mid, None)
        return tuple(seen)


def decode_header_value(value: str | None) -> str:
    """RFC 2047-decode a header value; tolerate broken encoded-words and raw 8-bit (RFC 6532)."""
    if value is None:
        return ""
    value = str(value)
    if "=?" not in value:
        return _unfold(value)
    try:
        return _unfold(str(make_header(decode_header(value))))
    except (UnicodeError, LookupError, ValueError, email.errors.HeaderParseError):
        return _unfold(value)


def _unfold(value: str) -> str:
    return re.sub(r"\s*[\r\n]+\s*", " ", value).strip()


def strict_addresses(values: list[str]) -> list[tuple[str, str]]:
    """Parse address headers strictly (R-C13): a malformed header yields no address, not a guess.

    Python 3.11.7 predates ``getaddresses(strict=True)`` (CVE-2023-27043), so the RFC 5322 parser of
    ``email.headerregistry`` is used instead, and any parse defect rejects the whole header.
    """
    out: list[tuple[str, str]] = []
    for value in values:
        value = _unfold(str(value))
        if not value:
            continue
        try:
            header = _HEADER_FACTORY("to", value)
        except Exception:  # the header parser raises on some pathological input
            return []
        if header.defects:
            return []
        for address in header.addresses:
            if not address.username or not address.domain or "@" in address.domain:
                return []
            out.append((address.display_name, address.addr_spec))
    return out


def _message_ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(_MSGID.findall(str(value)))


def _headers(msg: Message) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for name, value in msg.raw_items() if hasattr(msg, "raw_items") else msg.items():
        out.setdefault(name.lower(), []).append(decode_header_value(str(value)))
    return {k: tuple(v) for k, v in out.items()}


def _raw_header(msg: Message, name: str) -> list[str]:
    return [str(v) for v in (msg.get_all(name) or [])]


def _single_address(msg: Message, name: str) -> tuple[str | None, str]:
    pairs = strict_addresses(_raw_header(msg, name))
    if len(pairs) != 1:
        return None, ""
    display, addr = pairs[0]
    return addr, display


def _date(msg: Message) -> datetime | None:
    value = msg.get("Date")
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None


def _return_path(msg: Message) -> str | None:
    value = msg.get("Return-Path")
    if value is None:
        return None
    value = str(value).strip()
    match = re.search(r"<([^<>]*)>", value)
    return match.group(1).strip() if match else value


def _attachments(parsed: mailparser.MailParser) -> tuple[Attachment, ...]:
    out = []
    for att in parsed.attachments or ():
        payload = att.get("payload") or ""
        if att.get("binary"):
            import base64

            try:
                content = base64.b64decode(payload)
            except ValueError:
                content = payload.encode("utf-8", "surrogateescape")
        else:
            content = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else payload
        out.append(
            Attachment(
                filename=decode_header_value(att.get("filename") or "attachment"),
                content_type=str(att.get("mail_content_type") or "application/octet-stream"),
                content=content,
            )
        )
    return tuple(out)


def _stdlib_text(msg: Message) -> tuple[str, str]:
    """Fallback body extraction when mail-parser gives up on broken MIME."""
    text_parts: list[str] = []
    html_parts: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/html"):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            text = payload.decode(charset, "replace")
        except LookupError:
            text = payload.decode("utf-8", "replace")
        (text_parts if ctype == "text/plain" else html_parts).append(text)
    return "\n".join(text_parts), "\n".join(html_parts)


def _trim_leading_noise(raw: bytes) -> bytes:
    """Drop a UTF-8 BOM and blank lines before the first header: some exporters add them."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return raw.lstrip(b" \t\r\n") if raw[:1] in (b"\r", b"\n", b" ", b"\t") else raw


def parse_message(raw: bytes) -> ParsedMail:
    """Parse one message. Raises UnparseableMail only for input that has no headers at all."""
    if not isinstance(raw, bytes | bytearray):
        raise UnparseableMail("raw message must be bytes")
    if not raw.strip():
        raise UnparseableMail("empty message")
    raw = _trim_leading_noise(bytes(raw))
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    if not msg.keys():
        raise UnparseableMail("no headers found")
    defects = [type(d).__name__ for d in msg.defects]

    text, html, attachments = "", "", ()
    try:
        parsed = mailparser.parse_from_bytes(raw)
        text = "\n".join(parsed.text_plain or [])
        html = "\n".join(parsed.text_html or [])
        attachments = _attachments(parsed)
    except Exception as exc:  # mail-parser raises assorted errors on broken MIME; keep going
        defects.append(f"mailparser:{type(exc).__name__}")
        text, html = _stdlib_text(msg)
    if not text.strip() and html.strip():
        text = html_to_text(html)

    from_address, from_name = _single_address(msg, "From")
    if from_address is None and msg.get("From"):
        defects.append("StrictFromParseFailed")
    reply_to, _ = _single_address(msg, "Reply-To")
    report_type = msg.get_param("report-type") if msg.get_content_type() == "multipart/report" else None

    return ParsedMail(
        message_id=(_message_ids(msg.get("Message-ID")) or (None,))[0],
        in_reply_to=_message_ids(msg.get("In-Reply-To")),
        references=_message_ids(" ".join(_raw_header(msg, "References"))),
        from_address=from_address,
        from_name=from_name,
        reply_to=reply_to,
        to=tuple(a for _, a in strict_addresses(_raw_header(msg, "To"))),
        cc=tuple(a for _, a in strict_addresses(_raw_header(msg, "Cc"))),
        subject=decode_header_value(msg.get("Subject")),
        date=_date(msg),
        text=text,
        html=html,
        attachments=attachments,
        headers=_headers(msg),
        content_type=msg.get_content_type(),
        report_type=str(report_type).lower() if isinstance(report_type, str) else None,
        return_path=_return_path(msg),
        defects=tuple(defects),
    )
