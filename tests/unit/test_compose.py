"""Outgoing message construction: header safety (R-C12, R-C13), RFC 3834 manners (R-C7), threading
(R-C10) and Message-IDs (R-C9)."""

from __future__ import annotations

import email.policy
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from email.parser import BytesParser

import pytest

from mailbot.mail.compose import (
    AUTO_GENERATED,
    AUTO_REPLIED,
    MAX_REFERENCES,
    HeaderValueError,
    OutgoingMail,
    build_message,
    clean_header_text,
    make_message_id,
    subject_with_ref,
    thread_headers,
)

NOW = datetime(2026, 3, 5, 9, 30, tzinfo=UTC)
CUSTOMER_ID = "<CAF00d.1234@mail.example>"

HOSTILE_SUBJECTS = [
    "Test\r\nBcc: attacker@x",
    "Test\nBcc: attacker@x",
    "Test\rBcc: attacker@x",
    "Test\x00Bcc: attacker@x",
    "=?utf-8?q?a=0D=0ABcc:_x@y?=",
    "Klacht =?utf-8?q?a=0D=0ABcc:_x@y?= over coach",
    "=?utf-8?b?YQ0KQmNjOiB4QHk=?=",
    "=?utf-8?q?=3D=3Futf-8=3Fq=3Fa=3D0D=3D0ABcc=3A=5Fx=40y=3F=3D?=",  # encoded twice
    "Test\u2028Bcc: attacker@x",
    "Test\x85Bcc: attacker@x",
    "Tëst " * 60 + "\r\nBcc: attacker@x",
]


def ack(**overrides: object) -> OutgoingMail:
    values: dict[str, object] = {
        "from_address": "info@ordevos.nl",
        "from_name": "Ordevos",
        "to": ("jan@example.nl",),
        "subject": subject_with_ref("ORD-2026-00042", "Wij hebben uw klacht ontvangen"),
        "text": "Beste Jan,\n\nWij hebben uw klacht ontvangen.\n",
        "html": None,
        "message_id": make_message_id("ordevos.nl"),
        "date": NOW,
        "language": "nl",
        "auto_submitted": AUTO_REPLIED,
        "in_reply_to": CUSTOMER_ID,
        "references": (CUSTOMER_ID,),
        "ticket_ref": "ORD-2026-00042",
    }
    values.update(overrides)
    return OutgoingMail(**values)  # type: ignore[arg-type]


def reparse(data: bytes) -> email.message.EmailMessage:
    msg = BytesParser(policy=email.policy.default).parsebytes(data)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def header_names(data: bytes) -> Counter[str]:
    return Counter(name.lower() for name in reparse(data).keys())  # noqa: SIM118


# -- R-C12: no header injection -------------------------------------------------------------------


@pytest.mark.parametrize("subject", HOSTILE_SUBJECTS)
def test_hostile_subject_cleaned_cannot_add_a_header_R_C12_case_34(subject: str) -> None:
    """A customer subject with CR/LF/NUL or encoded-word tricks becomes one harmless line (case 34)."""
    cleaned = subject_with_ref("ORD-2026-00042", subject)
    assert not any(ch in cleaned for ch in "\r\n\x00\u2028\x85")
    data = build_message(ack(subject=cleaned))
    names = header_names(data)
    assert "bcc" not in names
    assert all(count == 1 for count in names.values()), names
    got = reparse(data)
    # (the 3.11 folder may drop one space between encoded-words of a long subject)
    assert "".join(str(got["Subject"]).split()) == "".join(cleaned.split())
    assert "\n" not in str(got["Subject"]) and "\r" not in str(got["Subject"])
    # and nothing before the body separator looks like a Bcc line
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in head and not head.startswith(b"Bcc:")


@pytest.mark.parametrize(
    "subject", ["Test\r\nBcc: attacker@x", "a\x00b", "a\nb", "=?utf-8?q?a=0D=0ABcc:_x@y?="]
)
def test_raw_hostile_subject_is_refused_R_C12(subject: str) -> None:
    """build_message refuses rather than trusts the library: Python 3.11.7 predates CVE-2024-6923's fix."""
    with pytest.raises(HeaderValueError):
        build_message(ack(subject=subject))


@pytest.mark.parametrize(
    "name",
    [
        "Ordevos\r\nBcc: attacker@x",
        "Ordevos\nBcc: attacker@x",
        "Ordevos\x00",
        "=?utf-8?q?a=0D=0ABcc:_x@y?=",
        '"=?utf-8?q?a=0D=0ABcc:_x@y?=" ',
    ],
)
def test_hostile_display_name_is_refused_R_C12(name: str) -> None:
    with pytest.raises(HeaderValueError):
        build_message(ack(from_name=name))


@pytest.mark.parametrize(
    "field,value",
    [
        ("to", ("jan@example.nl\r\nBcc: x@y",)),
        ("to", ("jan@example.nl, evil@x.tld",)),
        ("to", ('"ceo@ordevos.nl" <evil@x.tld>',)),
        ("to", ("jan@@example.nl",)),
        ("to", ("jan@example",)),
        ("to", ("jan example@example.nl",)),
        ("to", ()),
        ("from_address", "info@ordevos.nl\x00"),
        ("reply_to", "a@b.nl\nBcc: x@y"),
    ],
)
def test_addresses_are_parsed_strictly_R_C13(field: str, value: object) -> None:
    """An address is one plain addr-spec or nothing: no lists, no display-name games (case 35)."""
    with pytest.raises(HeaderValueError):
        build_message(ack(**{field: value}))


@pytest.mark.parametrize(
    "field,value",
    [
        ("message_id", "<a@b.nl>\r\nBcc: x@y"),
        ("message_id", "no-brackets@ordevos.nl"),
        ("in_reply_to", "<a@b>\nX: y"),
        ("references", ("<a@b.nl> <c@d.nl>",)),
        ("language", "nl\r\nBcc: x@y"),
        ("ticket_ref", "ORD-1\r\nBcc: x@y"),
        ("auto_submitted", "auto-replied\r\nBcc: x@y"),
        ("auto_submitted", "no"),
    ],
)
def test_every_other_header_value_is_validated_R_C12(field: str, value: object) -> None:
    with pytest.raises(HeaderValueError):
        build_message(ack(**{field: value}))


def test_naive_date_is_refused() -> None:
    with pytest.raises(ValueError):
        build_message(ack(date=datetime(2026, 3, 5, 9, 30)))


def test_clean_header_text_folds_and_trims_R_C11() -> None:
    assert clean_header_text("  Klacht\r\n\tover   coach\x00 ") == "Klacht over coach"
    assert clean_header_text("=?UTF-8?Q?Klacht_over_coach?=") == "Klacht over coach"
    assert clean_header_text("Wat kost het?=") == "Wat kost het?="
    long = clean_header_text("x" * 500, max_len=50)
    assert len(long) == 50 and long.endswith("…")


def test_non_ascii_subject_is_encoded_by_the_library_R_C11() -> None:
    subject = subject_with_ref("ORD-2026-00042", "Klacht über die Coachin — ƒ " * 6)
    data = build_message(ack(subject=subject))
    head = data.split(b"\r\n\r\n", 1)[0]
    head.decode("ascii")  # 7-bit header block: encoded-words, not raw UTF-8
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    assert str(reparse(data)["Subject"]) == subject


# -- R-C7 / case 31: manners ----------------------------------------------------------------------


def test_acknowledgement_headers_R_C7_case_31() -> None:
    data = build_message(ack())
    got = reparse(data)
    assert got["Auto-Submitted"] == "auto-replied"
    assert got["X-Auto-Response-Suppress"] == "All"
    assert got["In-Reply-To"] == CUSTOMER_ID
    assert got["References"] == CUSTOMER_ID
    assert got["Content-Language"] == "nl"
    assert got["X-Mailbot-Ticket"] == "ORD-2026-00042"
    assert got["To"] == "jan@example.nl"
    assert got["From"].addresses[0].addr_spec == "info@ordevos.nl"
    assert got["Subject"].startswith("[ORD-2026-00042] ")
    assert got["Date"].datetime == NOW
    assert "bcc" not in header_names(data) and "cc" not in header_names(data)
    assert data.count(b"\r\n") > 0 and b"\n" not in data.replace(b"\r\n", b"")


def test_digest_is_auto_generated_R_C7() -> None:
    got = reparse(build_message(ack(auto_submitted=AUTO_GENERATED, in_reply_to=None, references=())))
    assert got["Auto-Submitted"] == "auto-generated"
    assert got["X-Auto-Response-Suppress"] == "All"
    assert got["In-Reply-To"] is None and got["References"] is None


def test_staff_reply_has_no_auto_submitted_R_C7_case_31() -> None:
    got = reparse(build_message(ack(auto_submitted=None)))
    assert got["Auto-Submitted"] is None
    assert got["X-Auto-Response-Suppress"] is None
    assert got["In-Reply-To"] == CUSTOMER_ID


def test_exactly_the_headers_we_set() -> None:
    data = build_message(ack(html="<p>Hallo</p>", reply_to="info@ordevos.nl", language="nl, en"))
    names = header_names(data)
    assert set(names) == {
        "from",
        "to",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "auto-submitted",
        "x-auto-response-suppress",
        "x-mailbot-ticket",
        "mime-version",
        "content-type",
        "content-language",
    }
    assert all(count == 1 for count in names.values())
    got = reparse(data)
    assert got.get_content_type() == "multipart/alternative"
    assert got.get_body(("plain",)).get_content().startswith("Beste Jan")  # type: ignore[union-attr]
    assert got.get_body(("html",)).get_content().strip() == "<p>Hallo</p>"  # type: ignore[union-attr]
    assert got["Content-Language"] == "nl, en"


def test_every_header_line_is_one_we_wrote_R_C12() -> None:
    """By construction: each line of the header block starts a header we set or continues one."""
    data = build_message(ack(subject=subject_with_ref("ORD-2026-00042", "Klacht über " * 30)))
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    starts = [line.split(":", 1)[0].lower() for line in head.split("\r\n") if not line.startswith(" ")]
    assert sorted(starts) == sorted(header_names(data).elements())
    assert all(len(line) <= 78 for line in head.split("\r\n"))


# -- R-C10: threading -----------------------------------------------------------------------------


def test_thread_headers_R_C10() -> None:
    assert thread_headers("<p@x.nl>", ["<a@x.nl>", "<b@x.nl>"], ["<b@x.nl>"]) == (
        "<p@x.nl>",
        ("<a@x.nl>", "<b@x.nl>", "<p@x.nl>"),
    )
    # no References: the parent's In-Reply-To, then the parent
    assert thread_headers("<p@x.nl>", [], ["<b@x.nl>"]) == ("<p@x.nl>", ("<b@x.nl>", "<p@x.nl>"))
    # first message of a thread
    assert thread_headers("<p@x.nl>", [], []) == ("<p@x.nl>", ("<p@x.nl>",))
    # no Message-ID on the parent: no In-Reply-To, References carried over
    assert thread_headers(None, ["<a@x.nl>"], []) == (None, ("<a@x.nl>",))


def test_thread_headers_drop_hostile_and_trim_R_C10() -> None:
    refs = [f"<r{i}@x.nl>" for i in range(50)] + ["<evil@x>\r\nBcc: y@z", "not-an-id", "<r3@x.nl>"]
    in_reply_to, references = thread_headers("<p@x.nl>\r\nBcc: y@z", refs, [])
    assert in_reply_to is None  # a malformed parent id is not repeated
    assert len(references) == MAX_REFERENCES
    assert references[0] == "<r0@x.nl>" and references[-1] == "<r49@x.nl>"
    assert all("\r" not in r and "\n" not in r for r in references)
    build_message(ack(in_reply_to=None, references=references))


def test_reply_threads_to_customer_message_after_reparse_R_C10() -> None:
    in_reply_to, references = thread_headers(CUSTOMER_ID, ["<root@mail.example>"], [])
    got = reparse(build_message(ack(in_reply_to=in_reply_to, references=references)))
    assert got["In-Reply-To"] == CUSTOMER_ID
    assert got["References"].split() == ["<root@mail.example>", CUSTOMER_ID]


def test_subject_with_ref_never_doubles() -> None:
    once = subject_with_ref("ORD-2026-00042", "Re: [ORD-2026-00042] Klacht")
    assert once == "Re: [ORD-2026-00042] Klacht"
    assert subject_with_ref("ORD-2026-00042", "Klacht") == "[ORD-2026-00042] Klacht"
    assert subject_with_ref("ORD-2026-00042", subject_with_ref("ORD-2026-00042", "x")) == "[ORD-2026-00042] x"
    assert subject_with_ref("ORD-2026-00042", "") == "[ORD-2026-00042]"
    with pytest.raises(HeaderValueError):
        subject_with_ref("ORD\r\nBcc: x", "Klacht")


# -- R-C9 / case 32: Message-IDs ------------------------------------------------------------------


def test_message_ids_unique_and_on_our_domain_R_C9_case_32() -> None:
    ids = [make_message_id("mail.ordevos.nl") for _ in range(10_000)]
    assert len(set(ids)) == 10_000
    assert all(i.startswith("<") and i.endswith("@mail.ordevos.nl>") for i in ids)
    got = reparse(build_message(ack(message_id=ids[0])))
    assert got["Message-ID"] == ids[0]


@pytest.mark.parametrize("domain", ["", "ordevos", "ordevos.nl>", "a b.nl", "ordevos.nl\r\n"])
def test_message_id_domain_is_validated_R_C9(domain: str) -> None:
    with pytest.raises(HeaderValueError):
        make_message_id(domain)


def test_date_keeps_its_offset() -> None:
    amsterdam = timezone(timedelta(hours=1))
    got = reparse(build_message(ack(date=NOW.astimezone(amsterdam))))
    assert got["Date"].datetime == NOW
    assert str(got["Date"]).endswith("+0100")
