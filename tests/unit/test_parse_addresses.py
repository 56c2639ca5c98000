"""Address fast paths agree with the strict RFC 5322 parser they stand in for (R-C13).

``strict_addresses`` reads the plainest forms with regular expressions because the strict parser
costs about a millisecond a header; these tests generate the forms each fast path accepts (and
near misses) and require the same answer as the strict parser alone.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mailbot.mail.parse import _strict_slow, strict_addresses

LOCAL = st.sampled_from(["MAILER-DAEMON", "jan.de.vries", "a+b", "x"])
DOMAIN = st.sampled_from(["example.nl", "mail.example.co.uk", "SomeServer", "b.c"])
COMMENT = st.text(alphabet=" azAZ09.-_@,;:<>\"'()\\\u00e9", max_size=20)
SPACE = st.sampled_from(["", " ", "  ", "\t"])


@given(LOCAL, DOMAIN, COMMENT, SPACE, SPACE)
def test_commented_address_as_the_strict_parser_reads_it_R_C13(
    local: str, domain: str, comment: str, before: str, after: str
) -> None:
    value = f"{before}{local}@{domain}{before}({comment}){after}"
    assert strict_addresses([value]) == (_strict_slow(value.strip()) or [])


def test_mailer_daemon_comment_form() -> None:
    value = "MAILER-DAEMON@server4.example.co.uk (Mail Delivery System)"
    assert strict_addresses([value]) == [("", "MAILER-DAEMON@server4.example.co.uk")]


def test_comment_never_supplies_the_address_R_C13() -> None:
    assert strict_addresses(["(ceo@ordevos.nl) evil@x.example"]) == [("", "evil@x.example")]
    assert strict_addresses(["evil@x.example (ceo@ordevos.nl)"]) == [("", "evil@x.example")]
