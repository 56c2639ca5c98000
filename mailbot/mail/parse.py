"""Raw bytes → ParsedMail, a plain value the rest of mailbot can reason about.

Size (over 400 lines): one pass over the MIME tree plus the address and header fast paths that
are checked against the stdlib parser in the same module, so the fast and strict readings stay
side by side.

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

import binascii
import contextlib
import email
import email.errors
import email.utils
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email._encoded_words import decode_b
from email.header import decode_header, make_header
from email.headerregistry import HeaderRegistry
from email.message import Message
from functools import partial

from mailbot.mail import mime
from mailbot.mail.dsn import returned_message_ids_in
from mailbot.mail.html import html_to_text

_HEADER_FACTORY = HeaderRegistry()
_MSGID = re.compile(r"<[^<>\s]+>")

# Plain address forms take a fast path; anything else (comments, groups, route addresses, quoted
# pairs, encoded tricks) goes to the strict RFC 5322 parser. The fast path accepts only shapes
# whose address the strict parser reads the same way (tests/unit/test_parse_addresses.py).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_ADDR = rf"{_ATEXT}(?:\.{_ATEXT})*@{_LABEL}(?:\.{_LABEL})*"  # "root@localhost" is an address too
_FAST_BARE = re.compile(rf"\s*(?:<({_ADDR})>|({_ADDR}))\s*")  # "<a@b" and "a@b>" are malformed
# a quoted display name may hold '@' or '<>': the strict parser returns the quoted text, and only
# the angle address after it is parsed
_FAST_NAMED = re.compile(rf'\s*(?:"([^"\\]*)"|([^"<>@,;:\\()\[\]]*?))\s*<({_ADDR})>\s*')
# "MAILER-DAEMON@host (Mail Delivery System)": an addr-spec and one plain comment, which RFC 5322
# makes no part of the address (the strict parser agrees, at ~1 ms a header)
_FAST_COMMENTED = re.compile(rf"\s*({_ADDR})\s*\([\x20-\x27\x2a-\x5b\x5d-\x7e]*\)\s*")


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
    return _unfold(value)


_NEWLINES = re.compile(r"[\r\n]+")
#: NUL and the other C0 controls (tab aside) have no place in a header value; kept, they would
#: be stored, shown to staff and refused when composing the reply's headers (issue 13).
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _unfold(value: str) -> str:
    """Each run of whitespace holding a line break becomes one space; the ends are stripped.

    What ``re.sub(r"\\s*[\\r\\n]+\\s*", " ", value).strip()`` gives, at half its cost: that pattern
    starts with ``\\s*``, so the regex engine tries a match at every character of the value.
    """
    if "\n" in value or "\r" in value:
        return " ".join([piece for piece in (p.strip() for p in _NEWLINES.split(value)) if piece])
    return value.strip()


_SLOW_LIMIT = 1000  # the stdlib parser is quadratic on some encoded-word floods (seen: 0.5 s a header)


def _strict_slow(value: str) -> list[tuple[str, str]] | None:
    if len(value) > _SLOW_LIMIT:
        return None  # too long to verify cheaply: treated as malformed, which R-C13 allows
    try:
        header = _HEADER_FACTORY("to", value)
    except Exception:  # the header parser raises on some pathological input
        return None
    if header.defects:
        return None
    out = []
    for address in header.addresses:  # type: ignore[attr-defined]  # the factory makes an AddressHeader for "to"
        if not address.username or not address.domain or "@" in address.domain:
            return None
        out.append((address.display_name, address.addr_spec))
    return out


def _strict_one(value: str) -> list[tuple[str, str]] | None:
    match = _FAST_BARE.fullmatch(value)
    if match:
        return [("", match.group(1) or match.group(2))]
    if "@" not in value:
        return None  # no addr-spec can have a domain: the strict parser rejects it too (R-C13)
    match = _FAST_NAMED.fullmatch(value)
    if match:
        name = match.group(1) if match.group(1) is not None else match.group(2)
        return [(name.strip(), match.group(3))]
    return _strict_slow(value)


def _split_list(value: str) -> list[str] | None:
    """Split an address list on commas outside quoted strings; None when a quote is left open."""
    if '"' not in value:
        return value.split(",")
    pieces: list[str] = []
    start = 0
    quoted = False
    for i, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            pieces.append(value[start:i])
            start = i + 1
    if quoted:
        return None
    pieces.append(value[start:])
    return pieces


def strict_addresses(values: list[str]) -> list[tuple[str, str]]:
    """Parse address headers strictly (R-C13): a malformed header yields no address, not a guess.

    Python 3.11.7 predates ``getaddresses(strict=True)`` (CVE-2023-27043), so the RFC 5322 parser of
    ``email.headerregistry`` is used for anything but the plainest forms, and any parse defect
    rejects the whole header.
    """
    out: list[tuple[str, str]] = []
    for raw in values:
        value = _unfold(str(raw))
        if not value:
            continue
        parsed: list[tuple[str, str]] | None
        if "(" in value or ";" in value or ":" in value or "\\" in value:
            commented = _FAST_COMMENTED.fullmatch(value)
            # comments, groups, quoted-pairs: only the full parser
            parsed = [("", commented.group(1))] if commented else _strict_slow(value)
        else:
            parsed = []
            pieces = _split_list(value)  # None for unbalanced quotes: the full parser judges
            for piece in pieces or ():
                if not piece.strip():
                    continue
                one = _strict_one(piece)
                if one is None:
                    parsed = None
                    break
                parsed.extend(one)
            if pieces is None:
                parsed = _strict_slow(value)
        if parsed is None:
            return []
        out.extend(parsed)
    return out


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


def decode_payload(part: Message) -> str:
    """A text part's payload as str, whatever its transfer encoding and (possibly wrong) charset."""
    payload = _payload_bytes(part)
    charset = (mime.content_charset(part) or "").strip().strip('"').lower() or "utf-8"
    if charset in ("us-ascii", "ascii", "unknown-8bit", "x-unknown", "default"):
        charset = "utf-8"
    try:
        return payload.decode(charset)
    except (LookupError, UnicodeDecodeError, ValueError):
        pass
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("cp1252", "replace")


def _payload_bytes(part: Message) -> bytes:
    """The body with its Content-Transfer-Encoding undone (the stdlib decodes broken encodings leniently)."""
    lean = _base64_payload(part)
    if lean is not None:
        return lean
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # a pathological encoding: keep the raw text rather than lose the part
        payload = None
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""


def _base64_payload(part: Message) -> bytes | None:
    """``part.get_payload(decode=True)`` of a base64 leaf whose payload is plain ASCII text: the
    same bytes and defects, with fewer copies alive at once; None for anything else.

    The stdlib encodes the text, splits that into lines and joins them again before decoding: for
    a large attachment the lines alone took twice its size (issue 15). Deleting the line ends is
    the same join (``bytes.splitlines`` splits at exactly CR, LF and CRLF); the decoding, with its
    padding and invalid-character defects, is the stdlib's own ``decode_b``.
    """
    payload = getattr(part, "_payload", None)  # get_payload() would copy text with surrogates
    if not isinstance(payload, str) or not payload.isascii():
        return None
    if str(part.get("content-transfer-encoding", "")).lower() != "base64":
        return None
    strict = _strict_base64(payload)
    if strict is not None:
        return strict
    encoded = payload.encode("ascii")
    joined = encoded.translate(None, b"\r\n")
    del encoded  # before decoding: the encoded text and the decoded bytes need not coexist
    value, found = decode_b(joined)
    for defect in found:
        part.policy.handle_defect(part, defect)
    return bytes(value)


_BASE64_CHUNK = 1 << 20


def _strict_base64(payload: str) -> bytes | None:
    """Well-formed base64 (line ends aside: only the alphabet, length a multiple of four, padding
    at the very end) decoded a chunk at a time; None for anything else.

    For such text ``decode_b`` takes its first path, a strict decode with no defect, and a strict
    decode of the whole is the decodes of its four-character groups joined. Chunks keep the
    encoded text from ever being copied whole (issue 15).
    """
    pieces: list[bytes] = []
    carry = b""
    padded = False
    for start in range(0, len(payload), _BASE64_CHUNK):
        block = carry + payload[start : start + _BASE64_CHUNK].encode("ascii").translate(None, b"\r\n")
        cut = len(block) - len(block) % 4
        block, carry = block[:cut], block[cut:]
        if not block:
            continue
        if padded:
            return None  # data after padding: not strict, the stdlib's lenient path decides
        padded = block.endswith(b"=")
        try:
            pieces.append(binascii.a2b_base64(block, strict_mode=True))
        except binascii.Error:
            return None
    return None if carry else b"".join(pieces)


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
            body.attachments.append(Attachment(_filename(part), ctype, load=partial(_payload_bytes, part)))
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
        body.attachments.append(Attachment(_filename(part), ctype, load=partial(_payload_bytes, part)))


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
    bounced = _bounced_ids(msg, raw_headers, content_type, report_type, from_address)

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


def _bounced_ids(
    msg: Message, raw: _RawHeaders, content_type: str, report_type: str | None, sender: str | None
) -> tuple[str, ...]:
    """What a bounce returns, read only from mail that looks like one: a read receipt (MDN) says
    delivered, not bounced; a report, ``X-Failed-Recipients`` or a mailer-daemon sender does."""
    if report_type == "disposition-notification":
        return ()
    looks_like_bounce = (
        content_type == "multipart/report"
        or "x-failed-recipients" in raw
        or (sender or "").lower().startswith(("mailer-daemon@", "postmaster@"))
    )
    if not looks_like_bounce:
        return ()
    try:
        return returned_message_ids_in(msg)
    except Exception:  # a report too broken to read costs its links, never the message
        return ()
