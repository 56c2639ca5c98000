"""Header values as the rules read them: RFC 2047-decoded (R-C11), unfolded, decoded on first read."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from mailbot.mail.addresses import unfold as _unfold
from mailbot.mail.parse import parse_message

RAW = (
    b"From: Jan <jan@example.nl>\n"
    b"Subject: =?UTF-8?Q?Klacht_over_de_coach?=\n"
    b"Received: from a.example\n\tby b.example;\n  Mon, 2 Feb 2026 10:00:00 +0100\n"
    b"X-Note: =?utf-8?b?dmVyd2lqZGVy?= mij\n"
    b"X-Note: tweede\n"
    b"X-Raw: caf\xc3\xa9\n"
    b"\n"
    b"Hallo\n"
)


def test_headers_are_decoded_when_read_R_C11() -> None:
    headers = parse_message(RAW).headers
    assert headers["subject"] == ("Klacht over de coach",)
    assert headers["x-note"] == ("verwijder mij", "tweede")
    assert headers["x-raw"] == ("café",)  # RFC 6532: raw UTF-8
    assert headers["received"] == ("from a.example by b.example; Mon, 2 Feb 2026 10:00:00 +0100",)


def test_headers_behave_as_the_mapping_they_were() -> None:
    headers = parse_message(RAW).headers
    assert list(headers) == ["from", "subject", "received", "x-note", "x-raw"]
    assert "x-note" in headers and "X-Note" not in headers and "x-missing" not in headers
    assert headers.get("x-missing", ()) == ()
    assert len(headers) == 5
    as_dict = dict(headers)
    assert headers == as_dict and repr(headers) == repr(as_dict)
    assert parse_message(RAW) == parse_message(RAW)


_FOLD = re.compile(r"\s*[\r\n]+\s*")


@given(st.text(alphabet=" \t\r\nab\x0b\x1c\x85\u2028\xa0=?", max_size=30))
def test_unfold_is_the_folding_regex(value: str) -> None:
    """Each whitespace run holding a line break becomes one space; other runs stay as written."""
    assert _unfold(value) == _FOLD.sub(" ", value).strip()
