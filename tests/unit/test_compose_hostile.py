"""R-C12/R-C13 over generated hostile values: the outgoing mail is built once, without re-parsing
its own bytes, so this is the proof that no value can inject a header or be reinterpreted.

Each property builds a mail with a hostile subject, display name or address and then reads the
bytes back with two different parsers (the modern policy and compat32): either the value was
refused (``HeaderValueError``), or the header block holds exactly the headers we set, once each,
and the value reads back exactly as given.
"""

from __future__ import annotations

import email
import email.policy
from collections import Counter
from email.message import EmailMessage
from email.parser import BytesParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailbot.mail.compose import HeaderValueError, build_message, subject_with_ref
from tests.unit.test_compose import ack

EXPECTED = Counter(
    [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "auto-submitted",
        "x-auto-response-suppress",
        "x-mailbot-ticket",
        "content-language",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    ]
)

#: Fragments attackers combine: line breaks of every kind, encoded-word syntax (raw, nested and
#: carrying CR LF), header-looking text, quotes, angle brackets, non-ASCII and long words.
FRAGMENTS = [
    "\r\n",
    "\n",
    "\r",
    "\x00",
    "\u2028",
    "\x85",
    "\t",
    " ",
    "  ",
    "=?utf-8?q?a=0D=0ABcc:_x@y?=",
    "=?utf-8?b?YQ0KQmNjOiB4QHk=?=",
    "=?",
    "?=",
    "=0D=0A",
    "Bcc: attacker@x.tld",
    "To: other@x.tld",
    '"',
    "\\",
    "<evil@x.tld>",
    ",",
    ":",
    ";",
    "(comment)",
    "Klacht",
    "über",
    "ƒ",
    "—",
    "日本語",
    "😀",
    "x" * 90,
    "Tëst " * 20,
]
hostile_text = st.one_of(
    st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join),
    st.text(max_size=120),
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=200),
)


def _headers(data: bytes) -> tuple[EmailMessage, Counter[str], Counter[str]]:
    modern = BytesParser(policy=email.policy.default).parsebytes(data)
    assert isinstance(modern, EmailMessage)
    legacy = email.message_from_bytes(data)
    names = Counter(name.lower() for name in modern.keys())  # noqa: SIM118
    legacy_names = Counter(name.lower() for name in legacy.keys())  # noqa: SIM118
    return modern, names, legacy_names


def _only_ours(data: bytes) -> EmailMessage:
    head = data.split(b"\r\n\r\n", 1)[0]
    head.decode("ascii")  # 7-bit header block
    assert all(b"\r" not in line and b"\n" not in line for line in head.split(b"\r\n"))
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    modern, names, legacy_names = _headers(data)
    assert names == EXPECTED, names
    assert legacy_names == EXPECTED, legacy_names
    assert not modern.defects
    return modern


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_text)
def test_a_cleaned_subject_reads_back_exactly_and_adds_no_header(text: str) -> None:
    subject = subject_with_ref("ORD-2026-00042", text)
    got = _only_ours(build_message(ack(subject=subject)))
    assert str(got["Subject"]) == subject


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_text)
def test_a_raw_subject_is_refused_or_reads_back_exactly(subject: str) -> None:
    try:
        data = build_message(ack(subject=subject))
    except HeaderValueError:
        return
    assert str(_only_ours(data)["Subject"]) == subject


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_text)
def test_a_display_name_is_refused_or_reads_back_exactly(name: str) -> None:
    try:
        data = build_message(ack(from_name=name))
    except HeaderValueError:
        return
    [sender] = _only_ours(data)["From"].addresses
    assert sender.display_name == name
    assert sender.addr_spec == "info@ordevos.nl"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(hostile_text, hostile_text.map(lambda t: f"jan{t}@example.nl")))
def test_a_recipient_is_refused_or_is_exactly_one_address(address: str) -> None:
    try:
        data = build_message(ack(to=(address,)))
    except HeaderValueError:
        return
    got = _only_ours(data)
    assert [a.addr_spec for a in got["To"].addresses] == [address]
    assert email.message_from_bytes(data).get_all("To") is not None


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["a@b.nl", "jan.de.vries@example.nl", "x+y@mail.example"]), min_size=1))
def test_many_recipients_fold_into_one_to_header(addresses: list[str]) -> None:
    got = _only_ours(build_message(ack(to=tuple(addresses))))
    assert [a.addr_spec for a in got["To"].addresses] == addresses
