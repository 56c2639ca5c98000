"""What the text model reads of a message: one string, built the same way for training and use.

The model must see exactly what it will see in production, so training (``mailbot model train``)
and classification both call :func:`model_text`. It reads the writer's own words (quoted history
is someone else's words and would teach the model our own acknowledgement texts), the subject
twice (people put the request there), forwarded content (a request forwarded by a relative is
still the request), attachment names (a request may live only in "verzoek_inzage.pdf") and a few
structural markers as pseudo-words, so the linear model can weigh shape as well as wording.
"""

from __future__ import annotations

import itertools
import re

from mailbot.mail.parse import ParsedMail
from mailbot.mail.text import READ_LIMIT, MessageText, split_text


def structure_markers(parsed: ParsedMail, *, quoted: bool, forwarded: bool) -> tuple[str, ...]:
    """Shape as words (``zzattach`` …): never a word a writer would use."""
    marks = []
    if parsed.attachments:
        marks.append("zzattach")
    if parsed.html and not parsed.text.strip():
        marks.append("zzhtmlonly")
    if quoted:
        marks.append("zzquoted")
    if forwarded:
        marks.append("zzforward")
    if not parsed.subject.strip():
        marks.append("zznosubject")
    if parsed.in_reply_to or parsed.references:
        marks.append("zzthreaded")
    if parsed.report_type:
        marks.append("zzreport")
    return tuple(marks)


def model_text(parsed: ParsedMail, *, with_subject: bool = True, parts: MessageText | None = None) -> str:
    """Subject, own words, forwarded words, attachment names and shape, as one lower-case string.

    ``with_subject=False`` is for a reply's own request: its subject is our acknowledgement's.
    ``parts`` is the body already split the same way (the rules' split, so classification splits
    each message once); without it the body is split here, as for training.
    """
    if parts is None:
        parts = split_text(parsed.text[:READ_LIMIT], parsed.subject)
    names = " ".join(a.filename for a in parsed.attachments if a.filename)
    marks = structure_markers(parsed, quoted=bool(parts.quoted.strip()), forwarded=bool(parts.forwarded))
    subject = parsed.subject.strip() if with_subject else ""
    return "\n".join(
        p for p in (subject, subject, parts.own, parts.forwarded, names, " ".join(marks)) if p
    ).lower()


TOKEN = re.compile(r"\w\w+")
#: Character n-grams inside word boundaries, as in scikit-learn's ``char_wb``: they catch
#: inflections, compounds and typos ("verwijderd", "gegevensverwijdering", "verwjder") that whole
#: words miss, without a stemmer per language.
CHAR_NGRAMS = (3, 4, 5)
_WORD_CACHE_LIMIT = 200_000


class FeatureExtractor:
    """Text → feature strings (``w:`` words and word pairs, ``c:`` character n-grams).

    One object serves training (as scikit-learn's ``analyzer``) and classification, so the model
    never sees features built differently from the ones it learnt. The character n-grams of a word
    are cached: mail repeats its vocabulary, and this is most of the work.
    """

    def __init__(self) -> None:
        self._grams: dict[str, tuple[str, ...]] = {}

    def __call__(self, text: str) -> list[str]:
        words = TOKEN.findall(text)
        out = ["w:" + w for w in words]
        out.extend(f"w:{a} {b}" for a, b in itertools.pairwise(words))
        cache = self._grams
        for word in text.split():
            grams = cache.get(word)
            if grams is None:
                grams = char_grams(word)
                if len(cache) >= _WORD_CACHE_LIMIT:
                    cache.clear()
                cache[word] = grams
            out.extend(grams)
        return out


def char_grams(word: str) -> tuple[str, ...]:
    padded = f" {word} "
    size = len(padded)
    grams: list[str] = []
    for n in CHAR_NGRAMS:
        if size < n:
            break
        grams.extend("c:" + padded[i : i + n] for i in range(size - n + 1))
    return tuple(grams)
