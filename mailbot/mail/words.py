"""Splitting text into words as a regular expression would, without one regex match per word.

``pattern.findall(text)`` costs a match object and a string per word, which made it the main cost
of reading mail for rules and language detection. A word never contains whitespace, so the text is
split at whitespace first: a token made only of word characters is one word, and only the other
tokens ("e-mail", "klacht.") go to the regex. In ASCII text (most mail) one ``bytes.translate``
that blanks the non-word bytes makes every token a word.
"""

from __future__ import annotations

import re
from collections.abc import Callable

WordSplitter = Callable[[str], list[str]]


def word_splitter(
    pattern: re.Pattern[str], ascii_word_chars: bytes, is_whole_word: Callable[[str], bool]
) -> WordSplitter:
    """A function giving exactly ``pattern.findall(text)``.

    ``ascii_word_chars``: the ASCII characters the pattern matches; ``is_whole_word(token)``: true
    only when the pattern matches all of the (whitespace-free) token as one word.
    """
    keep = frozenset(ascii_word_chars)
    table = bytes(b if b in keep else ord(" ") for b in range(256))
    findall = pattern.findall

    def split(text: str) -> list[str]:
        if text.isascii():
            return text.encode("ascii").translate(table).decode("ascii").split()
        words: list[str] = []
        for token in text.split():
            if is_whole_word(token):
                words.append(token)
            else:
                words.extend(findall(token))
        return words

    return split
