"""HTML-only mail → plain text, so rules read what the person wrote, not the markup.

A small regex converter rather than a full renderer: classification needs words and line breaks,
at thousands of messages a second. It keeps one thing renderers drop: quoted history
(``<blockquote>``, Gmail/Outlook quote containers) comes out as ``> `` lines, so the quote
stripper in :mod:`mailbot.mail.text` can remove it just as for plain-text mail.
"""

from __future__ import annotations

import html as _html
import re

_DROP = re.compile(r"<(head|style|script|title|xml)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_QUOTE_OPEN = re.compile(
    r"<blockquote\b[^>]*>|<div\b[^>]*class=[\"']?[^\"'>]*(?:gmail_quote|moz-cite-prefix|yahoo_quoted)[^>]*>",
    re.IGNORECASE,
)
_QUOTE_CLOSE = re.compile(r"</blockquote\s*>", re.IGNORECASE)
_BREAK = re.compile(r"<br\s*/?>|</?(?:p|div|tr|li|h[1-6]|table|ul|ol|hr|pre)\b[^>]*>", re.IGNORECASE)
_CELL = re.compile(r"</t[dh]\s*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANKS = re.compile(r"\n\s*\n\s*\n+")
_OPEN, _CLOSE = "\x01", "\x02"


def html_to_text(html: str) -> str:
    """Render HTML as text; broken markup yields what can be salvaged, never an exception."""
    if not html:
        return ""
    # passes for constructs that cannot be there are skipped (both need a literal "<!--" / "</t")
    text = _COMMENT.sub(" ", html) if "<!--" in html else html
    text = _DROP.sub(" ", text)
    text = _QUOTE_OPEN.sub(f"\n{_OPEN}\n", text)
    text = _QUOTE_CLOSE.sub(f"\n{_CLOSE}\n", text)
    text = _BREAK.sub("\n", text)
    if "</t" in text or "</T" in text:
        text = _CELL.sub(" ", text)
    text = _TAG.sub("", text)
    text = _html.unescape(text.replace(_OPEN + _OPEN, _OPEN))
    if _OPEN in text:
        text = _mark_quotes(text)
    # one substitution over the whole text, not one per line: _SPACES never matches a newline
    lines = [line.strip() for line in _SPACES.sub(" ", text).split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def _mark_quotes(text: str) -> str:
    """Prefix lines inside quote containers with '> ' per nesting level."""
    out: list[str] = []
    depth = 0
    for line in text.split("\n"):
        if line.strip() == _OPEN:
            depth += 1
            continue
        if line.strip() == _CLOSE:
            depth = max(0, depth - 1)
            continue
        out.append(("> " * depth) + line if depth and line.strip() else line)
    return "\n".join(out)
