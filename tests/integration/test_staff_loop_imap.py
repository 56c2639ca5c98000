"""Issue 11's full loop on real servers: a private Dovecot for the mailbox, aiosmtpd for SMTP,
SQLite and PostgreSQL for storage, the company's real rules.

A customer writes → the notice reaches head office → a staff member answers from a mail client
(the reply APPENDed as a client would send it: multipart/alternative, quoted history, signature)
→ the customer receives the answer without the quote, threaded, from info@ → the ticket shows
both, the first response is recorded, and no escalation follows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

from mailbot.adapters.smtp_sender import SmtpMailer
from mailbot.bootstrap import App
from tests.support.app import make_app
from tests.support.conversation import Conversation
from tests.support.dovecot import DovecotServer
from tests.support.mail import make_mail
from tests.support.smtp_sink import SmtpSink

CUSTOMER, ANNA = "m.bakker@example.nl", "anna@ordevos.nl"
START = datetime(2026, 3, 3, 8, 15, tzinfo=UTC)  # a Tuesday morning


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock, imap: DovecotServer, smtp_sink: SmtpSink) -> App:
    clock.now = START
    application = make_app(
        tmp_path,
        database_url,
        clock,
        mailer=SmtpMailer("127.0.0.1", smtp_sink.port, "plain", timeout=5),
        MAILBOT_IMAP__HOST="127.0.0.1",
        MAILBOT_IMAP__PORT=str(imap.port),
        MAILBOT_IMAP__SECURITY="plain",
        MAILBOT_IMAP__USERNAME=imap.user,
        MAILBOT_IMAP__PASSWORD=imap.password,
        MAILBOT_STAFF__ADDRESSES=f"{ANNA},bram@ordevos.nl",
    )
    yield application
    application.close()


def fetch(app: App) -> None:
    from mailbot.services.pipeline import run_pass

    source = app.source()
    try:
        run_pass(source, app.database, app.processor, app.clock)
    finally:
        source.close()


def plain(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def client_reply(notice: EmailMessage, answer: str) -> bytes:
    """Thunderbird-style: Reply goes to Reply-To, quotes the notice in text and HTML."""
    reply = EmailMessage()
    reply["From"] = f"Anna de Wit <{ANNA}>"
    reply["To"] = str(notice["Reply-To"])
    reply["Subject"] = "Re: " + str(notice["Subject"])
    reply["Date"] = format_datetime(datetime(2026, 3, 3, 10, 2, tzinfo=UTC))
    reply["Message-ID"] = make_msgid(domain="ordevos.nl")
    reply["In-Reply-To"] = str(notice["Message-ID"])
    reply["References"] = str(notice["Message-ID"])
    reply["User-Agent"] = "Mozilla Thunderbird"
    quoted = "\n".join("> " + line for line in plain(notice).splitlines())
    signature = "-- \nAnna de Wit\nHoofdkantoor Ordevos | 030 123 45 67"
    text = f"{answer}\n\nOp 03-03-2026 om 09:16 schreef Ordevos mailbot:\n{quoted}\n\n{signature}\n"
    reply.set_content(text)
    html_answer = answer.replace("\n", "<br>")
    reply.add_alternative(
        f"<html><body><p>{html_answer}</p><div class='moz-cite-prefix'>Op 03-03-2026 om 09:16 schreef"
        f" Ordevos mailbot:</div><blockquote type='cite'><pre>{plain(notice)}</pre></blockquote>"
        f"<pre class='moz-signature'>{signature}</pre></body></html>",
        subtype="html",
    )
    return reply.as_bytes()


def test_customer_writes_staff_answers_from_a_mail_client_customer_gets_the_answer(
    app: App, imap: DovecotServer, smtp_sink: SmtpSink, clock
) -> None:
    talk = Conversation(app, smtp_sink)
    imap.append(
        make_mail(
            sender=CUSTOMER,
            name="Marieke Bakker",
            subject="Klacht: coach kwam niet opdagen",
            body="Goedemorgen,\n\nMijn coach is gisteren niet komen opdagen.\n\nMarieke Bakker",
            message_id="<first@example.nl>",
        ),
        internaldate=START,
    )
    fetch(app)
    sent = talk.send()
    [ack] = talk.to(CUSTOMER, sent)
    [notice] = talk.to(ANNA, sent)
    with app.database.transaction() as uow:
        [ticket] = uow.tickets.list()
    assert ticket.category == "complaint"
    assert "Mijn coach is gisteren niet komen opdagen." in plain(notice)

    clock.advance(hours=2)
    imap.append(client_reply(notice, "Beste Marieke,\n\nExcuses! Wij plannen de sessie opnieuw.\n\nAnna"))
    fetch(app)
    sent = talk.send()
    [answer] = talk.to(CUSTOMER, sent)
    assert len(talk.to(ANNA, sent)) == 1  # her confirmation
    text = plain(answer)
    assert "Wij plannen de sessie opnieuw." in text and "Anna" in text
    assert "schreef Ordevos" not in text and "Hoofdkantoor Ordevos | 030" not in text
    assert "Mijn coach is gisteren" not in text  # the notice's quote of the customer is gone too
    assert answer["From"].addresses[0].addr_spec == "info@ordevos.nl"
    assert f"[{ticket.ref}]" in str(answer["Subject"])
    assert str(answer["In-Reply-To"]) == "<first@example.nl>"
    assert str(ack["Message-ID"]) in str(answer["References"])
    assert imap.uids("INBOX") == [] and len(imap.uids("Processed")) == 2

    with app.database.transaction() as uow:
        after = uow.tickets.by_ref(ticket.ref)
        kinds = [m.kind for m in uow.messages.of_ticket(ticket.id)]
    assert after is not None and after.first_responded_at == clock()
    assert kinds[:1] == ["customer"] and "staff_mail" in kinds and "staff_answer" in kinds

    clock.advance(hours=72)  # far past the 48 hours
    app.deadlines.sweep()
    assert talk.send() == []  # answered in time: no reminder, no escalation
