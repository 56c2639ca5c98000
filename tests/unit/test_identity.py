"""The identity verdict of a GDPR request and whose Authentication-Results count (R-C14, R-C15)."""

from __future__ import annotations

import pytest

from mailbot.domain.identity import IdentityPolicy, IdentityStatus, dmarc_passed, identity_verdict
from mailbot.domain.model import Category

OURS = "mx.ordevos.nl"
TRUST = IdentityPolicy(trust_dmarc=True, authserv_id=OURS)
PASS = (
    f"{OURS}; spf=pass smtp.mailfrom=example.nl; dkim=pass header.d=example.nl;"
    " dmarc=pass header.from=example.nl"
)


def test_dmarc_pass_from_our_server_for_the_from_domain() -> None:
    assert dmarc_passed([PASS], OURS, "jan@example.nl")
    assert dmarc_passed([PASS.upper().replace("JAN", "jan")], OURS.upper(), "jan@EXAMPLE.nl")


@pytest.mark.parametrize(
    "headers",
    [
        [PASS.replace(OURS, "mx.evil.example")],  # another server's word
        [PASS.replace("dmarc=pass", "dmarc=fail")],
        [PASS.replace("header.from=example.nl", "header.from=other.example")],  # not aligned
        [PASS.replace("; dmarc=pass header.from=example.nl", "")],  # no DMARC result
        [PASS, PASS],  # our id twice: one is forged, wherever it sits
        [PASS, f"{OURS}; dmarc=fail header.from=example.nl"],
        [f"{OURS}; dmarc=fail header.from=example.nl", PASS],  # a forged pass below ours
        [f"{OURS}; this is ;;; not = a header", PASS],
        [],
    ],
)
def test_nothing_else_counts(headers: list[str]) -> None:
    assert not dmarc_passed(headers, OURS, "jan@example.nl")


def test_forged_header_of_another_id_above_ours_is_ignored() -> None:
    forged = "mx.attacker.example; dmarc=pass header.from=example.nl"
    failing = f"{OURS}; dmarc=fail header.from=example.nl"
    assert not dmarc_passed([forged, failing], OURS, "jan@example.nl")
    assert dmarc_passed([forged, PASS], OURS, "jan@example.nl")


def test_verdicts() -> None:
    jan = "jan@example.nl"
    assert identity_verdict(Category.OBJECTION, jan, jan, [], TRUST).status is IdentityStatus.NOT_NEEDED
    assert identity_verdict(Category.COMPLAINT, jan, jan, [], TRUST).status is IdentityStatus.NOT_NEEDED
    verified = identity_verdict(Category.ERASURE, jan, jan, [PASS], TRUST)
    assert (verified.status, verified.method) == (IdentityStatus.VERIFIED, "dmarc")
    # Not trusted by the company, or no pass: a challenge to the address on file.
    for policy, headers in ((IdentityPolicy(), [PASS]), (TRUST, [])):
        pending = identity_verdict(Category.ACCESS, jan, jan, headers, policy)
        assert (pending.status, pending.challenge_to) == (IdentityStatus.PENDING, jan)
    # From someone other than the address on file: DMARC proves their domain, not the person.
    other = identity_verdict(Category.ERASURE, "jan@example.nl", "j.jansen@old.example", [PASS], TRUST)
    assert (other.status, other.challenge_to) == (IdentityStatus.PENDING, "j.jansen@old.example")
    for category in (Category.RECTIFICATION, Category.RESTRICTION):
        assert identity_verdict(category, jan, jan, [], TRUST).status is IdentityStatus.PENDING
