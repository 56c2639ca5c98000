"""Decoding attachments with fewer copies (issue 15) gives what the stdlib gives.

``payload.payload_bytes`` decodes base64 leaves itself (line ends deleted instead of split and
joined); every case here is compared with ``Message.get_payload(decode=True)`` on a twin part: the
same bytes and the same defects, for well-formed, badly padded, dirty and truncated base64. The
memory figure itself is bounded in ``tests/integration/test_large_message_memory.py``.
"""

from __future__ import annotations

import base64
from email.message import Message
from email.policy import compat32

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailbot.mail.payload import payload_bytes as _payload_bytes
from tests.support.memory import python_peak


def _part(payload: str, cte: str = "base64") -> Message:
    part = Message(policy=compat32)
    part["Content-Type"] = "application/octet-stream"
    part["Content-Transfer-Encoding"] = cte
    part.set_payload(payload)
    return part


def _same_as_stdlib(payload: str, cte: str = "base64") -> None:
    ours, theirs = _part(payload, cte), _part(payload, cte)
    assert _payload_bytes(ours) == theirs.get_payload(decode=True)
    assert [type(d) for d in ours.defects] == [type(d) for d in theirs.defects]


def _wrapped(data: bytes, eol: str = "\r\n") -> str:
    return base64.encodebytes(data).decode("ascii").replace("\n", eol)


@pytest.mark.parametrize(
    "payload",
    [
        "",
        _wrapped(b"hello world" * 100),
        _wrapped(b"hello world" * 100, "\n"),
        _wrapped(b"hello world" * 100, "\r"),
        _wrapped(b"x" * 57 * 3)[:-3],  # padding lost with the last characters
        "aGVsbG8",  # no padding at all
        "aGVs bG8=\r\n",  # a blank inside
        "aGVs*bG8=\r\n",  # a character outside the alphabet
        "aGVsb",  # one more than a multiple of four: not decodable
        "aGVs\r\n\r\nbG8=\r\n\r\n",
        "aGVsbG8=aGVsbG8=",  # two encodings run together
        "  aGVsbG8=  ",
    ],
)
def test_odd_base64_decodes_as_the_stdlib_does(payload: str) -> None:
    _same_as_stdlib(payload)


@given(st.binary(max_size=400), st.sampled_from(["\r\n", "\n", "\r", ""]), st.integers(0, 8))
def test_wrapped_and_cut_base64_decodes_as_the_stdlib_does(data: bytes, eol: str, cut: int) -> None:
    text = _wrapped(data, eol)
    _same_as_stdlib(text[: len(text) - cut])


@given(st.text(alphabet="AZaz09+/= \r\n\t-_*.", max_size=200))
def test_any_base64_like_text_decodes_as_the_stdlib_does(payload: str) -> None:
    _same_as_stdlib(payload)


def test_text_with_surrogates_and_other_encodings_go_to_the_stdlib() -> None:
    _same_as_stdlib("aGVs\udcffbG8=\r\n")
    _same_as_stdlib("caf=C3=A9\r\n", "quoted-printable")
    _same_as_stdlib("plain text\r\n", "7bit")


def test_a_large_attachment_decodes_in_about_twice_its_size() -> None:
    data = bytes(range(256)) * (8 << 12)  # 8 MiB
    part = _part(_wrapped(data))
    decoded, peak = python_peak(lambda: _payload_bytes(part))
    assert decoded == data
    # The encoded text (4/3 of it) and the decoded bytes; the stdlib's split and join took ~5x.
    assert peak < 3.2 * len(data), f"peak {peak / len(data):.1f}x the attachment"
