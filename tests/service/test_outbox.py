"""Acknowledgements through the transactional outbox, delivered to a real SMTP server (aiosmtpd).

Covers R-C1…R-C5 (no loops), R-C7 (headers), R-C8 (only the From address), R-C10 (threading),
retries through an outage, permanent failures, and several senders on PostgreSQL.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.adapters.db.models import Outbox
from mailbot.adapters.smtp_sender import SmtpMailer
from mailbot.bootstrap import App
from mailbot.mail.compose import OutgoingMail, make_message_id
from mailbot.services.outbox import drain, enqueue
from mailbot.services.pipeline import run_pass
from tests.support.app import make_app
from tests.support.db import truncate_all
from tests.support.fakes import MemorySource, keyword_classifier
from tests.support.mail import make_mail
from tests.support.smtp_sink import SmtpSink
from tests.support.store import open_store

RECEIVED = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)  # Friday 17:00 in Amsterdam


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock, smtp_sink: SmtpSink) -> App:
    mailer = SmtpMailer("127.0.0.1", smtp_sink.port, "plain", timeout=5)
    application = make_app(
        tmp_path,
        database_url,
        clock,
        classifier=keyword_classifier,
        mailer=mailer,
        MAILBOT_STAFF__ADDRESSES="hoofdkantoor@ordevos.nl",
    )
    yield application
    application.close()


def ingest(app: App, *raws: bytes) -> None:
    source = MemorySource()
    for raw in raws:
        source.add(raw, RECEIVED)
    run_pass(source, app.database, app.processor, app.clock)


def send(app: App):
    return drain(app.database, app.mailer, app.clock, app.outbox_policy)


def test_complaint_ack_headers_threading_and_due_time(app: App, smtp_sink: SmtpSink) -> None:
    """R-C7 / case 31: Auto-Submitted auto-replied, X-Auto-Response-Suppress All, threading to the
    customer's Message-ID, ticket ref in the subject, the 48-hour due time in Amsterdam time."""
    ingest(
        app,
        make_mail(
            subject="Klacht over mijn coach",
            message_id="<c1@example.nl>",
            headers={"Cc": "partner@example.nl", "Reply-To": "elders@example.org"},
        ),
    )
    assert send(app).sent == 2  # acknowledgement + head-office notice
    delivered = smtp_sink.wait_for(2)
    ack = next(d for d in delivered if "jan.jansen@example.nl" in d.rcpt_tos)
    staff = next(d for d in delivered if "hoofdkantoor@ordevos.nl" in d.rcpt_tos)
    msg = ack.message()
    with open_store(app) as store:
        [ticket] = store.all_tickets()
    assert ack.rcpt_tos == ("jan.jansen@example.nl",)  # R-C8: the From address only, not Cc or Reply-To
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["In-Reply-To"] == "<c1@example.nl>"
    assert "<c1@example.nl>" in msg["References"]
    assert f"[{ticket.ref}]" in msg["Subject"]
    assert msg["Message-ID"].endswith("@ordevos.nl>")
    assert msg["Content-Language"].startswith("nl")
    body = msg.get_body(("plain",)).get_content()
    assert "48 uur op werkdagen" in body
    # Fri 17:00 + 48 hours on working days, Amsterdam time: Tuesday, not Sunday (issue 17).
    assert "dinsdag 10 maart" in body.lower() and "17:00" in body
    staff_msg = staff.message()
    assert staff_msg["Auto-Submitted"] == "auto-generated"
    assert ticket.ref in staff_msg["Subject"]
    # Issue 11: the notice carries the customer's words and this staff member's reply address.
    assert "Klacht over mijn coach" in staff_msg.get_body(("plain",)).get_content()
    assert staff_msg["Reply-To"].startswith(f"info+{ticket.ref}.")
    assert send(app).sent == 0  # nothing is sent twice
    assert parsedate_to_datetime(msg["Date"]).tzinfo is not None


def test_reply_to_the_acknowledgement_threads_onto_the_ticket(app: App, smtp_sink: SmtpSink) -> None:
    """The customer answers our acknowledgement with the subject untouched: no second ticket."""
    ingest(app, make_mail(subject="Vraag over facturen"))
    send(app)
    ack = next(d for d in smtp_sink.wait_for(2) if "jan.jansen@example.nl" in d.rcpt_tos).message()
    ingest(
        app,
        make_mail(
            subject=f"Re: {ack['Subject']}",
            in_reply_to=ack["Message-ID"],
            references=ack["Message-ID"],
            body="Dank u, nog een vraag.",
        ),
    )
    with open_store(app) as store:
        assert len(store.all_tickets()) == 1
    # No acknowledgement inside an existing thread (R-C5); head office is told of the follow-up.
    assert send(app).sent == 1
    notice = smtp_sink.wait_for(3)[-1]
    assert notice.rcpt_tos == ("hoofdkantoor@ordevos.nl",)
    assert "nog een vraag" in notice.message().get_body(("plain",)).get_content()


def test_automated_and_own_mail_are_never_acknowledged(app: App, smtp_sink: SmtpSink) -> None:
    """R-C1, R-C2: automated mail, a null Return-Path and our own addresses get nothing."""
    ingest(
        app,
        make_mail(subject="Automatisch antwoord", headers={"Auto-Submitted": "auto-replied"}),
        make_mail(sender="info@ordevos.nl", subject="Vraag van onszelf"),
        make_mail(sender="x@example.nl", subject="Vraag", headers={"Return-Path": "<>"}),
    )
    send(app)
    customer_mail = [d for d in smtp_sink.messages if "hoofdkantoor@ordevos.nl" not in d.rcpt_tos]
    assert customer_mail == []


def test_per_sender_daily_cap(app: App, smtp_sink: SmtpSink, clock) -> None:
    """R-C5 / case 30: at most 3 automatic replies per address per 24 hours; the rest are stored."""
    ingest(app, *[make_mail(subject=f"Vraag {i}") for i in range(5)])
    send(app)
    acks = [d for d in smtp_sink.messages if d.rcpt_tos == ("jan.jansen@example.nl",)]
    assert len(acks) == app.settings.processing.auto_reply_cap_per_day == 3
    with open_store(app) as store:
        assert len(store.all_tickets()) == 5  # every message still has its ticket
    clock.advance(hours=25)
    ingest(app, make_mail(subject="Vraag de volgende dag"))
    send(app)
    assert len([d for d in smtp_sink.messages if d.rcpt_tos == ("jan.jansen@example.nl",)]) == 4


def test_smtp_outage_delays_but_never_loses(app: App, smtp_sink: SmtpSink, clock) -> None:
    ingest(app, make_mail(subject="Vraag"))
    smtp_sink.stop()
    report = send(app)
    assert report.sent == 0 and report.retried == 2
    smtp_sink.start()
    assert send(app).sent == 0  # backoff: not yet due
    clock.advance(minutes=5)
    assert send(app).sent == 2
    assert len(smtp_sink.wait_for(2)) == 2
    clock.advance(hours=1)
    assert send(app).sent == 0


def test_permanent_failure_marks_row_failed_with_reason(app: App, smtp_sink: SmtpSink) -> None:
    ingest(app, make_mail(subject="Vraag"))
    smtp_sink.fail_with(550, "5.1.1 mailbox unavailable", count=1)
    report = send(app)
    assert report.failed == 1 and report.sent == 1
    with open_store(app) as store:
        failed = store.session.scalars(select(Outbox).where(Outbox.status == "failed")).all()
        assert (len(failed) == 1 and "550" in (failed[0].last_error or "")) or "mailbox unavailable" in (
            failed[0].last_error or ""
        )


def test_one_connection_for_a_whole_drain_and_a_refusal_spoils_nothing(app: App, smtp_sink: SmtpSink) -> None:
    """Issue 15: the drain keeps one SMTP session for its rows; a 550 fails that row alone (its
    session is dropped, a new one opened for the rest), and every other row is sent once."""
    ingest(app, *(make_mail(subject=f"Vraag {n}", sender=f"klant{n}@example.nl") for n in range(3)))
    smtp_sink.fail_with(550, "5.1.1 mailbox unavailable", count=1, stage="rcpt")
    report = send(app)
    assert report.sent == 5 and report.failed == 1  # two letters per ticket
    delivered = smtp_sink.wait_for(5)
    assert len({d.data for d in delivered}) == 5
    peers = [d.peer for d in delivered]
    assert None not in peers and len(set(peers)) == 1  # the one session after the refused first row
    assert send(app).sent == 0


def test_gives_up_after_the_retry_horizon(app: App, smtp_sink: SmtpSink, clock) -> None:
    ingest(app, make_mail(subject="Vraag"))
    smtp_sink.stop()
    send(app)
    clock.advance(hours=49)
    report = send(app)
    assert report.failed == 2


def test_two_senders_send_each_row_once(
    tmp_path: Path, postgres_database: str, clock, smtp_sink: SmtpSink
) -> None:
    """Several senders on PostgreSQL claim rows with FOR UPDATE SKIP LOCKED: 500 rows, each once.
    (SQLite, the embedded default, runs a single sender.)"""
    truncate_all(postgres_database)
    app = make_app(tmp_path, postgres_database, clock, classifier=keyword_classifier)
    now = clock()
    with open_store(app) as store:
        for i in range(500):
            mail = OutgoingMail(
                from_address="info@ordevos.nl",
                from_name="Ordevos",
                to=(f"p{i}@example.nl",),
                subject=f"Bericht {i}",
                text="tekst",
                html=None,
                message_id=make_message_id("ordevos.nl"),
                date=now,
                language="nl",
                auto_submitted="auto-generated",
            )
            enqueue(store, mail=mail, purpose="test", now=now)
    results = []

    def sender() -> None:
        mailer = SmtpMailer("127.0.0.1", smtp_sink.port, "plain", timeout=10)
        results.append(drain(app.database, mailer, app.clock, app.outbox_policy).sent)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    delivered = smtp_sink.wait_for(500, timeout=30)
    subjects = [d.message()["Subject"] for d in delivered]
    assert len(subjects) == 500 and len(set(subjects)) == 500
    assert sum(results) == 500 and all(r > 0 for r in results)
    app.close()


def test_outbox_payload_is_encrypted(app: App) -> None:
    ingest(app, make_mail(subject="Klacht Zeldzaamwoord"))
    with open_store(app) as store:
        rows = store.session.scalars(select(Outbox)).all()
        assert rows and all(
            b"Zeldzaamwoord" not in r.payload_enc and b"jan.jansen" not in r.envelope_enc for r in rows
        )


def test_bounce_of_an_acknowledgement_marks_it_bounced_and_links_the_ticket(
    app: App, smtp_sink: SmtpSink
) -> None:
    """R-C6 / case 27: a DSN is no customer ticket; it is linked to our outgoing mail, marked bounced."""
    from email.message import EmailMessage

    ingest(app, make_mail(subject="Vraag"))
    send(app)
    with open_store(app) as store:
        [ticket] = store.all_tickets()
        ack_id = store.session.scalar(select(Outbox.message_id).where(Outbox.purpose == "acknowledgement"))
    report = EmailMessage()
    report["From"] = "Mail Delivery System <MAILER-DAEMON@mx.example.nl>"
    report["To"] = "info@ordevos.nl"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Auto-Submitted"] = "auto-replied"
    report["Message-ID"] = "<dsn-1@mx.example.nl>"
    report.set_content("This is the mail system. Your message could not be delivered.")
    report.add_attachment(
        f"Message-ID: {ack_id}\r\nSubject: ack\r\n".encode(), maintype="text", subtype="rfc822-headers"
    )
    ingest(app, report.as_bytes())
    with open_store(app) as store:
        row = store.session.scalar(select(Outbox).where(Outbox.message_id == ack_id))
        assert row.status == "bounced"
        assert len(store.all_tickets()) == 1  # no ticket for the bounce
        attached = [m for m in store.messages_of(ticket) if m.automated]
        assert len(attached) == 1
        assert "mail.bounced" in [e.kind for e in store.audit_events(ticket.id)]


class _CommitFailsAfterSend:
    """The real database, except that the transaction in which a mail went out fails to commit
    once (as a deadlock with another worker's batch did in the two-worker fault test)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.armed = False

    @contextmanager
    def transaction(self):
        with self.inner.transaction() as uow:
            yield uow
            if self.armed:
                self.armed = False
                raise RuntimeError("deadlock detected")  # rolls the whole transaction back


def test_a_mail_the_server_accepted_is_recorded_sent_even_if_that_commit_fails(
    app: App, smtp_sink: SmtpSink
) -> None:
    """Exactly once: the 250 came, so the mail must not stay pending for the next drain."""
    ingest(app, make_mail(subject="Vraag over de training"))
    database = _CommitFailsAfterSend(app.database)

    class Arming:
        def send(self, sender: str, recipients, payload: bytes) -> None:
            app.mailer.send(sender, recipients, payload)
            database.armed = True

    first = drain(database, Arming(), app.clock, app.outbox_policy)  # type: ignore[arg-type]
    assert first.sent == 2 and first.retried == 0
    assert drain(app.database, app.mailer, app.clock, app.outbox_policy).sent == 0
    assert len(smtp_sink.messages) == 2  # each delivered once
    with open_store(app) as store:
        assert set(store.session.scalars(select(Outbox.status))) == {"sent"}
