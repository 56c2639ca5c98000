"""What the person wrote now: their own words, without quoted history, signatures or disclaimers.

Classification must read the message, not its baggage: a reply that quotes our "Klacht" ack is
not a new complaint, and a footer saying "verwijder dit bericht" is not an erasure request. A
forwarded message is different: the sender passes it on *as* their message (a daughter forwarding
her mother's complaint), so its body is kept and only its header block (Van/Aan/Onderwerp) goes.

Line-based and regex-only, so it is fast and never raises on odd input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FORWARD_SUBJECT = re.compile(r"^\s*(?:(?:re|aw|antw)\s*:\s*)*(?:fwd?|doorst|wg|tr|fw)\s*:", re.IGNORECASE)

_FORWARD_MARKER = re.compile(
    r"^\s*(?:-{2,}|_{2,})?\s*(?:forwarded message|doorgestuurd bericht|weitergeleitete nachricht|"
    r"message transf[ée]r[ée]|begin forwarded message|begin doorgestuurd bericht|"
    r"doorgestuurd bericht|forwarded by)\b.*$",
    re.IGNORECASE,
)
_ORIGINAL_MARKER = re.compile(
    r"^\s*-{2,}\s*(?:original message|oorspronkelijk bericht|origineel bericht|urspr[üu]ngliche nachricht|"
    r"message d'origine|original nachricht)\s*-{2,}\s*$",
    re.IGNORECASE,
)
# "Op 3 feb 2026 om 07:30 schreef X <x@y>:", "On Mon, ... wrote:", "Am ... schrieb ...:", "Le ... a écrit :"
_ATTRIBUTION = re.compile(
    r"^\s*(?:op|on|am|le|el|il)\b.{3,300}?\b(?:schreef|wrote|schrieb|a\s+[ée]crit|escribi[óo]|ha\s+scritto|"
    r"heeft\b.{0,80}\bgeschreven|het volgende geschreven)(?:\s.{0,200})?:\s*$|"
    r"^\s*(?:op|on|am|le)\b.{3,300}?\b(?:schreef|wrote|schrieb|a\s+[ée]crit)\s*$",
    re.IGNORECASE,
)
_HEADER_LINE = re.compile(
    r"^\s*\*?(?:van|from|von|de|aan|to|an|à|a|cc|bcc|onderwerp|subject|betreff|objet|datum|date|"
    r"verzonden|sent|gesendet|envoy[ée]|reply-to|beantwoorden aan)\*?\s*:",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\s*\*?(?:van|from|von|de)\*?\s*:\s*\S", re.IGNORECASE)
_HEADER_SENT = re.compile(
    r"^\s*\*?(?:verzonden|sent|gesendet|envoy[ée]|datum|date|onderwerp|subject|betreff|objet)\*?\s*:",
    re.IGNORECASE,
)
_RULE_LINE = re.compile(r"^\s*[_=-]{8,}\s*$")
_SIG_DELIM = re.compile(r"^(?:--|__)\s*$")
_CLOSING = re.compile(
    r"^\s*(?:met\s+(?:vriendelijke|hartelijke|beste|warme)\s+groet(?:en)?|vriendelijke\s+groet(?:en)?|"
    r"hartelijke\s+groet(?:en)?|(?:veel\s+|lieve\s+|beste\s+)?groet(?:en|jes)?|mvg|m\.v\.g\.?|gr\.?|"
    r"kind\s+regards|best\s+regards|warm\s+regards|regards|best\s+wishes|best|cheers|sincerely|"
    r"yours\s+(?:sincerely|faithfully|truly)|many\s+thanks|thanks|thank\s+you|"
    r"mit\s+freundlichen\s+gr[üu](?:ß|ss)en|freundliche\s+gr[üu](?:ß|ss)e|viele\s+gr[üu](?:ß|ss)e|"
    r"beste\s+gr[üu](?:ß|ss)e|lg|cordialement|bien\s+cordialement|bien\s+[àa]\s+vous|salutations|"
    r"sent\s+from\s+my\s+\w+.*|verzonden\s+(?:vanaf|met)\s+.*|verstuurd\s+(?:vanaf|met)\s+.*|"
    r"envoy[ée]\s+de\s+mon\s+.*|von\s+meinem\s+.*\s+gesendet)\s*[,.!]?\s*$",
    re.IGNORECASE,
)
# A paragraph that is a legal disclaimer or confidentiality footer, in any of our languages: either
# an unmistakable disclaimer phrase, or "confidential" together with "if you got this by mistake,
# delete it". A complaint *about* confidentiality has the first word but not the second.
_DISCLAIMER_STRONG = re.compile(
    r"(?:\bdisclaimer\b|"
    r"(?:niet|not)\s+(?:de\s+|the\s+|an\s+)?(?:beoogde|bedoelde|juiste|intended)\s+(?:ontvanger|geadresseerde|recipient|addressee)|"
    r"uitsluitend\s+(?:bestemd|bedoeld)|intended\s+(?:solely|only|exclusively)\s+for|"
    r"nicht\s+der\s+(?:richtige|beabsichtigte)\s+(?:adressat|empf[äa]nger)|destinataire\s+(?:exclusif|pr[ée]vu)|"
    r"aan\s+dit\s+(?:bericht|e-?mail)\s+kunnen\s+geen\s+rechten|no\s+rights\s+(?:can|may)\s+be\s+derived|"
    r"(?:think|consider)\s+(?:of|about)?\s*the\s+environment|denk\s+aan\s+het\s+milieu|"
    r"ingeschreven\s+(?:in|bij)\s+(?:het\s+handelsregister|de\s+kamer\s+van\s+koophandel))",
    re.IGNORECASE,
)
_DISCLAIMER_CONF = re.compile(r"vertrouwelijk|confidential|vertraulich|confidentiel", re.IGNORECASE)
_DISCLAIMER_ACT = re.compile(
    r"(?:per\s+abuis|abusievelijk|ten\s+onrechte|onbedoeld|in\s+error|by\s+mistake|irrt[üu]mlich|par\s+erreur)",
    re.IGNORECASE,
)
# Lines that could start a quote, forward, signature or header block; anything else is plain text
# and skips the detailed checks (most lines of most mail).
_CANDIDATE = re.compile(
    r"^\s*(?:[>\-_=*]|(?:op|on|am|le|el|il|van|from|von|de|aan|to|an|begin|forwarded|doorgestuurd|"
    r"weitergeleitete|message|met|vriendelijke|hartelijke|groet\w*|veel|lieve|beste|mvg|m\.v\.g|gr|kind|best|"
    r"warm|regards|cheers|sincerely|yours|many|thanks|thank|mit|freundliche|viele|lg|cordialement|bien|"
    r"salutations|sent|verzonden|verstuurd|envoy\w*|gesendet|datum|date|onderwerp|subject|betreff|objet|cc)\b)",
    re.IGNORECASE,
)
_BLANK_SPLIT = re.compile(r"\n[ \t]*\n")
# A postscript below the sign-off is the writer's own words again, and people put requests there
# ("PS: jullie hoeven verder niets van mij te bewaren, mag allemaal weg").
_POSTSCRIPT = re.compile(r"^\s*(?:p\.?\s?p?\.?\s?s\b\.?|n\.?\s?b\.?(?=[\s:]))\s*[:.,-]?", re.IGNORECASE)


@dataclass(frozen=True)
class MessageText:
    """A body split by who wrote it: ``own`` (now), ``forwarded`` (passed on), ``quoted`` (history)."""

    own: str
    forwarded: str
    quoted: str

    @property
    def current(self) -> str:
        """What the sender is telling us now: their words plus what they deliberately forward."""
        if self.forwarded:
            return f"{self.own}\n\n{self.forwarded}" if self.own else self.forwarded
        return self.own


def _is_outlook_header_block(lines: list[str], i: int) -> bool:
    """``Van: … / Verzonden: … / Onderwerp: …`` (Outlook's reply/forward header) starting at line i."""
    if not _HEADER_FROM.match(lines[i]):
        return False
    seen = 0
    for line in lines[i + 1 : i + 6]:
        if _HEADER_SENT.match(line):
            seen += 1
        elif line.strip() and not _HEADER_LINE.match(line):
            break
    return seen >= 1


_ATTRIBUTION_START = re.compile(r"^\s*(?:op|on|am|le)\b", re.IGNORECASE)


def _is_attribution(lines: list[str], i: int) -> bool:
    line = lines[i]
    if len(line) > 400:
        return False
    if _ATTRIBUTION.match(line):
        return True
    # Clients wrap long attribution lines: "Op di 3 feb 2026 om 07:30 schreef X <\nx@y>:"
    if i + 1 < len(lines) and _ATTRIBUTION_START.match(line):
        return bool(_ATTRIBUTION.match(line.rstrip() + " " + lines[i + 1].strip()))
    return False


# Words at least one of which every disclaimer pattern above needs (lower-case): "niet de beoogde
# ontvanger" needs its qualifier, "no rights can be derived" its last word. Bounces say "recipient"
# all the time; the qualifiers are rare, so few paragraphs reach the costly expressions.
_DISCLAIMER_HINTS = (
    "disclaimer",
    "beoogde",
    "bedoeld",
    "juiste",
    "intended",
    "uitsluitend",
    "adressat",
    "empf",
    "destinataire",
    "rechten",
    "derived",
    "environment",
    "milieu",
    "ingeschreven",
    "confiden",
    "vertrouw",
    "vertraul",
)


def _hints_in(text: str, hints: tuple[str, ...] = _DISCLAIMER_HINTS) -> tuple[str, ...]:
    """The hint words in the text. A disclaimer needs one of them: a cheap test, as the regular
    expressions are costly on long text."""
    lowered = text.lower()
    return tuple(hint for hint in hints if hint in lowered)


def _is_disclaimer(paragraph: str, hints: tuple[str, ...]) -> bool:
    if not _hints_in(paragraph, hints):
        return False
    if _DISCLAIMER_STRONG.search(paragraph):
        return True
    return bool(_DISCLAIMER_CONF.search(paragraph) and _DISCLAIMER_ACT.search(paragraph))


def _drop_disclaimers(text: str) -> str:
    if not text:
        return text
    paragraphs = _BLANK_SPLIT.split(text)
    hints = _hints_in(text)
    if hints:  # most mail has none at all; where some occur, paragraphs need only look for those
        paragraphs = [p for p in paragraphs if not _is_disclaimer(p, hints)]
    return "\n\n".join(p.strip("\n") for p in paragraphs).strip()


#: Characters of a body that classification reads (rules and text model alike): people state
#: their intent early; beyond this are signatures, disclaimers and pasted documents.
READ_LIMIT = 8_000


def split_text(text: str, subject: str = "") -> MessageText:
    """Split a plain-text body into own words, forwarded content and quoted history."""
    if not text:
        return MessageText("", "", "")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    forwarding = bool(_FORWARD_SUBJECT.match(subject or ""))
    own: list[str] = []
    fwd: list[str] = []
    quoted: list[str] = []
    mode = "own"  # own | fwd_headers | fwd | sig | quote
    target = own
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        stripped = line.strip()
        if mode == "quote":
            quoted.append(line)
            i += 1
            continue
        if mode in ("own", "fwd") and not _CANDIDATE.match(line):
            target.append(line)
            i += 1
            continue
        if mode != "fwd_headers" and (
            _FORWARD_MARKER.match(line)
            or (forwarding and (_ORIGINAL_MARKER.match(line) or _is_outlook_header_block(lines, i)))
        ):
            mode, target = "fwd_headers", fwd
            if _is_outlook_header_block(lines, i):
                continue  # let the header skipper eat the Van:/Aan: lines
            i += 1
            continue
        if mode == "fwd_headers":
            if _HEADER_LINE.match(line) or not stripped:
                i += 1
                continue
            mode = "fwd"
        if _ORIGINAL_MARKER.match(line) or _is_outlook_header_block(lines, i) or _is_attribution(lines, i):
            mode = "quote"
            continue
        if _RULE_LINE.match(line) and i + 1 < n and _is_outlook_header_block(lines, i + 1):
            i += 1
            continue
        if stripped.startswith(">"):
            quoted.append(line)
            i += 1
            continue
        if mode == "sig" and _POSTSCRIPT.match(line):
            mode, target = "own", own
        if mode == "sig":
            i += 1
            continue
        if _SIG_DELIM.match(line) or (len(stripped) <= 60 and _CLOSING.match(stripped)):
            mode = "sig"
            i += 1
            continue
        target.append(line)
        i += 1
    return MessageText(
        own=_drop_disclaimers("\n".join(own).strip()),
        forwarded=_drop_disclaimers("\n".join(fwd).strip()),
        quoted="\n".join(quoted).strip(),
    )


def current_text(text: str, subject: str = "") -> str:
    """The words to classify: own text plus forwarded content, no history, signature or disclaimer."""
    return split_text(text, subject).current


def answer_text(text: str) -> str:
    """A staff member's answer as the customer should read it: everything above the quoted history
    (an attribution line, an Outlook header block, "-----Original Message-----", ``>`` lines) and
    above the ``-- `` signature delimiter. Unlike :func:`split_text` it keeps the closing greeting
    and the name: that is part of the answer, not baggage."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if line.strip().startswith(">") or _SIG_DELIM.match(line):
            break
        if _ORIGINAL_MARKER.match(line) or _is_outlook_header_block(lines, i) or _is_attribution(lines, i):
            break
        if _RULE_LINE.match(line) and i + 1 < len(lines) and _is_outlook_header_block(lines, i + 1):
            break
        kept.append(line)
    return "\n".join(kept).strip()
