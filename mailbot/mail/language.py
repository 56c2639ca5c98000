"""Which language a message is written in (nl, en, de, fr), for templates and per-language rules.

A stopword count rather than a statistical model: mail to a Dutch coaching company is short,
the four languages have distinctive function words, and counting them costs microseconds.
Ties and silence fall back to the caller's default (the company's language).
"""

from __future__ import annotations

import re

from mailbot.mail.words import word_splitter


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS: dict[str, frozenset[str]] = {
    "nl": _words(
        "de het een en van ik je jij u uw mijn mij jullie wij we zij ze niet is zijn was met voor op aan "
        "dat die dit deze er maar ook nog al wel geen graag hebben heb heeft wil kan kunt kunnen "
        "wordt worden naar om bij als dan tot uit over hoe wat wie waar want omdat hier daar "
        "alstublieft bedankt groet groeten beste geachte hallo hoi goedemorgen goedemiddag"
    ),
    "en": _words(
        "the a an and of to in is are was were be been i you your my me we our they it this that "
        "not no with for on at by from have has had would could can will please thank thanks "
        "dear hello hi regards what which who how about there here do does did am"
    ),
    "de": _words(
        "der die das und ist ich sie ihr ihre ihnen mein meine mich mir wir nicht ein eine einen "
        "mit für auf zu von den dem des bei auch noch bitte danke sehr geehrte damen herren "
        "haben habe hat wird werden ist sind war gruß grüße freundlichen hallo über dass"
    ),
    "fr": _words(
        "le la les un une et de des du je vous votre vos mon ma mes nous ne pas est sont avec "
        "pour sur dans au aux que qui ce cette merci bonjour madame monsieur cordialement "
        "avoir ai avez suis été très par en"
    ),
}
_WORD = re.compile(r"[^\W\d_]+")
LANGUAGES: tuple[str, ...] = tuple(_STOPWORDS)
_LANGS_OF: dict[str, tuple[str, ...]] = {}
for _lang, _stopwords in _STOPWORDS.items():
    for _w in _stopwords:
        _LANGS_OF[_w] = (*_LANGS_OF.get(_w, ()), _lang)


# "letters, not digits or underscore": A-Z and a-z in ASCII; str.isalpha() tokens are one word
letter_words = word_splitter(_WORD, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", str.isalpha)


def language_scores(text: str) -> dict[str, int]:
    """Stopword hits per language, for callers that want to see a mixed message."""
    scores = dict.fromkeys(_STOPWORDS, 0)
    langs_of = _LANGS_OF.get
    for word in letter_words(text.lower()):
        langs = langs_of(word)
        if langs:
            for lang in langs:
                scores[lang] += 1
    return scores


def detect_language(text: str, default: str = "nl") -> str:
    """The language with the most stopword hits; ``default`` when there is no clear signal."""
    scores = language_scores(text[:1500])
    best = max(scores, key=lambda lang: (scores[lang], lang == default))
    if scores[best] < 2:
        return default
    return best


_ENGLISH_NAMES = {"nl": "Dutch", "en": "English", "de": "German", "fr": "French"}


def reads(language: str | None) -> str:
    """For staff: which language a requester reads, and so which their letters and answers are in
    (Dutch and English get their own; any other gets Dutch and English, and staff answer in
    English — the templates' rule). Issue 17."""
    code = (language or "nl").strip().lower().split("-")[0] or "nl"
    name = _ENGLISH_NAMES.get(code, code)
    if code == "nl":
        return f"{name} (letters and your answer in Dutch)"
    if code == "en":
        return f"{name} (letters and your answer in English)"
    return f"{name} (letters in Dutch and English; answer in English)"
