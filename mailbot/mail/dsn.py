"""Delivery status notifications (RFC 3464, R-C6): which of our messages came back.

A bounce names the message it returns in its attached ``message/rfc822`` or
``text/rfc822-headers`` part; that Message-ID links the bounce to our outbox row and ticket.
Many MTAs send non-standard bounces, so the original headers are also looked for in plain
``message/*`` parts and, failing that, in the text of the report.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import Message

_MSGID_HEADER = re.compile(r"(?im)^message-id:\s*(<[^<>\s]+>)")


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode("utf-8", "replace")
    inner = part.get_payload()
    if isinstance(inner, list):
        return "\n".join(str(p) for p in inner)
    return str(inner or "")


def returned_message_ids(raw: bytes) -> tuple[str, ...]:
    """Message-IDs of the messages a bounce or delivery report returns, first found first."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception:
        return ()
    return returned_message_ids_in(msg)


def returned_message_ids_in(msg: Message) -> tuple[str, ...]:
    """The same, on a message tree the parser already built (the pipeline parses once)."""
    found: dict[str, None] = {}
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message) and inner.get("Message-ID"):
                found.setdefault(str(inner.get("Message-ID")).strip(), None)
                continue
            for mid in _MSGID_HEADER.findall(_part_text(part)):
                found.setdefault(mid, None)
        elif ctype in ("text/rfc822-headers", "text/rfc822-header", "message/rfc822-headers"):
            for mid in _MSGID_HEADER.findall(_part_text(part)):
                found.setdefault(mid, None)
    if not found and msg.get_content_type() == "multipart/report":
        for part in msg.walk():
            if part.get_content_maintype() == "text":
                for mid in _MSGID_HEADER.findall(_part_text(part)):
                    found.setdefault(mid, None)
    own = str(msg.get("Message-ID") or "").strip()
    found.pop(own, None)
    return tuple(found)


def bounced_message_ids(
    msg: Message, content_type: str, report_type: str | None, sender: str | None, *, failed_recipients: bool
) -> tuple[str, ...]:
    """What a bounce returns, read only from mail that looks like one: a read receipt (MDN) says
    delivered, not bounced; a report, ``X-Failed-Recipients`` or a mailer-daemon sender does."""
    if report_type == "disposition-notification":
        return ()
    looks_like_bounce = (
        content_type == "multipart/report"
        or failed_recipients
        or (sender or "").lower().startswith(("mailer-daemon@", "postmaster@"))
    )
    if not looks_like_bounce:
        return ()
    try:
        return returned_message_ids_in(msg)
    except Exception:  # a report too broken to read costs its links, never the message
        return ()
