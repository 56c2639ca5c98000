"""Issue 12: restriction (R-A14), objection to direct marketing (R-A15) and the recipients to tell
(R-A13), through the mail path, the use cases and the CLI. Real storage, SMTP and rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailbot.adapters.smtp_sender import SmtpMailer
from mailbot.bootstrap import App
from tests.support.app import mailbot_env, make_app
from tests.support.app import run_cli as run
from tests.support.conversation import Conversation
from tests.support.conversation import newest_ticket as newest
from tests.support.conversation import plain_text as text
from tests.support.mail import make_mail
from tests.support.smtp_sink import SmtpSink

JAN, ANNA = "jan.jansen@example.nl", "anna@ordevos.nl"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RECIPIENTS = "hosting (TransIP),nieuwsbrief (Laposta)"


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock, smtp_sink: SmtpSink) -> App:
    clock.now = START
    application = make_app(
        tmp_path,
        database_url,
        clock,
        mailer=SmtpMailer("127.0.0.1", smtp_sink.port, "plain", timeout=5),
        MAILBOT_STAFF__ADDRESSES=ANNA,
        MAILBOT_PRIVACY__RECIPIENTS=RECIPIENTS,
    )
    yield application
    application.close()


@pytest.fixture
def talk(app: App, smtp_sink: SmtpSink) -> Conversation:
    return Conversation(app, smtp_sink)


def test_r_a15_an_objection_suppresses_marketing_at_once_without_identity_check(
    app: App, talk: Conversation
) -> None:
    body = "Ik maak bezwaar tegen het gebruik van mijn gegevens voor uw nieuwsbrief en reclame."
    talk.deliver(make_mail(subject="Bezwaar nieuwsbrief", body=body))
    [ack] = talk.to(JAN, talk.send())
    ticket = newest(app)
    assert (ticket.category, ticket.identity_status) == ("objection", "not_needed")
    assert "stoppen wij daar direct mee" in text(ack)  # the promise ...
    assert app.rights.is_suppressed(JAN.upper())  # ... kept before the ack even left
    assert [a for a, _ in app.rights.suppressed()] == [JAN]


def test_r_a14_a_restricted_customer_gets_no_templated_mail_and_staff_see_no_words(
    app: App, talk: Conversation
) -> None:
    talk.deliver(make_mail(subject="Vraag over de training"))
    talk.send()
    assert app.rights.restrict(JAN, actor=ANNA) is True
    assert app.rights.restrict(JAN, actor=ANNA) is False  # once
    talk.deliver(make_mail(subject="Klacht over de factuur", body="Dit is GEHEIM en boos."))
    sent = talk.send()
    assert talk.to(JAN, sent) == []  # no acknowledgement for a restricted person's complaint
    [notice] = talk.to(ANNA, sent)
    assert (
        "GEHEIM" not in text(notice)
        and "beperkt" in text(notice)
        and newest(app).ref in str(notice["Subject"])
    )
    # A GDPR request is still answered: the law requires it.
    talk.deliver(make_mail(subject="Inzage", body="Ik wil graag inzage in mijn persoonsgegevens."))
    assert len(talk.to(JAN, talk.send())) >= 1
    # Two recipients owe a notice of the restriction, listed in the digest until done.
    tasks = app.rights.tasks()
    assert sorted((t.recipient, t.action) for t in tasks) == [
        ("hosting (TransIP)", "restricted"),
        ("nieuwsbrief (Laposta)", "restricted"),
    ]
    digest = app.deadlines.preview_digest()[0]
    assert {row["recipient"] for row in digest["tasks"]} == {"hosting (TransIP)", "nieuwsbrief (Laposta)"}
    app.rights.task_done(tasks[0].id, actor=ANNA)
    assert [t.id for t in app.rights.tasks()] == [tasks[1].id]
    with pytest.raises(ValueError, match="no open task"):
        app.rights.task_done(tasks[0].id, actor=ANNA)

    # Lifting tells the person first, in the same step.
    app.rights.unrestrict(JAN, actor=ANNA)
    [letter] = talk.to(JAN, talk.send())
    assert "opheffen" in text(letter)
    with pytest.raises(ValueError, match="not restricted"):
        app.rights.unrestrict(JAN, actor=ANNA)


def test_restriction_request_fulfilled_by_mail_after_verification(app: App, talk: Conversation) -> None:
    body = "Ik wil dat u de verwerking van mijn gegevens beperkt (AVG artikel 18) zolang mijn klacht loopt."
    talk.deliver(make_mail(subject="Beperking verwerking", body=body))
    sent = talk.send()
    ticket = newest(app)
    assert ticket.category == "restriction"
    [notice] = talk.to(ANNA, sent)

    def staff_says(line: str) -> EmailMessage:
        talk.deliver(
            make_mail(
                sender=ANNA, to=str(notice["Reply-To"]), subject="Re: " + str(notice["Subject"]), body=line
            )
        )
        return talk.to(ANNA, talk.send())[0]

    refused = staff_says("#fulfil")
    assert "Niet uitgevoerd" in str(refused["Subject"]) and "verify" in text(refused)
    staff_says("#verify bekende klant, teruggebeld")
    done = staff_says("#fulfil")
    assert "uitgevoerd: restricted" in text(done)
    fulfilled = newest(app)
    assert fulfilled.status == "resolved" and fulfilled.answered_at is not None
    letters = [m for _, m in talk.received if JAN in str(m["To"]) and "uitgevoerd" in str(m["Subject"])]
    assert len(letters) == 1 and "beperkt" in text(letters[0])
    with app.database.transaction() as uow:
        customer = uow.customers.by_address(JAN)
        assert customer is not None and customer.restricted
    assert {t.reference for t in app.rights.tasks()} == {ticket.ref}


def test_cli_restrict_show_despite_restriction_suppression_export_and_tasks(
    tmp_path: Path, database_url: str
) -> None:
    env = mailbot_env(tmp_path, database_url, {"MAILBOT_PRIVACY__RECIPIENTS": RECIPIENTS})
    from mailbot.adapters.maildir import ensure_maildir
    from mailbot.adapters.maildir_sender import deliver_to_maildir

    inbox = tmp_path / "storage" / "inbox"
    ensure_maildir(inbox)
    deliver_to_maildir(inbox, make_mail(subject="Klacht", body="Mijn coach was GEHEIM te laat."))
    assert run(env, "fetch", "--once")[0] == 0
    ref = json.loads(run(env, "tickets", "list", "--json")[1])[0]["ref"]
    code, out = run(env, "customers", "restrict", JAN)
    assert code == 0 and "restricted" in out
    code, out = run(env, "tickets", "show", ref)
    assert code == 0 and "RESTRICTED" in out and "GEHEIM" not in out
    code, out = run(env, "tickets", "show", ref, "--despite-restriction", "rechtszaak van de klant")
    assert "GEHEIM" in out
    code, out = run(env, "tickets", "show", ref, "--json", "--despite-restriction", "x")
    assert "ticket.viewed_restricted" in out
    code, out = run(env, "suppression", "add", "Piet@Example.nl")
    assert code == 0 and "added" in out
    code, out = run(env, "suppression", "export")
    assert out.splitlines()[0] == "email,since" and "piet@example.nl" in out.lower()
    code, out = run(env, "tasks", "list", "--json")
    tasks = json.loads(out)
    assert len(tasks) == 2 and {t["action"] for t in tasks} == {"restricted"}
    assert run(env, "tasks", "done", str(tasks[0]["id"]))[0] == 0
    for args, message in (
        (("customers", "restrict", "nobody@example.nl"), "no customer"),
        (("tasks", "done", "999"), "no open task"),
        (("suppression", "add", "not-an-address"), "e-mail address"),
    ):
        code, out = run(env, *args)
        assert code == 2 and message in out.lower() and len(out.strip().splitlines()) == 1, out
