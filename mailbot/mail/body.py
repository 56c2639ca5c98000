"""MIME bodies of outgoing mail (text, or text + HTML), written directly as bytes.

Why not ``EmailMessage.set_content``: building and flattening the message tree was most of the
cost of an outgoing mail once the headers were written by construction (``headers.py``), and every
acknowledgement and staff notice has one of two shapes. The transfer encoding is chosen exactly as
the library's content manager chooses it under ``policy.SMTP`` (7bit or 8bit when every line fits
in 78 characters, else quoted-printable or base64, whichever is shorter on the first ten lines),
so readers decode the same text as before; ``tests/unit/test_compose_body.py`` checks it against
the library. Attachments (the access export) still go through the library: rare and large.
"""

from __future__ import annotations

import binascii
import re
import uuid
from email import quoprimime

__all__ = ["text_body"]

_MAX_LINE = 78  # policy.SMTP.max_line_length
_NEWLINES = re.compile(r"\r\n|\r|\n")


def _encode(text: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, CRLF-terminated encoded body) for UTF-8 text."""
    lines = text.encode("utf-8").splitlines()
    if max((len(line) for line in lines), default=0) <= _MAX_LINE:
        body = b"\r\n".join(lines) + b"\r\n"
        return ("7bit" if body.isascii() else "8bit"), body
    embedded = b"\r\n".join(lines) + b"\r\n"
    sniff = b"\r\n".join(lines[:10]) + b"\r\n"
    sniff_qp = quoprimime.body_encode(sniff.decode("latin-1"), _MAX_LINE)
    if len(sniff_qp) > len(binascii.b2a_base64(sniff)):
        per_line = _MAX_LINE // 4 * 3
        data = "".join(
            binascii.b2a_base64(embedded[i : i + per_line]).decode("ascii")
            for i in range(0, len(embedded), per_line)
        )
        return "base64", _crlf(data)
    if len(lines) <= 10:
        return "quoted-printable", _crlf(sniff_qp)
    normal = b"\n".join(lines) + b"\n"
    return "quoted-printable", _crlf(quoprimime.body_encode(normal.decode("latin-1"), _MAX_LINE))


def _crlf(data: str) -> bytes:
    lines = _NEWLINES.split(data)
    out = "\r\n".join(lines[:-1]) + ("\r\n" if len(lines) > 1 else "") + lines[-1]
    return out.encode("ascii")


def _part(subtype: str, text: str) -> tuple[bytes, bytes]:
    cte, body = _encode(text)
    head = f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n'
    return head.encode("ascii"), body


def text_body(text: str, html: str | None) -> bytes:
    """MIME-Version, the Content-* lines, a blank line and the body: text/plain, or
    multipart/alternative with the HTML after the text (RFC 2046: the preferred one last)."""
    head, body = _part("plain", text)
    if html is None:
        return b"MIME-Version: 1.0\r\n" + head + b"\r\n" + body
    html_head, html_body = _part("html", html)
    boundary = f"=_mailbot_{uuid.uuid4().hex}".encode("ascii")
    while boundary in body or boundary in html_body:  # "=_" cannot occur in qp or base64
        boundary = f"=_mailbot_{uuid.uuid4().hex}".encode("ascii")
    return b"".join(
        [
            b"MIME-Version: 1.0\r\n",
            b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n\r\n',
            # The CRLF before a delimiter belongs to it (RFC 2046 §5.1.1), hence the extra one.
            b"--" + boundary + b"\r\n" + head + b"\r\n" + body,
            b"\r\n--" + boundary + b"\r\n" + html_head + b"\r\n" + html_body,
            b"\r\n--" + boundary + b"--\r\n",
        ]
    )
