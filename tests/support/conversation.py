"""A conversation with a real App: mail in through the real pipeline, mail out through the real
outbox to a real SMTP server (aiosmtpd on loopback), read back as the recipients would see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage

from mailbot.bootstrap import App
from mailbot.domain.model import Ticket
from mailbot.services.ingest import ingest
from mailbot.services.process import process_pending
from tests.support.fakes import MemorySource
from tests.support.smtp_sink import SmtpSink


@dataclass
class Conversation:
    app: App
    sink: SmtpSink
    seen: int = 0
    received: list[tuple[tuple[str, ...], EmailMessage]] = field(default_factory=list)

    def deliver(self, *raws: bytes, at: datetime | None = None) -> list[str]:
        """Mail arriving in the mailbox, ingested and processed; the outcome of each, in order."""
        source = MemorySource()
        for raw in raws:
            source.add(raw, at or self.app.clock())
        ingested = ingest(source, self.app.database, self.app.clock, read=self.app.processor.read)
        report = process_pending(
            self.app.database, self.app.processor, self.app.clock, parsed=ingested.parsed
        )
        return list(report.outcomes.values())

    def send(self) -> list[tuple[tuple[str, ...], EmailMessage]]:
        """Drain the outbox; the mails that arrived at the SMTP server since the last call."""
        sent = self.app.outbox.drain().sent
        delivered = self.sink.wait_for(self.seen + sent) if sent else self.sink.messages[: self.seen]
        new = [(d.rcpt_tos, d.message()) for d in delivered[self.seen :]]
        self.seen = len(delivered)
        self.received.extend(new)
        return new

    def to(self, address: str, mails: list[tuple[tuple[str, ...], EmailMessage]]) -> list[EmailMessage]:
        return [m for rcpts, m in mails if address in rcpts]


def plain_text(mail: EmailMessage) -> str:
    """The text/plain body a recipient reads."""
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def newest_ticket(app: App) -> Ticket:
    """The ticket opened last (highest reference)."""
    with app.database.transaction() as uow:
        return max(uow.tickets.list(), key=lambda t: t.ref)
