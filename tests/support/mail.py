"""Small, readable test messages built with the stdlib (never pasted header strings in tests' asserts)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid


def make_mail(
    *,
    sender: str = "jan.jansen@example.nl",
    name: str = "Jan Jansen",
    to: str = "info@ordevos.nl",
    subject: str = "Vraag over de training",
    body: str = "Goedemiddag,\n\nIk heb een vraag over de training van volgende week.\n\nJan",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
    date: datetime | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>" if name else sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    msg["Message-ID"] = message_id or make_msgid(domain="example.nl")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    for filename, ctype, content in attachments or []:
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def voicemail(**headers: str) -> bytes:
    """A voicemail-to-e-mail notice whose transcript is a caller's complaint (``Auto_Submitted``:
    header names with ``_`` for ``-``)."""
    msg = EmailMessage()
    msg["From"] = "Voicemail <voicemail@voys.example>"
    msg["To"] = "info@ordevos.nl"
    msg["Subject"] = "Nieuwe voicemail van +31 6 2745 1180 (1:48)"
    msg["Message-ID"] = "<vm-1@voys.example>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(
        "Transcript: ja hallo, ik bel over mijn factuur, dit is de derde keer, ik wil mijn geld terug."
    )
    return msg.as_bytes()
