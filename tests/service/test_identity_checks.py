"""Issue 11: identity checks of GDPR requests — the promised confirmation message really goes out,
to the address on file, and only a reply from there (or staff) verifies. Real storage, SMTP, rules."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailbot.adapters.smtp_sender import SmtpMailer
from mailbot.bootstrap import App
from mailbot.domain.model import Ticket
from tests.support.app import make_app
from tests.support.conversation import Conversation
from tests.support.mail import make_mail
from tests.support.smtp_sink import SmtpSink

JAN = "jan.jansen@example.nl"
OURS = "mx.ordevos.nl"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ERASURE = "Goedendag,\n\nVerwijder al mijn persoonsgegevens uit uw systemen (AVG artikel 17).\n\nJan Jansen"
ACCESS = "Goedendag,\n\nIk wil graag inzage in mijn persoonsgegevens (AVG artikel 15).\n\nJan Jansen"


def build(tmp_path: Path, database_url: str, clock, smtp_sink: SmtpSink, **env: str) -> App:
    clock.now = START
    return make_app(
        tmp_path,
        database_url,
        clock,
        mailer=SmtpMailer("127.0.0.1", smtp_sink.port, "plain", timeout=5),
        MAILBOT_STAFF__ADDRESSES="anna@ordevos.nl",
        **env,
    )


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock, smtp_sink: SmtpSink) -> App:
    application = build(tmp_path, database_url, clock, smtp_sink)
    yield application
    application.close()


@pytest.fixture
def trusting(tmp_path: Path, database_url: str, clock, smtp_sink: SmtpSink) -> App:
    application = build(
        tmp_path,
        database_url,
        clock,
        smtp_sink,
        MAILBOT_IDENTITY__TRUST_DMARC="true",
        MAILBOT_IDENTITY__AUTHSERV_ID=OURS,
    )
    yield application
    application.close()


def ticket_of(app: App, ref: str | None = None) -> Ticket:
    with app.database.transaction() as uow:
        if ref:
            found = uow.tickets.by_ref(ref)
            assert found is not None
            return found
        [only] = uow.tickets.list()
        return only


def text(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_challenge_goes_out_the_ack_says_so_and_a_reply_verifies(
    app: App, smtp_sink: SmtpSink, clock
) -> None:
    talk = Conversation(app, smtp_sink)
    assert talk.deliver(make_mail(subject="Verwijderen", body=ERASURE)) == ["ticket_opened"]
    sent = talk.to(JAN, talk.send())
    ack = next(
        m for m in sent if "confirm" not in str(m["Subject"]).lower() and "Bevestig" not in str(m["Subject"])
    )
    [challenge] = [m for m in sent if "Bevestig uw verzoek" in str(m["Subject"])]
    ticket = ticket_of(app)
    assert ticket.category == "erasure" and ticket.identity_status == "pending"
    assert ticket.status == "waiting"  # the legal clock is paused while we ask
    assert "apart bericht" in text(ack)  # the promise ...
    assert "Beantwoord dan deze e-mail" in text(challenge)  # ... kept
    assert str(challenge["Reply-To"]).startswith(f"info+{ticket.ref}.")
    assert "kopie van uw identiteitsbewijs" in text(challenge)

    clock.advance(days=3)
    reply = make_mail(
        subject="Re: " + str(challenge["Subject"]),
        to=str(challenge["Reply-To"]),
        in_reply_to=str(challenge["Message-ID"]),
        body="Ja, dat was ik.",
    )
    assert talk.deliver(reply) == ["appended"]
    verified = ticket_of(app)
    assert (verified.identity_status, verified.identity_method, verified.status) == (
        "verified",
        "challenge",
        "open",
    )
    assert verified.legal_due is not None and ticket.legal_due is not None
    assert verified.legal_due > ticket.legal_due  # three paused days added
    assert verified.legal_due_unpaused == ticket.legal_due  # the safer date is kept beside it


def test_dmarc_from_our_border_server_verifies_at_once_and_nothing_is_promised(
    trusting: App, smtp_sink: SmtpSink
) -> None:
    talk = Conversation(trusting, smtp_sink)
    header = {
        "Authentication-Results": f"{OURS}; spf=pass smtp.mailfrom=example.nl;"
        " dmarc=pass header.from=example.nl"
    }
    talk.deliver(make_mail(subject="Inzage", body=ACCESS, headers=header))
    [ack] = talk.to(JAN, talk.send())
    ticket = ticket_of(trusting)
    assert (ticket.category, ticket.identity_status, ticket.identity_method) == (
        "access",
        "verified",
        "dmarc",
    )
    assert "apart bericht" not in text(ack)  # no challenge, so none is announced


def test_a_forged_authentication_results_above_ours_verifies_nobody(
    trusting: App, smtp_sink: SmtpSink
) -> None:
    talk = Conversation(trusting, smtp_sink)
    raw = make_mail(subject="Inzage", body=ACCESS)
    forged = f"Authentication-Results: {OURS}; dmarc=pass header.from=example.nl\r\n".encode()
    real = f"Authentication-Results: {OURS}; dmarc=fail header.from=example.nl\r\n".encode()
    talk.deliver(forged + real + raw)
    sent = talk.to(JAN, talk.send())
    assert ticket_of(trusting).identity_status == "pending"
    assert any("Bevestig uw verzoek" in str(m["Subject"]) for m in sent)


def test_a_request_from_another_address_challenges_the_address_on_file(app: App, smtp_sink: SmtpSink) -> None:
    talk = Conversation(app, smtp_sink)
    old = "j.jansen@oud.example"
    talk.deliver(make_mail(sender=old, subject="Vraag over de training"))
    talk.send()
    request = make_mail(
        sender="jan@nieuw.example",
        subject="Verwijderen",
        body=ERASURE + f"\n\nMijn gegevens staan bij u onder {old}.",
    )
    talk.deliver(request)
    sent = talk.send()
    [challenge] = [
        m for rcpts, m in talk.received[-len(sent) :] if "Bevestig uw verzoek" in str(m["Subject"])
    ]
    assert challenge["To"] == old  # the address on file, not the new sender
    assert not [m for m in talk.to("jan@nieuw.example", sent) if "Bevestig" in str(m["Subject"])]
    with app.database.transaction() as uow:
        erasure = next(t for t in uow.tickets.list() if t.category == "erasure")
    # The new address cannot answer the challenge meant for the old one.
    stolen = make_mail(sender="jan@nieuw.example", to=str(challenge["Reply-To"]), subject="Re: bevestig")
    assert talk.deliver(stolen) == ["suspicious"]
    assert ticket_of(app, erasure.ref).identity_status == "pending"


def test_staff_verify_by_other_means_once(app: App, smtp_sink: SmtpSink) -> None:
    talk = Conversation(app, smtp_sink)
    talk.deliver(make_mail(subject="Inzage", body=ACCESS))
    ref = ticket_of(app).ref
    app.staff.verify(ref, "telefonisch, bekende gegevens", actor="anna")
    after = ticket_of(app)
    assert (after.identity_status, after.identity_method) == ("verified", "telefonisch, bekende gegevens")
    with pytest.raises(ValueError, match="already verified"):
        app.staff.verify(ref, "nogmaals", actor="anna")
    with app.database.transaction() as uow:
        assert ("identity.verified", "anna@ordevos.nl") in {
            (e.kind, e.actor) for e in uow.audit.of_ticket(after.id)
        }
