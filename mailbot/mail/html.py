"""HTML-only mail → plain text, so rules read what the person wrote, not the markup."""

from __future__ import annotations

from inscriptis import get_text


def html_to_text(html: str) -> str:
    """Render HTML as text; broken markup yields what inscriptis can salvage, never an exception."""
    try:
        return get_text(html)
    except Exception:  # inscriptis/lxml choke on some real-world garbage; fall back to tag stripping
        import re

        return re.sub(r"<[^>]+>", " ", html)
