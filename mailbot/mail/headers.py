"""Header lines written by construction: values in, 7-bit CRLF lines out, nothing reinterpreted.

Why our own writer: the email library's header objects parse every value when it is set and again
when it is folded (most of the cost of an outgoing mail), and on this Python (3.11.7, before the
CVE-2024-6923 fix) the folder may write a decoded CR LF out raw. Here the caller hands in values
already refused for CR, LF, NUL and other control characters (``compose``); this module only ever
emits

* printable ASCII as it is, folded by inserting CRLF *before* an existing space (unfolding removes
  exactly the CRLF, so the value reads back unchanged), or
* RFC 2047 ``=?utf-8?b?…?=`` words whose payload is base64 — an alphabet without CR, LF, ``:`` or
  space — split on character boundaries, so the words decode to exactly the value.

So no value can end a line early or start a header of its own: every line after the first of a
header starts with a space, and the first is ``Name: `` with a name from our own constants.
"""

from __future__ import annotations

import base64
import re

__all__ = ["address_header", "header_line", "id_list_header", "unstructured_header"]

#: RFC 5322 §2.1.1: a line should stay within 78 characters; RFC 2047 words within 75.
_SOFT_LIMIT = 78
#: Bytes of UTF-8 per encoded word: 36 → 48 base64 characters → a 60-character word.
_WORD_BYTES = 36
#: A non-ASCII display name is one word of at most 45 bytes (60 base64 characters, 75 in all).
_NAME_BYTES = 45
_PRINTABLE = re.compile(r"[ -~]*")
_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 ftext
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a header field name: {name!r}")


def _encoded_words(value: str, limit: int = _WORD_BYTES) -> list[str]:
    """``value`` as base64 encoded-words of at most ``limit`` bytes of UTF-8 each."""
    words: list[str] = []
    chunk = bytearray()
    for char in value:
        data = char.encode("utf-8")
        if chunk and len(chunk) + len(data) > limit:
            words.append(f"=?utf-8?b?{base64.b64encode(bytes(chunk)).decode('ascii')}?=")
            chunk.clear()
        chunk += data
    if chunk or not words:
        words.append(f"=?utf-8?b?{base64.b64encode(bytes(chunk)).decode('ascii')}?=")
    return words


def _fold_at_spaces(first: str, rest: str) -> str:
    """``first`` + ``rest`` with CRLF inserted before spaces of ``rest`` to keep lines short."""
    lines, line = [], first
    pieces = rest.split(" ")
    line += pieces[0]
    for piece in pieces[1:]:
        if len(line) + 1 + len(piece) > _SOFT_LIMIT and line.strip():
            lines.append(line)
            line = " " + piece
        else:
            line += " " + piece
    lines.append(line)
    return "\r\n".join(lines)


def header_line(name: str, value: str) -> str:
    """A header whose value is a token we generated and checked (an id, a tag, a date)."""
    _check_name(name)
    if not _PRINTABLE.fullmatch(value) or len(name) + 2 + len(value) > 998:
        raise ValueError(f"{name}: value is not one short line of printable ASCII")
    return f"{name}: {value}"


def unstructured_header(name: str, value: str) -> str:
    """Free text (a subject): printable ASCII folded at its spaces, anything else encoded-words.

    ASCII text that starts or ends with a space, has a run of spaces, ``=?`` or a word too long for
    one line is encoded too: unfolding, the readers' whitespace handling or an encoded-word
    decoder could change it otherwise.
    """
    _check_name(name)
    words = value.split(" ")
    plain = (
        _PRINTABLE.fullmatch(value) is not None
        and "  " not in value
        and "=?" not in value
        and value == value.strip()
        and all(len(word) < _SOFT_LIMIT - len(name) - 2 for word in words)
    )
    if plain:
        return _fold_at_spaces(f"{name}: ", value)
    return f"{name}: " + "\r\n ".join(_encoded_words(value))


def _mailbox(display_name: str, addr_spec: str) -> str:
    """``Name <addr>`` from a checked addr-spec; the name as atoms, a quoted string or encoded."""
    if not display_name:
        return addr_spec
    if _ATOMS.fullmatch(display_name):
        phrase = display_name
    elif _PRINTABLE.fullmatch(display_name):
        phrase = '"' + display_name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        # One word only: between encoded-words in a phrase, readers disagree on the space (the
        # RFC drops it, Python keeps it), so a name that needs two is refused, never garbled.
        words = _encoded_words(display_name, _NAME_BYTES)
        if len(words) != 1:
            raise ValueError("display name too long to encode in one word")
        phrase = words[0]
    return f"{phrase} <{addr_spec}>"


def address_header(name: str, mailboxes: list[tuple[str, str]]) -> str:
    """An address list header from (display name, checked addr-spec) pairs, folded between them."""
    _check_name(name)
    if not mailboxes:
        raise ValueError(f"{name}: no address")
    parts = [_mailbox(display, addr) for display, addr in mailboxes]
    lines, line = [], f"{name}: {parts[0]}"
    for part in parts[1:]:
        if len(line) + 2 + len(part) > _SOFT_LIMIT:
            lines.append(line + ",")
            line = " " + part
        else:
            line += ", " + part
    lines.append(line)
    return "\r\n".join(lines)


def id_list_header(name: str, ids: tuple[str, ...]) -> str:
    """References: checked ``<id@domain>`` tokens, one space apart, folded between them."""
    for message_id in ids:
        header_line(name, message_id)
    return _fold_at_spaces(f"{name}: ", " ".join(ids))
