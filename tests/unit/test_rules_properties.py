"""Property tests: random headers and bodies never crash parsing or classification."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailbot.domain.model import Category, Classification, Organisation
from mailbot.domain.rules import classify_content, classify_unparseable
from mailbot.mail.parse import UnparseableMail, parse_message
from mailbot.mail.text import split_text
from tests.support.classify import classify
from tests.unit.test_rules_support import shipped_rules

ORG = Organisation()
HEADER_NAMES = st.sampled_from(
    [
        "From", "To", "Cc", "Subject", "Return-Path", "Auto-Submitted", "Precedence", "List-Id",
        "X-Auto-Response-Suppress", "In-Reply-To", "References", "Message-ID", "Content-Type",
        "Content-Transfer-Encoding", "Content-Disposition", "Reply-To", "X-Autoreply", "Date",
    ]
)  # fmt: skip
HEADER_VALUE = st.one_of(
    st.text(max_size=80).map(lambda s: s.replace("\r", " ").replace("\n", " ")),
    st.sampled_from(
        [
            "multipart/mixed; boundary=x",
            "multipart/report; report-type=delivery-status",
            "text/plain; charset=bogus-charset",
            "=?utf-8?q?Klacht_=E2=82?=",
            "=?UTF-8?B?!!!?=",
            '"ceo@ordevos.nl" <evil@x.example>',
            "<>",
            "auto-replied; owner-email=x",
            "base64",
            "[ORD-2026-00042]",
            "<a@ordevos.nl> <b@example.org>",
            "attachment; filename*=utf-8''%E2%82",
        ]
    ),
)
BODY = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=400).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"--x\r\nContent-Type: text/html\r\n\r\n<p>klacht</p>\r\n--x--", b"> quoted\n-- \nsig"]),
)


def _assemble(headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("utf-8", "surrogatepass")
    return head + b"\r\n" + body


def _check(result: Classification) -> None:
    assert isinstance(result.category, Category)
    assert 0.0 <= result.confidence <= 1.0
    assert result.rule


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUE), max_size=12), BODY)
def test_random_headers_and_bodies_never_crash_classify(headers: list[tuple[str, str]], body: bytes) -> None:
    raw = _assemble(headers, body)
    try:
        parsed = parse_message(raw)
    except UnparseableMail as exc:
        _check(classify_unparseable(str(exc)))
        return
    _check(classify(parsed, shipped_rules(), ORG))
    _check(classify_content(parsed, shipped_rules(), ORG))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_parse_or_are_refused_cleanly(raw: bytes) -> None:
    try:
        parsed = parse_message(raw)
    except UnparseableMail:
        return
    _check(classify(parsed, shipped_rules(), ORG))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=600), st.text(max_size=40))
def test_text_splitting_never_invents_words(text: str, subject: str) -> None:
    """Stripping only removes: every own/forwarded line comes from the input."""
    parts = split_text(text, subject)
    source_lines = {line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")}
    for line in (parts.own + "\n" + parts.forwarded).split("\n"):
        assert not line.strip() or line.strip() in source_lines
