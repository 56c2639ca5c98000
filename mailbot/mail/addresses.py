"""Address headers read strictly (R-C13, CVE-2023-27043): a malformed header yields no address.

Python 3.11.7 predates ``getaddresses(strict=True)``, so the RFC 5322 parser of
``email.headerregistry`` decides — but it costs about 40 µs a header, so the plainest forms take a
fast path of regular expressions that accept only shapes the strict parser reads the same way
(tests/unit/test_parse_addresses.py checks them against it). Split from :mod:`mailbot.mail.parse`
(one job: addresses; parse builds the message).
"""

from __future__ import annotations

import re
from email.headerregistry import HeaderRegistry

_HEADER_FACTORY = HeaderRegistry()

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

_NEWLINES = re.compile(r"[\r\n]+")


def unfold(value: str) -> str:
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
        value = unfold(str(raw))
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
