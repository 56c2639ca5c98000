"""The fast word splitters give exactly the words of the regular expressions they replace.

Rules and language detection read words many times a second; the splitters avoid one regex match
per word, and any difference in what counts as a word would silently change classifications.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mailbot.domain.rules import _WORD, words_of
from mailbot.mail.language import _WORD as LETTERS
from mailbot.mail.language import letter_words

# ASCII (the fast path), accents, digits that are not decimal (², ½), underscores, combining marks,
# dotless/dotted i, long s and the Unicode spaces that str.split() also splits on
TRICKY = st.text(
    alphabet=st.one_of(
        st.characters(max_codepoint=127),
        st.sampled_from("éÉßſİıK²½٣Ⅷ①_\u0301\u200b\u00a0\u2028\u3000\x1c\x85漢字Σς-.,'"),
        st.characters(),
    ),
    max_size=60,
)


def test_words_of_splits_like_the_word_regex() -> None:
    assert words_of("Klacht: e-mail_adres  art.15, réclamation²!") == [
        "Klacht", "e", "mail_adres", "art", "15", "réclamation²",
    ]  # fmt: skip
    assert words_of("") == []
    assert words_of("  \n\t ") == []


def test_letter_words_keeps_letters_only() -> None:
    words = ["ik", "wil", "x", "e", "mail", "adres", "très", "bien"]
    assert letter_words("ik wil 2x e-mail_adres, très bien") == words
    assert letter_words("") == []


@given(TRICKY)
def test_words_of_equals_regex_findall(text: str) -> None:
    assert words_of(text) == _WORD.findall(text)


@given(TRICKY)
def test_letter_words_equals_regex_findall(text: str) -> None:
    assert letter_words(text) == LETTERS.findall(text)
    assert letter_words(text.lower()) == LETTERS.findall(text.lower())
