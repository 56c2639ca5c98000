"""Issue 11: a customer writes, staff answer from their own mail client, the customer gets the
answer — and nothing else gets through. Real storage (SQLite and PostgreSQL), real SMTP server."""

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
from tests.support.fakes import keyword_classifier
from tests.support.mail import make_mail
from tests.support.smtp_sink import SmtpSink

CUSTOMER = "jan.jansen@example.nl"
ANNA, BRAM = "anna@ordevos.nl", "bram@ordevos.nl"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock, smtp_sink: SmtpSink) -> App:
    clock.now = START
    application = make_app(
        tmp_path,
        database_url,
        clock,
        classifier=keyword_classifier,
        mailer=SmtpMailer("127.0.0.1", smtp_sink.port, "plain", timeout=5),
        MAILBOT_STAFF__ADDRESSES=f"{ANNA},{BRAM}",
    )
    yield application
    application.close()


@pytest.fixture
def talk(app: App, smtp_sink: SmtpSink) -> Conversation:
    return Conversation(app, smtp_sink)


def ticket(app: App) -> Ticket:
    with app.database.transaction() as uow:
        [found] = uow.tickets.list()
        return found


def body(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def staff_reply(notice: EmailMessage, sender: str, text: str, **headers: str) -> bytes:
    """What a mail client sends when a staff member presses Reply: To the Reply-To, the notice
    quoted below the answer, In-Reply-To the notice."""
    quoted = "\n".join("> " + line for line in body(notice).splitlines())
    return make_mail(
        sender=sender,
        name=sender.split("@")[0].title(),
        to=headers.pop("to", str(notice["Reply-To"])),
        subject="Re: " + str(notice["Subject"]),
        in_reply_to=str(notice["Message-ID"]),
        body=f"{text}\n\nOp 2 mrt 2026 om 10:00 schreef Ordevos mailbot <info@ordevos.nl>:\n{quoted}\n",
        headers=headers,
    )


def complaint(talk: Conversation) -> dict[str, EmailMessage]:
    """A complaint arrives; returns the notice each staff member got."""
    assert talk.deliver(
        make_mail(subject="Klacht over mijn factuur", body="De factuur klopt niet.\n\nJan")
    ) == ["ticket_opened"]
    sent = talk.send()
    assert len(talk.to(CUSTOMER, sent)) == 1  # the acknowledgement
    return {who: talk.to(who, sent)[0] for who in (ANNA, BRAM)}


def test_full_loop_staff_answer_reaches_the_customer_threaded_and_stops_the_ladder(
    app: App, talk: Conversation, clock
) -> None:
    notices = complaint(talk)
    t = ticket(app)
    anna_notice, bram_notice = notices[ANNA], notices[BRAM]
    assert "De factuur klopt niet." in body(anna_notice) and "#assign" in body(anna_notice)
    assert anna_notice["Reply-To"] != bram_notice["Reply-To"]  # one token per staff member
    assert str(anna_notice["Reply-To"]).startswith(f"info+{t.ref}.")

    clock.advance(hours=3)
    outcome = talk.deliver(staff_reply(anna_notice, ANNA, "Beste Jan,\n\nWe passen de factuur aan.\n\nAnna"))
    assert outcome == ["staff_reply"]
    sent = talk.send()
    [answer] = talk.to(CUSTOMER, sent)
    [confirmation] = talk.to(ANNA, sent)
    assert answer["From"].addresses[0].addr_spec == "info@ordevos.nl"
    assert f"[{t.ref}]" in str(answer["Subject"])
    assert "Auto-Submitted" not in answer  # a person's answer
    text = body(answer)
    assert "We passen de factuur aan." in text and "Anna" in text
    assert "Er is een nieuw ticket" not in text and "schreef Ordevos" not in text  # no quote
    assert "jan.jansen" not in str(answer["To"]).replace(CUSTOMER, "") and answer["To"] == CUSTOMER
    with app.database.transaction() as uow:
        ack_id = uow.outbox.first_message_id(t.id, "acknowledgement")
        kinds = [m.kind for m in uow.messages.of_ticket(t.id)]
    assert answer["In-Reply-To"] is not None and ack_id in str(answer["References"])
    assert kinds.count("customer") == 1 and "staff_mail" in kinds and "staff_answer" in kinds
    assert "verstuurd" in body(confirmation)
    after = ticket(app)
    assert after.first_responded_at == clock() and after.status == "open"

    # The customer replies to the answer: it threads onto the ticket and the staff are told.
    clock.advance(hours=1)
    assert talk.deliver(
        make_mail(subject=f"Re: {answer['Subject']}", in_reply_to=str(answer["Message-ID"]), body="Dank!")
    ) == ["appended"]
    follow = talk.send()
    assert {r for rcpts, _ in follow for r in rcpts} == {ANNA, BRAM}

    # Past the 48 hours: the first response was given, so no escalation for it.
    clock.advance(hours=60)
    app.deadlines.sweep()
    late = talk.send()
    assert not [m for _, m in late if "escalat" in str(m["Subject"]).lower() or "eerste reactie" in body(m)]


def test_forged_moved_and_borrowed_tokens_are_never_relayed(app: App, talk: Conversation) -> None:
    notices = complaint(talk)
    t = ticket(app)
    anna_address = str(notices[ANNA]["Reply-To"])
    forged = anna_address.split(".")[0] + ".aaaaaaaaaa@ordevos.nl"
    other_ticket = anna_address.replace(t.ref, t.ref[:-1] + "9")
    attempts = [
        staff_reply(notices[ANNA], ANNA, "forged token", to=forged),
        staff_reply(notices[ANNA], ANNA, "another ticket's token", to=other_ticket),
        staff_reply(notices[ANNA], BRAM, "Anna's token, Bram's mail"),
        staff_reply(notices[ANNA], "mallory@example.org", "right token, not staff"),
    ]
    assert talk.deliver(*attempts) == ["suspicious"] * 4
    sent = talk.send()
    assert not talk.to(CUSTOMER, sent) and not sent  # nothing relayed, nothing confirmed
    assert ticket(app).first_responded_at is None
    with app.database.transaction() as uow:
        assert len(uow.tickets.list()) == 1  # and no ticket opened for any of them
        content = app.deadlines.preview_digest()[0]
    assert len(content["suspicious"]) == 4


def test_reply_all_from_a_staff_address_without_token_opens_no_ticket(app: App, talk: Conversation) -> None:
    complaint(talk)
    t = ticket(app)
    mail = make_mail(
        sender=ANNA,
        name="Anna",
        to="info@ordevos.nl",
        subject=f"Re: [{t.ref}] Klacht over mijn factuur",
        body="Jan, ik bel je morgen.",
        headers={"Cc": CUSTOMER},
    )
    assert talk.deliver(mail) == ["internal"]
    assert talk.send() == []
    with app.database.transaction() as uow:
        assert len(uow.tickets.list()) == 1
        kinds = [m.kind for m in uow.messages.of_ticket(t.id)]
    assert "internal" in kinds
    assert [row["ref"] for row in app.deadlines.preview_digest()[0]["internal"]] == [t.ref]


def test_note_assign_and_close_by_mail(app: App, talk: Conversation) -> None:
    notices = complaint(talk)
    t = ticket(app)
    assert talk.deliver(staff_reply(notices[ANNA], ANNA, "#note\nKlant belde, is boos.")) == ["staff_reply"]
    sent = talk.send()
    assert not talk.to(CUSTOMER, sent) and "notitie" in body(talk.to(ANNA, sent)[0])
    with app.database.transaction() as uow:
        notes = [m for m in uow.messages.of_ticket(t.id) if m.kind == "note"]
    assert [n.body for n in notes] == ["Klant belde, is boos."]

    assert talk.deliver(staff_reply(notices[ANNA], ANNA, "#assign bram")) == ["staff_reply"]
    talk.send()
    assert ticket(app).assignee == BRAM
    # From now on only Bram is told of the customer's follow-ups.
    talk.deliver(make_mail(subject=f"Re: [{t.ref}] Klacht", body="Nog iets."))
    assert {r for rcpts, _ in talk.send() for r in rcpts} == {BRAM}

    assert talk.deliver(staff_reply(notices[BRAM], BRAM, "#close\nOpgelost, excuses.\n\nBram")) == [
        "staff_reply"
    ]
    sent = talk.send()
    assert "Opgelost, excuses." in body(talk.to(CUSTOMER, sent)[0])
    closed = ticket(app)
    assert closed.status == "closed" and closed.first_responded_at is not None

    assert talk.deliver(staff_reply(notices[BRAM], BRAM, "#sluiten")) == ["staff_reply"]
    [refusal] = talk.to(BRAM, talk.send())
    assert "Niet uitgevoerd" in str(refusal["Subject"]) and "#sluiten" in body(refusal)


def test_cli_actions_share_the_mail_path(app: App, talk: Conversation) -> None:
    complaint(talk)
    t = ticket(app)
    app.staff.note(t.ref, "Eerst even bellen.", actor="anna")
    app.staff.reply(t.ref, "Beste Jan, het is geregeld.", actor=ANNA)
    [answer] = talk.to(CUSTOMER, talk.send())
    assert "het is geregeld" in body(answer)
    assert app.staff.status(t.ref, "resolved", actor=BRAM) == "resolved"
    with pytest.raises(ValueError, match="not on the staff list"):
        app.staff.reply(t.ref, "hallo", actor="mallory@example.org")
    with pytest.raises(ValueError, match="unknown status"):
        app.staff.status(t.ref, "done", actor=ANNA)
    with app.database.transaction() as uow:
        actors = {(e.kind, e.actor) for e in uow.audit.of_ticket(t.id)}
    assert {("ticket.note", ANNA), ("ticket.answered", ANNA), ("ticket.status", BRAM)} <= actors


@pytest.fixture
def gdpr_app(tmp_path: Path, database_url: str, clock, smtp_sink: SmtpSink) -> App:
    clock.now = START
    application = make_app(
        tmp_path,
        database_url,
        clock,
        mailer=SmtpMailer("127.0.0.1", smtp_sink.port, "plain", timeout=5),
        MAILBOT_STAFF__ADDRESSES=f"{ANNA},{BRAM}",
    )
    yield application
    application.close()


def test_gdpr_decisions_by_mail_verify_extend_refuse(gdpr_app: App, smtp_sink: SmtpSink, clock) -> None:
    """Issue 12: #verify, #extend and #refuse from the mail client do what the commands do."""
    talk = Conversation(gdpr_app, smtp_sink)
    request = "Goedendag,\n\nIk wil graag inzage in mijn persoonsgegevens (AVG artikel 15).\n\nJan"
    assert talk.deliver(make_mail(subject="Inzageverzoek", body=request)) == ["ticket_opened"]
    sent = talk.send()
    notice, bram_notice = talk.to(ANNA, sent)[0], talk.to(BRAM, sent)[0]
    assert "#extend 1|2" in body(notice)  # the GDPR commands are documented on a GDPR request
    t = ticket(gdpr_app)
    assert (t.category, t.identity_status) == ("access", "pending")

    clock.advance(days=2)
    talk.deliver(staff_reply(notice, ANNA, "#verify teruggebeld op het bekende nummer"))
    [confirmation] = talk.to(ANNA, talk.send())
    verified = ticket(gdpr_app)
    assert (verified.identity_status, verified.identity_method) == (
        "verified",
        "teruggebeld op het bekende nummer",
    )
    assert "gecontroleerd" in body(confirmation)

    talk.deliver(staff_reply(notice, ANNA, "#extend 1 de gegevens staan in meerdere systemen"))
    sent = talk.send()
    [letter] = talk.to(CUSTOMER, sent)
    assert "meerdere systemen" in body(letter)
    extended = ticket(gdpr_app)
    assert extended.legal_due is not None and verified.legal_due is not None
    assert extended.legal_due > verified.legal_due
    assert "verlengd tot" in body(talk.to(ANNA, sent)[0])

    talk.deliver(staff_reply(notice, ANNA, "#extend 3 te veel"))
    [refused] = talk.to(ANNA, talk.send())
    assert "Niet uitgevoerd" in str(refused["Subject"]) and "#extend" in body(refused)

    talk.deliver(staff_reply(bram_notice, BRAM, "#refuse hetzelfde verzoek is vorige week beantwoord"))
    sent = talk.send()
    assert "Autoriteit Persoonsgegevens" in body(talk.to(CUSTOMER, sent)[0])
    assert ticket(gdpr_app).status == "resolved"
    with gdpr_app.database.transaction() as uow:
        events = {(e.kind, e.actor) for e in uow.audit.of_ticket(t.id)}
    assert {("identity.verified", ANNA), ("ticket.extended", ANNA), ("ticket.refused", BRAM)} <= events
