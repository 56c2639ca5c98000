"""Builders shared by the rules tests: plain RFC 5322 bytes from a few fields, parsed the real way."""

from __future__ import annotations

import csv
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path

from mailbot.adapters.rules_loader import load_ruleset
from mailbot.domain.rules import RuleSet
from mailbot.mail.parse import ParsedMail, parse_message

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "mailbot" / "defaults" / "rules"
CORPUS = REPO / ".." / "shared" / "corpus"


def corpus_rows(index: Path) -> list[dict[str, str]]:
    """The rows of a corpus index CSV; none when it is missing (the corpus-present tests fail then)."""
    if not index.is_file():
        return []
    with index.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=1)
def shipped_rules() -> RuleSet:
    return load_ruleset(RULES_DIR)


def make_mail(
    subject: str = "",
    body: str = "",
    *,
    sender: str = "klant@example.org",
    headers: dict[str, str] | None = None,
    return_path: str | None = "<klant@example.org>",
) -> ParsedMail:
    msg = EmailMessage()
    if return_path is not None:
        msg["Return-Path"] = return_path
    msg["From"] = sender
    msg["To"] = "info@ordevos.nl"
    msg["Subject"] = subject
    msg["Message-ID"] = "<test-1@example.org>"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return parse_message(msg.as_bytes())
