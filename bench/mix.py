"""The realistic, deterministic message mix of issue 15, for ``bench_path.py``.

Built from the labelled corpus (Dutch and English mail to info@) with a seeded generator, so two
runs — and two code versions run back to back — see the very same bytes:

* ~15% automated mail (the corpus's own out-of-office replies, bounces and lists, plus generated
  out-of-office replies carrying ``Auto-Submitted``);
* ~10% replies to an earlier message of the same sender (``References`` naming its Message-ID,
  ``Re:`` subject), so they land on the ticket that message opened;
* of the rest: ~10% with an attachment of 50 KB–2 MB, ~8% HTML-only, ~15% with RFC 2047
  encoded subject and display name; ~600 distinct senders.

Every message is unique (own Message-ID), so no fingerprint or cache makes a repeat cheap.
"""

from __future__ import annotations

import email.policy
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from html import escape
from pathlib import Path

LABELLED = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "labelled"
SENDERS = 600
_AUTOMATED_MARKERS = ("auto-submitted", "list-id", "list-unsubscribe", "precedence")


@dataclass(frozen=True)
class Seed:
    """One labelled message, reduced to what the generator varies."""

    raw: bytes
    subject: str
    text: str
    automated: bool


def _seeds() -> list[Seed]:
    parser = BytesParser(policy=email.policy.default)
    seeds = []
    for path in sorted(LABELLED.glob("*.eml")):
        raw = path.read_bytes()
        msg = parser.parsebytes(raw)
        ctype = str(msg.get("Content-Type", "")).lower()
        sender = str(msg.get("From", "")).lower()
        automated = (
            any(msg.get(h) for h in _AUTOMATED_MARKERS)
            or "multipart/report" in ctype
            or "mailer-daemon" in sender
            or "noreply" in sender
            or "no-reply" in sender
        )
        body = msg.get_body(("plain",)) if isinstance(msg, EmailMessage) else None
        text = body.get_content() if body is not None else ""
        seeds.append(Seed(raw, str(msg.get("Subject", "")), text, automated))
    return seeds


def _replace_header(raw: bytes, name: bytes, value: bytes) -> bytes:
    """Swap one header's (possibly folded) value in raw bytes, or add it on top."""
    head, sep, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    nl = b"\r\n" if sep == b"\r\n\r\n" else b"\n"
    lines = head.split(nl)
    out: list[bytes] = []
    skipping = False
    for line in lines:
        if skipping and line[:1] in (b" ", b"\t"):
            continue
        skipping = line.lower().startswith(name.lower() + b":")
        if not skipping:
            out.append(line)
    return nl.join([name + b": " + value, *out]) + sep + body


class Mix:
    """``messages(n)`` yields (index, raw bytes); the same n and seed give the same bytes."""

    def __init__(self, seed: int = 15) -> None:
        self.rng = random.Random(seed)
        all_seeds = _seeds()
        self.automated = [s for s in all_seeds if s.automated]
        self.human = [s for s in all_seeds if not s.automated]
        self.start = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
        self.parents: list[int] = []  # indexes of new (non-automated) messages, to reply to
        self.parents_sender: dict[int, int] = {}
        self.subjects: dict[int, str] = {}

    def messages(self, n: int) -> Iterator[bytes]:
        for i in range(n):
            yield self.one(i)

    def one(self, i: int) -> bytes:
        rng = self.rng
        roll = rng.random()
        if roll < 0.15:
            return self._automated(i)
        if roll < 0.25 and self.parents:
            parent = rng.choice(self.parents)
            return self._reply(i, self.parents_sender[parent], parent)
        return self._new(i, rng.randrange(SENDERS))

    def _address(self, sender: int) -> tuple[str, str]:
        first = ["Jan", "Anouk", "Pieter", "Sanne", "Émile", "Zoë", "Mark", "Fatima", "Liam", "Eva"]
        last = ["de Vries", "Jansen", "Bakker", "Smit", "Müller", "O'Brien", "Yılmaz", "van Dijk"]
        name = f"{first[sender % len(first)]} {last[sender // len(first) % len(last)]}"
        return name, f"klant{sender}@mail{sender % 7}.example"

    def _encode(self, raw: bytes, sender: int, subject: str) -> bytes:
        """RFC 2047 subject and display name, written as a mail client would (base64 or Q)."""
        name, address = self._address(sender)
        words = Header(subject, "utf-8", maxlinelen=76).encode(linesep="\n")
        raw = _replace_header(raw, b"Subject", words.encode("ascii"))
        return _replace_header(raw, b"From", f"{Header(name, 'utf-8').encode()} <{address}>".encode())

    def _headers(self, msg: EmailMessage, i: int, sender: int, subject: str) -> None:
        name, address = self._address(sender)
        msg["From"] = f"{name} <{address}>"
        msg["Subject"] = subject
        msg["To"] = "Ordevos <info@ordevos.nl>"
        msg["Date"] = format_datetime(self.start + timedelta(seconds=7 * i))
        msg["Message-ID"] = f"<mix-{i}@mail{sender % 7}.example>"

    def _new(self, i: int, sender: int) -> bytes:
        rng = self.rng
        seed = rng.choice(self.human)
        subject = seed.subject or "Vraag"
        msg = EmailMessage()
        self._headers(msg, i, sender, subject)
        encoded = rng.random() < 0.15
        text = seed.text or "Goedemiddag, ik heb een vraag over de training."
        if rng.random() < 0.08:
            paragraphs = "".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n"))
            msg.set_content(f"<html><body>{paragraphs}</body></html>", subtype="html")
        else:
            msg.set_content(text)
        if rng.random() < 0.10:
            size = rng.randrange(50_000, 2_000_000)
            msg.add_attachment(
                rng.randbytes(size), maintype="application", subtype="pdf", filename=f"bijlage-{i}.pdf"
            )
        self.parents.append(i)
        self.parents_sender[i] = sender
        self.subjects[i] = subject
        raw = msg.as_bytes()
        return self._encode(raw, sender, subject) if encoded else raw

    def _reply(self, i: int, sender: int, parent: int) -> bytes:
        msg = EmailMessage()
        self._headers(msg, i, sender, f"Re: {self.subjects[parent]}")
        msg["In-Reply-To"] = f"<mix-{parent}@mail{sender % 7}.example>"
        msg["References"] = f"<mix-{parent}@mail{sender % 7}.example>"
        msg.set_content(
            self.rng.choice(
                [
                    "Nog een aanvulling op mijn vorige bericht: het gaat om de training van maart.",
                    "Any news on this? I wrote last week and have not heard back.",
                    "Hierbij nog de gegevens die u vroeg. Met vriendelijke groet.",
                ]
            )
            + f"\n\n> eerder bericht {parent}\n"
        )
        return msg.as_bytes()

    def _automated(self, i: int) -> bytes:
        rng = self.rng
        if rng.random() < 0.5:
            raw = rng.choice(self.automated).raw
            return _replace_header(raw, b"Message-ID", f"<mix-{i}@auto.example>".encode())
        sender = rng.randrange(SENDERS)
        msg = EmailMessage()
        self._headers(msg, i, sender, "Afwezig / Out of office")
        msg["Auto-Submitted"] = "auto-replied"
        msg.set_content("Ik ben afwezig tot en met maandag. I am out of the office until Monday.\n")
        return msg.as_bytes()
