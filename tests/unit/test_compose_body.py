"""The directly written MIME body (``mailbot.mail.body``) encodes text exactly as the library's
content manager does under ``policy.SMTP``, so readers see the same text as before issue 15."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage
from email.parser import BytesParser

from hypothesis import given, settings
from hypothesis import strategies as st

from mailbot.mail.body import text_body

texts = st.one_of(
    st.text(max_size=400),
    st.lists(
        st.sampled_from(
            ["Beste Jan,", "", "x" * 77, "y" * 79, "Tëst über ƒ", "=?utf-8?q?a?=", "a=b", " ", "."]
        ),
        max_size=30,
    ).map("\n".join),
    st.text(alphabet="ab \n\r=.é", max_size=300),
)


def _library(text: str, html: str | None) -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg.set_content(text, charset="utf-8")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg.as_bytes(policy=email.policy.SMTP)


def _parse(data: bytes) -> EmailMessage:
    msg = BytesParser(policy=email.policy.default).parsebytes(data)
    assert isinstance(msg, EmailMessage)
    return msg


@settings(max_examples=500, deadline=None)
@given(texts)
def test_a_text_body_is_byte_for_byte_the_librarys(text: str) -> None:
    ours = text_body(text, None)
    theirs = _library(text, None)
    assert ours.split(b"\r\n\r\n", 1)[1] == theirs.split(b"\r\n\r\n", 1)[1]
    got, want = _parse(ours), _parse(theirs)
    assert got["Content-Transfer-Encoding"] == want["Content-Transfer-Encoding"]
    assert got.get_content() == want.get_content()


@settings(max_examples=300, deadline=None)
@given(texts, texts)
def test_text_and_html_read_back_as_the_librarys(text: str, html: str) -> None:
    got, want = _parse(text_body(text, html)), _parse(_library(text, html))
    assert got.get_content_type() == want.get_content_type() == "multipart/alternative"
    assert not got.defects
    for kind in ("plain", "html"):
        ours, theirs = got.get_body((kind,)), want.get_body((kind,))
        assert ours is not None and theirs is not None
        assert ours.get_content() == theirs.get_content()
        assert ours["Content-Transfer-Encoding"] == theirs["Content-Transfer-Encoding"]
