"""Issue 17: the HTML and the text part of a letter say the same thing. A reader whose client
shows HTML must not miss a sentence the text part has (the complaint acknowledgement once dropped
one), so for every template with an ``.html`` part the words are compared, tags stripped."""

from __future__ import annotations

import copy
import html
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from mailbot import defaults
from mailbot.adapters.templates import LANGUAGES, TemplateRenderer, sample_context

TEMPLATES = Path(defaults.TEMPLATES)
WITH_HTML = sorted(
    (lang, p.name.removesuffix(".html"))
    for lang in LANGUAGES
    for p in (TEMPLATES / lang).glob("*.html")
    if not p.name.startswith("_")
)


class _Text(HTMLParser):
    """The words of an HTML part as a reader sees them (no head, no tags)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.words: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("head", "style", "script"):
            self._skip += 1
        elif tag in ("br", "p", "div", "hr", "li", "tr"):
            self.words.append(" ")  # a line break between words, as the text part has

    def handle_endtag(self, tag: str) -> None:
        if tag in ("head", "style", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.words.append(data)


def normalise(text: str) -> str:
    text = html.unescape(text).replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip()


def html_words(part: str) -> str:
    parser = _Text()
    parser.feed(part)
    return normalise("".join(parser.words))


def test_there_are_html_parts_to_compare() -> None:
    assert ("nl", "ack_complaint") in WITH_HTML and ("en", "ack_complaint") in WITH_HTML


def variants(purpose: str) -> list[dict[str, Any]]:
    """The sample context, and the same with each optional part left out (an ``{% if %}`` in
    one part and not the other shows up in one of them)."""
    base = sample_context(purpose)
    bare = copy.deepcopy(base)
    bare["customer"]["name"] = ""
    bare["message"]["subject"] = ""
    for key in ("decision_due", "legal_due", "legal_start", "internal_due"):
        bare["ticket"][key] = None
    bare["ticket"]["identity_check"] = not base["ticket"]["identity_check"]
    calendar = copy.deepcopy(base)
    calendar["ticket"]["promise_mode"] = "calendar"
    business = copy.deepcopy(base)
    business["ticket"]["promise_mode"] = "business"
    return [base, bare, calendar, business]


@pytest.mark.parametrize(("lang", "purpose"), WITH_HTML)
def test_html_part_says_what_the_text_part_says(lang: str, purpose: str) -> None:
    renderer = TemplateRenderer(TEMPLATES)
    for context in variants(purpose):
        for language in (lang, "fr") if lang == "nl" else (lang,):  # fr: Dutch + English parts
            mail = renderer.render(purpose, language, context)
            assert mail.html is not None
            text = mail.text.replace("-- English version --", "")
            assert html_words(mail.html) == normalise(text), (language, context["ticket"])


def test_the_comparison_notices_a_dropped_sentence(tmp_path: Path) -> None:
    """The check itself can fail: an HTML part without the decision sentence differs."""
    import shutil

    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATES, copy)
    path = copy / "nl" / "ack_complaint.html"
    path.write_text(re.sub(r"<p>Wij streven.*?</p>", "", path.read_text(encoding="utf-8")), encoding="utf-8")
    mail = TemplateRenderer(copy).render("ack_complaint", "nl", sample_context("ack_complaint"))
    assert mail.html is not None and html_words(mail.html) != normalise(mail.text)
