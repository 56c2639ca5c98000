"""Issue 12, R-A6: a partial refusal says which part is honoured and which is not — and the
honoured part is carried out, never only announced. By mail (``#refuse partly REASON``) and by the
use case the CLI calls. Real storage (SQLite and PostgreSQL), real SMTP, the real rules."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailbot.adapters.smtp_sender import SmtpMailer
from mailbot.bootstrap import App
from mailbot.domain.model import Ticket
from mailbot.services.decisions import DecisionRefused
from tests.support.app import make_app
from tests.support.conversation import Conversation
from tests.support.conversation import newest_ticket as newest
from tests.support.conversation import plain_text as text
from tests.support.mail import make_mail
from tests.support.smtp_sink import SmtpSink

JAN, ANNA = "jan.jansen@example.nl", "anna@ordevos.nl"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEPT = "Uw facturen bewaren wij zeven jaar, dat eist de Belastingdienst."


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock, smtp_sink: SmtpSink) -> App:  # type: ignore[no-untyped-def]
    clock.now = START
    application = make_app(
        tmp_path,
        database_url,
        clock,
        mailer=SmtpMailer("127.0.0.1", smtp_sink.port, "plain", timeout=5),
        MAILBOT_STAFF__ADDRESSES=ANNA,
    )
    yield application
    application.close()


@pytest.fixture
def talk(app: App, smtp_sink: SmtpSink) -> Conversation:
    return Conversation(app, smtp_sink)


def request(talk: Conversation, subject: str, body: str) -> tuple[Ticket, EmailMessage]:
    talk.deliver(make_mail(subject=subject, body=body))
    [notice] = talk.to(ANNA, talk.send())
    return newest(talk.app), notice


def staff_says(talk: Conversation, notice: EmailMessage, line: str) -> EmailMessage:
    talk.deliver(
        make_mail(sender=ANNA, to=str(notice["Reply-To"]), subject="Re: " + str(notice["Subject"]), body=line)
    )
    return talk.to(ANNA, talk.send())[0]


def test_a_partial_refusal_of_an_erasure_by_mail_erases_and_names_the_refused_part(
    app: App, talk: Conversation
) -> None:
    ticket, notice = request(
        talk, "Verwijder mijn gegevens", "Ik wil dat u al mijn persoonsgegevens verwijdert (AVG artikel 17)."
    )
    assert ticket.category == "erasure"
    staff_says(talk, notice, "#verify bekende klant, teruggebeld op het bekende nummer")
    confirmation = staff_says(talk, notice, f"#refuse partly {KEPT}")
    assert "erased" in text(confirmation)  # staff are told what was carried out

    with app.database.transaction() as uow:
        customer = uow.customers.by_address(JAN)
        assert customer is None or customer.erased_at is not None  # the honoured part: done
        done = uow.tickets.by_ref(ticket.ref)
        assert done is not None and done.status == "resolved" and done.answered_at is not None
        events = {e.kind: e for e in uow.audit.of_ticket(ticket.id)}
    assert events["ticket.refused"].detail["partial"] is True
    assert events["ticket.refused"].detail["honoured"].startswith("erased")
    assert "ticket.fulfilled" in events
    # One letter to the requester: what was erased, what was not and why, and the remedies.
    letters = [m for _, m in talk.received if JAN in str(m["To"]) and "Verwijder" not in str(m["Subject"])]
    [letter] = [m for m in letters if KEPT in text(m)]
    body = text(letter)
    assert "Wij hebben de persoonsgegevens die wij van u hadden verwijderd" in body
    assert "Aan een deel van uw verzoek kunnen wij niet voldoen" in body
    assert "Autoriteit Persoonsgegevens" in body and "rechter" in body
    assert KEPT not in str(events["ticket.refused"].detail)  # the words stay in the sealed letter


def test_a_whole_refusal_by_mail_carries_nothing_out(app: App, talk: Conversation) -> None:
    ticket, notice = request(
        talk, "Verwijder mijn gegevens", "Ik wil dat u al mijn persoonsgegevens verwijdert (AVG artikel 17)."
    )
    staff_says(talk, notice, "#verify bekende klant, teruggebeld op het bekende nummer")
    staff_says(talk, notice, "#refuse Wij zijn wettelijk verplicht alles te bewaren zolang de zaak loopt.")
    with app.database.transaction() as uow:
        customer = uow.customers.by_address(JAN)
        assert customer is not None and customer.erased_at is None
        events = [e for e in uow.audit.of_ticket(ticket.id) if e.kind == "ticket.refused"]
    assert [e.detail["partial"] for e in events] == [False]


def test_a_partial_refusal_of_a_rectification_needs_the_correction_made_first(
    app: App, talk: Conversation
) -> None:
    ticket, _ = request(
        talk,
        "Correctie van mijn gegevens",
        "Mijn achternaam is verkeerd gespeld en mijn adres klopt niet, wilt u dat corrigeren"
        " (AVG artikel 16)?",
    )
    assert ticket.category == "rectification"
    app.staff.verify(ticket.ref, "teruggebeld op het bekende nummer", ANNA)
    talk.send()
    reason = "Uw oude adres staat op verzonden facturen; die passen wij niet aan."
    with pytest.raises(DecisionRefused, match="customers update"):
        app.tickets.refuse(ticket.ref, [reason], partial=True, actor=ANNA)
    assert newest(app).answered_at is None and talk.to(JAN, talk.send()) == []  # nothing sent

    assert app.customers.rectify(JAN, {"name": "Jan Janssen"}, actor=ANNA) == ["name"]
    refusal = app.tickets.refuse(ticket.ref, [reason], partial=True, actor=ANNA)
    assert (refusal.partial, refusal.honoured) == (True, "rectified")
    [letter] = talk.to(JAN, talk.send())
    body = text(letter)
    assert reason in body and "niet volledig" in body and "aangepast" in body
    assert newest(app).status == "resolved"


def test_a_partial_refusal_of_an_access_request_sends_the_export_with_the_reasons(
    app: App, talk: Conversation
) -> None:
    ticket, _ = request(
        talk, "Inzageverzoek", "Ik wil graag inzage in alle persoonsgegevens die u van mij heeft."
    )
    assert ticket.category == "access"
    app.staff.verify(ticket.ref, "teruggebeld op het bekende nummer", ANNA)
    talk.send()
    reason = "Notities van onze coach over een andere deelnemer geven wij niet mee."
    refusal = app.tickets.refuse(ticket.ref, [reason], partial=True, actor=ANNA)
    assert (refusal.honoured or "").startswith("exported")
    [letter] = talk.to(JAN, talk.send())
    assert reason in text(letter)
    assert any(part.get_filename() for part in letter.iter_attachments())  # the package itself
