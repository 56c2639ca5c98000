"""Who asked? The identity check of a GDPR request, decided once, proportionately (R-A7, R-C14,
R-C15).

Access, rectification, erasure and restriction act on a person's data, so they are carried out
only for that person. Objection (stop using my data) needs no check: honouring it can only protect
the person. The check is proportionate — no copy of an identity document by default:

- **verified** at once when the request comes from the address on file *and* our own border
  server's ``Authentication-Results`` (only the configured ``authserv-id``; any other such header
  is ignored, since senders can write them) says DMARC passed for the From domain, and the company
  chose to trust that (``identity.trust_dmarc``);
- otherwise **pending**: a challenge goes to the address on file (not to the sender when they
  differ), and a reply carrying its token verifies the request. Staff may verify by other means
  (``tickets verify REF --method …``).

Pure: headers, addresses and the policy come in, a verdict goes out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import authres

from mailbot.domain.model import Category

#: The requests that act on a person's data and so need to know the person (R-C15).
NEEDS_IDENTITY: frozenset[Category] = frozenset(
    {Category.ACCESS, Category.RECTIFICATION, Category.ERASURE, Category.RESTRICTION}
)


class IdentityStatus(StrEnum):
    NOT_NEEDED = "not_needed"
    PENDING = "pending"
    VERIFIED = "verified"


@dataclass(frozen=True)
class IdentityPolicy:
    trust_dmarc: bool = False
    authserv_id: str | None = None


@dataclass(frozen=True)
class IdentityVerdict:
    status: IdentityStatus
    method: str | None = None  # "dmarc", "challenge", or what staff recorded
    challenge_to: str | None = None  # PENDING: the address on file the challenge goes to


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip().lower().rstrip(".")


def dmarc_passed(header_values: Iterable[str], authserv_id: str, from_address: str) -> bool:
    """True when the one ``Authentication-Results`` of our own ``authserv_id`` reports ``dmarc=pass``
    aligned with the From domain. Headers of other ids never count (anyone can write them). Our
    border server removes incoming headers that carry its id and adds its own, so two headers with
    our id mean one is forged — wherever it sits — and nothing is verified; so does one we cannot
    read."""
    wanted = authserv_id.strip().lower()
    ours: list[authres.AuthenticationResultsHeader | None] = []
    for value in header_values:
        try:
            parsed = authres.AuthenticationResultsHeader.parse_value(value)
        except authres.AuthResError:
            if value.split(";", 1)[0].strip().lower() == wanted:
                ours.append(None)
            continue
        if (parsed.authserv_id or "").strip().lower() == wanted:
            ours.append(parsed)
    if len(ours) != 1 or ours[0] is None:
        return False
    for result in ours[0].results:
        if result.method != "dmarc" or result.result != "pass":
            continue
        header_from = [p.value for p in result.properties if p.type == "header" and p.name == "from"]
        if header_from and _domain(str(header_from[0])) == _domain(from_address):
            return True
    return False


def identity_verdict(
    category: Category,
    sender: str | None,
    address_on_file: str | None,
    auth_results: Iterable[str],
    policy: IdentityPolicy,
) -> IdentityVerdict:
    """What the request needs before it is carried out."""
    if category not in NEEDS_IDENTITY:
        return IdentityVerdict(IdentityStatus.NOT_NEEDED)
    on_file = (address_on_file or "").strip().lower() or None
    from_file = bool(sender) and on_file == (sender or "").strip().lower()
    if (
        from_file
        and policy.trust_dmarc
        and policy.authserv_id
        and dmarc_passed(auth_results, policy.authserv_id, sender or "")
    ):
        return IdentityVerdict(IdentityStatus.VERIFIED, method="dmarc")
    return IdentityVerdict(IdentityStatus.PENDING, challenge_to=on_file)
