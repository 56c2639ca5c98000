"""Raw bytes → the stdlib's compat32 ``Message`` tree, without the feed parser's per-line loop.

``email.message_from_bytes`` reads a message line by line in Python and compiles a fresh regular
expression for every multipart boundary (each message has its own, so the ``re`` cache never
helps: about 170 µs per boundary here). That was most of the cost of classifying mail, whose
budget is 500 µs a message. This module builds the *same* tree faster: header blocks are cut by
one regular expression and stored exactly as ``FeedParser._parse_headers`` stores them (through
the policy's ``header_source_parse`` and ``Message.set_raw``), boundary lines are found with
``str.find``, and bodies are sliced rather than joined line by line. Everything else (decoding,
parameters, defects' classes) is the stdlib's own.

Sameness is the contract. The feed parser's special cases are reproduced with the same defects
(no blank line after the headers, a missing start or close boundary, the newline RFC 2046 gives
to the boundary, delivery-status header blocks); the rarest ones (``multipart/digest``, doubled
boundary lines, a multipart without a boundary or with a transfer encoding, a folded boundary, a
Unix "From " line closing a header block) make :func:`message_from_bytes` hand the message to the
stdlib parser instead. ``tests/unit/test_mime.py`` proves the trees equal on every corpus message,
on odd shapes and on generated MIME.
"""

from __future__ import annotations

import email
import re
from email import errors
from email.message import Message
from email.policy import compat32
from email.utils import unquote

# The feed parser's rules. It splits lines on exactly \r\n, \r and \n (not str.splitlines()'s
# other separators), and a header block is the run of lines that match its headerRE.
_EOL = re.compile(r"\r\n|\r|\n")
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
# One header field as (name, value), the pair ``header_source_parse`` makes of it: the value starts
# after the colon's blanks and keeps its folds, without the final line end. Matched field after
# field, it also finds where a regular header block ends: at the first line that is no field.
_FIELD = re.compile(
    r"([\041-\071\073-\176]+):[ \t]*([^\r\n]*(?:(?:\r\n|\r|\n)[ \t][^\r\n]*)*)(?:\r\n|\r|\n)?"
)
_HEADER_BLOCK = re.compile(r"(?:(?:From |[\041-\071\073-\176]*:|[\t ])[^\r\n]*(?:\r\n|\r|\n|\Z))*")
# Lines the feed parser treats specially: a leading continuation, a Unix "From " line, a field
# without a name. Where the fields stop short of _HEADER_BLOCK, the next line starts with one.
_SPECIAL_FIRST = (" ", "\t", ":", "From ")  # a leading continuation is special too
_SPECIAL_LATER = (":", "From ")

_REGULAR_CTE = ("7bit", "8bit", "binary")
_MAX_DEPTH = 40  # nesting levels built here; parse.py reads 30


class _Irregular(Exception):
    """The fast builder met a shape the feed parser treats specially: parse with the stdlib."""


ContentTypes = dict[int, str]  # id() of a part → its get_content_type()
_Leaf = tuple[Message, int, int]  # a part whose payload is text[start:end], set after the build


def content_type(part: Message, types: ContentTypes) -> str:
    """``part.get_content_type()``, from the record when the builder made the part."""
    return types.get(id(part)) or part.get_content_type()


def message_from_bytes(raw: bytes, types: ContentTypes | None = None) -> Message:
    """The tree ``email.message_from_bytes(raw, policy=compat32)`` returns, built faster.

    ``types``, if given, receives the content type of every part built here (the builder needs
    them anyway, and the caller's walk would otherwise read each header list again). Parts the
    stdlib parser builds are not in it. Valid while the tree lives: ids are reused after that.
    """
    text = raw.decode("ascii", "surrogateescape")  # what BytesParser does before parsing
    seen: ContentTypes = {} if types is None else types
    leaves: list[_Leaf] = []
    try:
        root = _build(text, seen, leaves=leaves)
    except (_Irregular, RecursionError):
        seen.clear()  # the ids of the discarded parts may come back in the stdlib's tree
        return email.message_from_string(text, policy=compat32)
    # The payloads are cut from the bytes once the text is gone, so a large attachment is not
    # held three times at once (bytes, text, payload; issue 15). One byte is one character in
    # this decoding, so a range of the bytes decodes to that range of the text.
    del text
    view = memoryview(raw)
    for msg, start, end in leaves:
        msg.set_payload(str(view[start:end], "ascii", "surrogateescape"))
    view.release()
    if seen[id(root)].startswith("multipart/") and not root.is_multipart():
        _defect(root, errors.MultipartInvariantViolationDefect())  # as FeedParser.close()
    return root


def _defect(msg: Message, defect: errors.MessageDefect) -> None:
    compat32.handle_defect(msg, defect)


def _build(
    text: str,
    types: ContentTypes,
    before_boundary: bool = False,
    depth: int = 0,
    start: int = 0,
    end: int | None = None,
    leaves: list[_Leaf] | None = None,
) -> Message:
    """One message or body part, ``text[start:end]``: its header block, then its body by type.

    ``before_boundary``: a boundary line follows this text. RFC 2046 gives the newline before it to
    the boundary; the feed parser takes it off the last message it created while reading the
    part (a leaf's payload, a multipart's epilogue, an embedded message's innermost last part).
    ``depth``: deep nesting (a torture test or an attack, never a customer) goes to the stdlib
    parser rather than this recursion. Parts are read in place, by offsets into the one decoded
    text, and only a leaf's payload is copied out: slicing every level's body (as this builder
    once did) held four or five copies of a large attachment at once (issue 15). ``leaves``, if
    given, receives those payloads as ranges for the caller to set; else they are set here.
    """
    if depth > _MAX_DEPTH:
        raise _Irregular
    end = len(text) if end is None else end
    msg, body_start = _parse_head(text, start, end)
    ctype = types[id(msg)] = msg.get_content_type()
    maintype = ctype.partition("/")[0]
    if ctype == "multipart/digest":
        raise _Irregular  # its parts default to message/rfc822
    if ctype == "message/delivery-status":
        _delivery_status(msg, text[body_start:end], types)
    elif maintype == "message":
        msg.attach(_build(text, types, before_boundary, depth + 1, body_start, end, leaves))
    elif maintype == "multipart":
        _multipart(msg, text, body_start, end, types, before_boundary, depth, leaves)
    else:
        _leaf(msg, text, body_start, _eol_end(text, body_start, end) if before_boundary else end, leaves)
    return msg


def _leaf(msg: Message, text: str, start: int, end: int, leaves: list[_Leaf] | None) -> None:
    if leaves is None:
        msg.set_payload(text[start:end])
    else:
        leaves.append((msg, start, end))


def _parse_head(text: str, pos: int = 0, end: int | None = None) -> tuple[Message, int]:
    """The header block from ``pos`` (up to ``end``) as a ``Message``, and where its body starts.

    The header block ends at the first line that is neither a header field nor a continuation:
    a blank line, which is dropped, or a body line, which is kept (a defect, as in the stdlib).
    """
    msg = Message(policy=compat32)
    end = len(text) if end is None else end
    block_end = pos
    special = text.startswith(_SPECIAL_FIRST, pos, end)
    if not special:
        # A field is its first line plus continuation lines, and header_source_parse of the whole
        # field equals that of its lines: _FIELD yields that (name, value) pair directly.
        set_raw = msg.set_raw
        match = _FIELD.match
        while (field := match(text, block_end, end)) is not None:
            set_raw(*field.groups())
            block_end = field.end()
        special = text.startswith(_SPECIAL_LATER, block_end, end)
        if special:
            msg = Message(policy=compat32)  # start over, line by line
    if special:
        block_end = _HEADER_BLOCK.match(text, pos, end).end()  # type: ignore[union-attr]  # matches ''
    if block_end == end:
        body_start = end
    elif text[block_end] in "\r\n":  # the blank line, dropped like the feed parser does
        body_start = block_end + (2 if text.startswith("\r\n", block_end, end) else 1)
    else:  # a line that is not a header field starts the body
        body_start = block_end
        _defect(msg, errors.MissingHeaderBodySeparatorDefect())
    if special:
        _set_header_lines(msg, _LINES.findall(text, pos, block_end))
    return msg, body_start


def _set_header_lines(msg: Message, lines: list[str]) -> None:
    """``FeedParser._parse_headers``: fields, continuations, the Unix From line, and their defects."""
    name = ""
    value: list[str] = []
    last = len(lines) - 1
    for number, line in enumerate(lines):
        if line[0] in " \t":
            if not name:
                _defect(msg, errors.FirstHeaderLineIsContinuationDefect(line))
            else:
                value.append(line)
            continue
        if name:
            msg.set_raw(*compat32.header_source_parse(value))
            name, value = "", []
        if line.startswith("From "):
            if number == 0:
                msg.set_unixfrom(_strip_eol(line))
                continue
            if number == last:
                raise _Irregular  # the feed parser hands it back as the first line of the body
            msg.defects.append(errors.MisplacedEnvelopeHeaderDefect(line))
            continue
        colon = line.find(":")
        if colon == 0:
            msg.defects.append(errors.InvalidHeaderDefect("Missing header name."))
            continue
        name, value = line[:colon], [line]
    if name:
        msg.set_raw(*compat32.header_source_parse(value))


def _delivery_status(msg: Message, body: str, types: ContentTypes) -> None:
    """RFC 3464 status fields: header blocks separated by blank lines, each its own ``Message``."""
    pos = 0
    end = len(body)
    while True:
        block, next_start = _parse_head(body, pos)
        ctype = types[id(block)] = block.get_content_type()
        if block.defects or ctype != "text/plain":
            raise _Irregular  # a block with a body line, or typed: the feed parser reads on
        block.set_payload("")
        msg.attach(block)
        pos = next_start  # past the blank line; EOF after it ends the status part
        if pos >= end:
            return


def _boundary_lines(text: str, separator: str, begin: int, end: int) -> list[tuple[int, int, bool]]:
    """(line start, line end, is the close boundary) of each boundary line of ``text[begin:end]``,
    up to the close one (offsets into ``text``).

    A boundary line is what the feed parser's ``boundaryre`` accepts: at the start of a line, the
    separator, an optional "--", optional blanks, then the end of the line.
    """
    lines: list[tuple[int, int, bool]] = []
    size = len(separator)
    start = text.find(separator, begin, end)
    while start >= 0:
        if start == begin or text[start - 1] in "\r\n":
            eol = _EOL.search(text, start, end)
            content_end, line_end = (eol.start(), eol.end()) if eol else (end, end)
            rest = text[start + size : content_end].rstrip(" \t")
            if rest in ("", "--"):
                lines.append((start, line_end, rest == "--"))
                if rest == "--":
                    break
        start = text.find(separator, start + 1, end)
    return lines


def _multipart(
    msg: Message,
    text: str,
    begin: int,
    end: int,
    types: ContentTypes,
    before_boundary: bool,
    depth: int,
    leaves: list[_Leaf] | None,
) -> None:
    """The body ``text[begin:end]`` of the multipart ``msg``: its parts, preamble and epilogue."""
    separator = boundary(msg)
    if separator is None:
        raise _Irregular  # NoBoundaryInMultipartDefect
    if "\r" in separator or "\n" in separator:
        raise _Irregular  # a folded boundary: the feed parser matches line by line
    if str(msg.get("content-transfer-encoding", "8bit")).lower() not in _REGULAR_CTE:
        raise _Irregular  # InvalidMultipartContentTransferEncodingDefect
    lines = _boundary_lines(text, "--" + separator, begin, end)
    if not lines or lines[0][2]:
        # no part starts: the whole text up to a close boundary is the payload, as a string
        _defect(msg, errors.StartBoundaryNotFoundDefect())
        _leaf(msg, text, begin, lines[0][0] if lines else end, leaves)
        msg.epilogue = None if before_boundary else ""
        return
    first = lines[0][0]
    if first > begin:  # RFC 2046: the last newline belongs to the boundary
        msg.preamble = text[begin : _eol_end(text, begin, first)]
    closed = lines[-1][2]
    ends = [start for start, _, _ in lines[1:]] + ([] if closed else [end])
    for (_, part_start, _), part_end in zip(lines, ends, strict=False):
        if part_start == part_end and part_end != end:
            raise _Irregular  # two boundary lines in a row: the feed parser skips both
        msg.attach(_build(text, types, True, depth + 1, part_start, part_end, leaves))
    if not closed:
        _defect(msg, errors.CloseBoundaryNotFoundDefect())
        return  # the epilogue stays None
    epilogue = text[lines[-1][1] : end]
    if before_boundary:
        msg.epilogue = _strip_eol(epilogue) if epilogue else None
    else:
        msg.epilogue = epilogue


def _eol_end(text: str, start: int, end: int) -> int:
    """Where ``text[start:end]`` ends without its final line ending (the feed parser's NLCRE_eol)."""
    if text.endswith("\r\n", start, end):
        return end - 2
    return end - 1 if text.endswith(("\n", "\r"), start, end) else end


def _strip_eol(text: str) -> str:
    """Without its final line ending (the feed parser's NLCRE_eol)."""
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith(("\n", "\r")) else text


def boundary(msg: Message) -> str | None:
    """``msg.get_boundary()``, without the stdlib's parameter parser for plain Content-Type values."""
    value = _plain_param(msg, "boundary")
    if value is _NOT_PLAIN:
        return msg.get_boundary()
    return None if value is None else unquote(str(value)).rstrip()  # get_boundary unquotes twice


def content_charset(msg: Message) -> str | None:
    """``msg.get_content_charset()``, the same way (RFC 2231 values go to the stdlib)."""
    value = _plain_param(msg, "charset")
    if value is _NOT_PLAIN:
        return msg.get_content_charset()
    return None if value is None else str(value).lower()


def filename(msg: Message) -> str | None:
    """``msg.get_filename()``: Content-Disposition's filename, else Content-Type's name."""
    value = _plain_param(msg, "filename", "content-disposition")
    if value is None:
        value = _plain_param(msg, "name")
    if value is _NOT_PLAIN:
        return msg.get_filename()
    return None if value is None else unquote(str(value)).strip()  # as collapse_rfc2231_value


_NOT_PLAIN = object()


def _plain_param(msg: Message, name: str, header: str = "content-type") -> str | object | None:
    """A Content-Type parameter as ``get_param`` returns it, or _NOT_PLAIN for values it must judge.

    The stdlib parameter parser (quote-aware splitting, RFC 2231 continuations, re-quoting) is the
    costliest step of reading a MIME part. Most values are plain ASCII ``type/sub; name=value``
    with values optionally in simple quotes; for those, splitting on ';' is exactly what it does.
    Backslashes, '*' (RFC 2231), non-ASCII, unbalanced quotes or an '=' in the type go to it.
    """
    value = msg.get(header)
    if value is None:
        return None
    text = str(value)
    if "\\" in text or "*" in text or not text.isascii():
        return _NOT_PLAIN
    pieces = text.split(";")
    if "=" in pieces[0] or ('"' in text and any(piece.count('"') % 2 for piece in pieces)):
        return _NOT_PLAIN
    for piece in pieces[1:]:
        key, sep, val = piece.partition("=")
        if key.strip().lower() == name:
            return unquote(val.strip()) if sep else ""
    return None
