"""Which ticket a message names: subject references and our own Message-IDs (R-C10).

Pure string work so the stateless classifier and the pipeline agree on what a reference is. The
pipeline adds the trust decisions (who may use a subject reference); this module only reads.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Reply/forward prefixes of the mail clients our customers use: English, Dutch (Antw, Doorst),
# German (AW, WG), French (TR, RE), Scandinavian/Outlook variants (SV, VS, FW), with optional
# counters like "Re[2]:" or "RE(3):". Repeated prefixes ("Re: Antw: Fwd:") are all removed.
_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|antw|antwoord|fw|fwd|doorst|wg|tr|sv|vs|ref|rif|r)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)


@lru_cache(maxsize=32)
def _ref_pattern(prefix: str) -> re.Pattern[str]:
    """``ORD-2026-00042`` with or without brackets, any case; separators may be '-', '_' or a space.

    The word boundaries stop ``XORD-2026-00042`` or a longer number from matching, so a reference
    inside another company's ticket number is not ours.
    """
    return re.compile(
        rf"(?<![A-Za-z0-9]){re.escape(prefix)}[-_ ]?(\d{{4}})[-_ ]?(\d{{1,6}})(?![0-9])",
        re.IGNORECASE,
    )


def find_ticket_refs(subject: str, prefix: str) -> list[str]:
    """All ticket references in a subject, normalised to ``PREFIX-YYYY-NNNNN``, first one first."""
    if not subject or not prefix:
        return []
    out: list[str] = []
    for match in _ref_pattern(prefix).finditer(subject):
        ref = f"{prefix.upper()}-{match.group(1)}-{int(match.group(2)):05d}"
        if ref not in out:
            out.append(ref)
    return out


def strip_subject_prefixes(subject: str) -> str:
    """Drop Re:/RE:/Antw:/Fwd:/Doorst:/AW:/WG:/TR: (repeated, any case) so subjects compare equal."""
    return _PREFIX.sub("", subject or "").strip()


def is_own_message_id(message_id: str, domain: str) -> bool:
    """True when the Message-ID's right-hand side is exactly our domain.

    Exact, not "ends with": Message-IDs of other systems on sub-domains (the newsletter tool on
    ``news.ordevos.nl``, a coach's Outlook) do not belong to tickets, and a reply to a newsletter
    is a new request, not a reply. The pipeline, which knows the real Message-ID → ticket map,
    does not need this guess.
    """
    if not message_id or not domain:
        return False
    mid = message_id.strip().strip("<>").strip()
    if "@" not in mid:
        return False
    right = mid.rsplit("@", 1)[1].strip().rstrip(".").lower()
    return right == domain.strip().lower().rstrip(".")
