"""A MIME leaf's payload with its transfer encoding undone, and a text part's payload as str.

Split from :mod:`mailbot.mail.parse` (one job: payloads). Large attachments are decoded with
fewer copies alive at once than the stdlib's ``get_payload(decode=True)`` keeps (issue 15), with
the same bytes and defects (tests/unit/test_parse_payload.py compares them).
"""

from __future__ import annotations

import binascii
from email._encoded_words import decode_b
from email.message import Message

from mailbot.mail import mime


def decode_payload(part: Message) -> str:
    """A text part's payload as str, whatever its transfer encoding and (possibly wrong) charset."""
    payload = payload_bytes(part)
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


def payload_bytes(part: Message) -> bytes:
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
