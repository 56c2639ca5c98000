"""Raw bytes → ParsedMail, a plain value the rest of mailbot can reason about.

Strict address reading lives in :mod:`mailbot.mail.addresses`, payload decoding in
:mod:`mailbot.mail.payload`; this module walks the MIME tree and decodes the headers.

The stdlib ``email`` package (compat32 policy) provides the MIME tree, built by
:mod:`mailbot.mail.mime` (the same tree, faster; the stdlib parser itself for irregular mail), and
this module decodes what rules read: headers are RFC 2047-decoded before anyone classifies them
(R-C11), every part's charset is honoured (unknown or lying charsets fall back to UTF-8, then
windows-1252), and addresses are parsed strictly (R-C13, CVE-2023-27043). mail-parser, a wrapper
over the same stdlib parser, was measured at 899 messages/s on the labelled corpus; classification
must run at 2,000/s on one core, so the stdlib tree is read directly.

Parsing never raises for bad mail: whatever can be read is returned and the problems are listed
in ``defects``; only input that is not mail at all raises :class:`UnparseableMail`, which the
pipeline quarantines.
"""

from __future__ import annotations

import contextlib
import email
import email.errors
import email.utils
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.header import decode_header, make_header
from email.message import Message
from functools import partial

from mailbot.mail import mime
from mailbot.mail.addresses import strict_addresses, unfold
from mailbot.mail.dsn import bounced_message_ids
from mailbot.mail.html import html_to_text
from mailbot.mail.payload import decode_payload, payload_bytes

_MSGID = re.compile(r"<[^<>\s]+>")


class UnparseableMail(ValueError):
    """The bytes are not an e-mail message we can read at all."""


class Attachment:
    """A file carried by a message. Its content is decoded on first use, from its MIME part.

    Classification reads only names and types; decoding every attachment up front (and
    re-serialising every embedded message) was a fifth of the cost of classifying mail. The
    pipeline, which stores attachments, reads ``content`` and pays for it then.
    """

    __slots__ = ("_content", "_load", "content_type", "filename")

    def __init__(
        self,
        filename: str,
        content_type: str,
        content: bytes | None = None,
        *,
        load: Callable[[], bytes] | None = None,
    ) -> None:
        if (content is None) == (load is None):
            raise TypeError("Attachment needs exactly one of content and load")
        self.filename = filename
        self.content_type = content_type
        self._content = content
        self._load = load

    @property
    def content(self) -> bytes:
        if self._content is None:
            assert self._load is not None
            self._content = self._load()
            self._load = None  # the MIME part can go
        return self._content

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Attachment):
            return NotImplemented
        return (self.filename, self.content_type, self.content) == (
            other.filename,
            other.content_type,
            other.content,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable cache, compared by value

    def __repr__(self) -> str:
        return f"Attachment({self.filename!r}, {self.content_type!r})"


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
    headers: Mapping[str, tuple[str, ...]]
    content_type: str
    report_type: str | None
    return_path: str | None
    defects: tuple[str, ...] = field(default=())
    #: For a delivery report: the Message-IDs of the messages it returns (R-C6), else empty.
    bounced_ids: tuple[str, ...] = field(default=())
    #: For a form's mail read as the person's (:mod:`mailbot.domain.forms`): the form's sender.
    via_form: str | None = None

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


_HEADER_LIMIT = 4000  # characters of one header value we decode; longer ones are abuse or torture tests


def decode_header_value(value: str | None) -> str:
    """RFC 2047-decode a header value; tolerate broken encoded-words and raw 8-bit (RFC 6532)."""
    if value is None:
        return ""
    value = str(value)[:_HEADER_LIMIT]
    if "=?" in value:
        with contextlib.suppress(
            UnicodeError, LookupError, ValueError, AssertionError, email.errors.MessageError
        ):
            value = str(make_header(decode_header(value)))
    if _CONTROLS.search(value):
        value = _CONTROLS.sub(" ", value)
    return unfold(value)


#: NUL and the other C0 controls (tab aside) have no place in a header value; kept, they would
#: be stored, shown to staff and refused when composing the reply's headers (issue 13).
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _message_ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(_MSGID.findall(str(value)))


def _raw_text(value: str) -> str:
    """A raw header value as text: 8-bit bytes (RFC 6532) read as UTF-8, else windows-1252."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        raw = value.encode("ascii", "surrogateescape")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("cp1252", "replace")


_RawHeaders = dict[str, list[str]]


class DecodedHeaders(Mapping[str, tuple[str, ...]]):
    """``ParsedMail.headers``: lower-case name → RFC 2047-decoded values, decoded on first read.

    The rules read a handful of a message's headers; Received, DKIM and ARC fields, folded over
    many lines, are most of the rest and are never read. Decoding all of them cost about a tenth
    of classifying a message.
    """

    __slots__ = ("_decoded", "_raw")

    def __init__(self, raw: _RawHeaders) -> None:
        self._raw = raw
        self._decoded: dict[str, tuple[str, ...]] = {}

    def __getitem__(self, name: str) -> tuple[str, ...]:
        values = self._decoded.get(name)
        if values is None:
            values = self._decoded[name] = tuple(map(decode_header_value, self._raw[name]))
        return values

    def __contains__(self, name: object) -> bool:
        return name in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:
        return repr(dict(self))


def _read_headers(msg: Message) -> _RawHeaders:
    """Lower-case name → raw values as text, in order.

    raw_items(), not get(): compat32 would wrap 8-bit values in a Header that reads them as
    unknown-8bit; the raw text is decoded here as UTF-8, else windows-1252 (RFC 6532).
    """
    raw: _RawHeaders = {}
    for name, value in msg.raw_items():
        text = value if value.isascii() else _raw_text(value)
        key = name.lower()
        values = raw.get(key)
        if values is None:
            raw[key] = [text]
        else:
            values.append(text)
    return raw


def _first(raw: _RawHeaders, name: str) -> str | None:
    values = raw.get(name)
    return values[0] if values else None


def _single_address(raw: _RawHeaders, name: str) -> tuple[str | None, str]:
    pairs = strict_addresses(raw.get(name, []))
    if len(pairs) != 1:
        return None, ""
    display, addr = pairs[0]
    return addr, decode_header_value(display)


def _date(raw: _RawHeaders) -> datetime | None:
    value = _first(raw, "date")
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _return_path(raw: _RawHeaders) -> str | None:
    value = _first(raw, "return-path")
    if value is None:
        return None
    value = str(value).strip()
    match = re.search(r"<([^<>]*)>", value)
    return match.group(1).strip() if match else value


def _is_attachment(part: Message) -> bool:
    disposition = (part.get("Content-Disposition") or "").split(";", 1)[0].strip().lower()
    if disposition == "attachment":
        return True
    return disposition != "inline" and bool(mime.filename(part))


def _filename(part: Message) -> str:
    try:
        name = mime.filename(part)
    except Exception:  # broken RFC 2231 parameters
        name = None
    return decode_header_value(str(name)) if name else "attachment"


_MAX_DEPTH = 30  # deeper MIME nesting is an attack or a torture test, not a customer
_MAX_PARTS = 500


@dataclass
class _Body:
    """What the walk collects: the message's own text and HTML, its attachments, and the text of
    embedded messages (kept apart, see ``_walk``)."""

    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    inner_texts: list[Message] = field(default_factory=list)  # decoded only if needed
    inner_htmls: list[Message] = field(default_factory=list)
    parts: int = 0


def _embedded_bytes(part: Message) -> bytes:
    inner = part.get_payload()
    message = inner[0] if isinstance(inner, list) and inner else inner
    try:
        return message.as_bytes() if isinstance(message, Message) else str(message).encode("utf-8", "replace")
    except Exception:  # the generator refuses some broken embedded messages: keep their text form
        return str(message).encode("utf-8", "replace")


def _walk(
    part: Message,
    body: _Body,
    defects: list[str],
    types: mime.ContentTypes,
    *,
    root: bool,
    inner: bool,
    depth: int,
) -> None:
    """Collect text, HTML and attachments depth-first.

    Embedded ``message/*`` parts (a bounce's returned original, a forwarded attachment) are kept
    apart: they are not what the sender wrote now, and a bounce quoting our "Klacht" ack must not
    read as a complaint. The caller falls back to them only when the message has no text at all.
    ``types``: the content types the MIME builder already read (see ``mime.message_from_bytes``).
    """
    body.parts += 1
    if depth > _MAX_DEPTH or body.parts > _MAX_PARTS:
        if "MimeTooDeep" not in defects:
            defects.append("MimeTooDeep")
        return
    ctype = mime.content_type(part, types)
    # Only a multipart's payload (its list of parts) is read here: get_payload() of a leaf encodes
    # its whole text once to look for surrogates, a copy of a large attachment (issue 15).
    payload = part.get_payload() if part.is_multipart() else None
    if isinstance(payload, list):
        if ctype.startswith("message/") and not inner:
            body.attachments.append(Attachment(_filename(part), ctype, load=partial(_embedded_bytes, part)))
        embedded = inner or ctype.startswith("message/")
        for child in payload:
            if isinstance(child, Message):
                _walk(child, body, defects, types, root=False, inner=embedded, depth=depth + 1)
        return
    if not root and _is_attachment(part):
        if not inner:
            body.attachments.append(Attachment(_filename(part), ctype, load=partial(payload_bytes, part)))
        return
    if ctype == "text/html":
        if inner:
            body.inner_htmls.append(part)
        else:
            body.htmls.append(decode_payload(part))
    elif ctype.startswith("text/") and ctype != "text/calendar":
        if inner:
            body.inner_texts.append(part)
        else:
            body.texts.append(decode_payload(part))
    elif not root and not inner:
        body.attachments.append(Attachment(_filename(part), ctype, load=partial(payload_bytes, part)))


def _embedded_text(body: _Body, defects: list[str]) -> str:
    """The text of embedded messages, for mail that has none of its own (decoded only then)."""
    try:
        text = "\n".join(map(decode_payload, body.inner_texts))
        if not text.strip() and body.inner_htmls:
            text = html_to_text("\n".join(map(decode_payload, body.inner_htmls)))
    except Exception as exc:  # as in the walk: a pathological part costs its text, not the message
        defects.append(f"mime:{type(exc).__name__}")
        return ""
    return text


def _trim_leading_noise(raw: bytes) -> bytes:
    """Drop a UTF-8 BOM and blank lines before the first header: some exporters add them."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return raw.lstrip(b" \t\r\n") if raw[:1] in (b"\r", b"\n", b" ", b"\t") else raw


def parse_message(raw: bytes) -> ParsedMail:
    """Parse one message. Raises UnparseableMail only for input that has no headers at all."""
    if not isinstance(raw, bytes | bytearray):
        raise UnparseableMail("raw message must be bytes")
    if not raw or raw.isspace():  # what ``not raw.strip()`` tests, without copying the message
        raise UnparseableMail("empty message")
    raw = _trim_leading_noise(bytes(raw))
    types: mime.ContentTypes = {}
    try:
        msg = mime.message_from_bytes(raw, types)
    except Exception as exc:  # the stdlib parser is lenient, but guard the one place it might not be
        raise UnparseableMail(f"email parser failed: {type(exc).__name__}") from exc
    raw_headers = _read_headers(msg)
    if not raw_headers:
        raise UnparseableMail("no headers found")
    defects = [type(d).__name__ for d in msg.defects]
    content_type = mime.content_type(msg, types)

    body = _Body()
    try:
        _walk(msg, body, defects, types, root=True, inner=False, depth=0)
    except Exception as exc:  # pathological MIME: keep the headers, record why the body is missing
        defects.append(f"mime:{type(exc).__name__}")
        body = _Body()
    text = "\n".join(body.texts)
    html = "\n".join(body.htmls)
    if not text.strip() and html.strip():
        text = html_to_text(html)
    if not text.strip() and not html.strip():
        text = _embedded_text(body, defects)

    from_address, from_name = _single_address(raw_headers, "from")
    if from_address is None and _first(raw_headers, "from"):
        defects.append("StrictFromParseFailed")
    reply_to, _ = _single_address(raw_headers, "reply-to")
    report_type = msg.get_param("report-type") if content_type == "multipart/report" else None
    report_type = str(report_type).lower() if isinstance(report_type, str) else None
    bounced = bounced_message_ids(
        msg, content_type, report_type, from_address, failed_recipients="x-failed-recipients" in raw_headers
    )

    return ParsedMail(
        message_id=(_message_ids(_first(raw_headers, "message-id")) or (None,))[0],
        in_reply_to=_message_ids(_first(raw_headers, "in-reply-to")),
        references=_message_ids(" ".join(raw_headers.get("references", []))),
        from_address=from_address,
        from_name=from_name,
        reply_to=reply_to,
        to=tuple(a for _, a in strict_addresses(raw_headers.get("to", []))),
        cc=tuple(a for _, a in strict_addresses(raw_headers.get("cc", []))),
        subject=decode_header_value(_first(raw_headers, "subject") or ""),
        date=_date(raw_headers),
        text=text,
        html=html,
        attachments=tuple(body.attachments),
        headers=DecodedHeaders(raw_headers),
        content_type=content_type,
        report_type=report_type,
        return_path=_return_path(raw_headers),
        defects=tuple(defects),
        bounced_ids=bounced,
    )
