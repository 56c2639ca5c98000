"""Issue 5: reminders and escalations, each step once, with an injected clock (R-B1, R-A4).

A complaint received Friday 6 March 2026 17:00 Amsterdam is due Sunday 17:00 (48 clock hours,
R-B1). The default ladder (issue 5, which wins over R-B1's 24 h/40 h): reminders 24 h and 6 h
before, an escalation at the breach, a second one 24 h later.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.adapters.crypto import generate_secret
from mailbot.adapters.db.models import DeadlineStep, Outbox, Ticket
from mailbot.adapters.smtp_sender import SmtpMailer
from mailbot.bootstrap import App
from mailbot.services import leases
from mailbot.services.deadlines import SweepReport, sweep
from mailbot.services.pipeline import run_pass
from tests.support.app import make_app
from tests.support.fakes import MemorySource, keyword_classifier
from tests.support.mail import make_mail
from tests.support.smtp_sink import SmtpSink
from tests.support.store import open_store

RECEIVED = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)  # Friday 17:00 Amsterdam
DUE = RECEIVED + timedelta(hours=48)  # Sunday 8 March 17:00 Amsterdam
STAFF = "hoofdkantoor@ordevos.nl"
MANAGER = "manager@ordevos.nl"


def build(
    tmp_path: Path, database_url: str, clock, sink: SmtpSink | None = None, master_key: str | None = None
) -> App:
    mailer = SmtpMailer("127.0.0.1", sink.port, "plain", timeout=5) if sink else None
    return make_app(
        tmp_path,
        database_url,
        clock,
        classifier=keyword_classifier,
        mailer=mailer,
        MAILBOT_STAFF__ADDRESSES=STAFF,
        MAILBOT_STAFF__ESCALATION_ADDRESS=MANAGER,
        MAILBOT_MASTER_KEY=master_key or generate_secret(),
    )


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock) -> Iterator[App]:
    clock.now = RECEIVED
    application = build(tmp_path, database_url, clock)
    yield application
    application.close()


def open_complaint(app: App, subject: str = "Klacht over mijn coach", sender: str = "jan@example.nl") -> str:
    source = MemorySource()
    source.add(make_mail(subject=subject, sender=sender), app.clock())
    run_pass(source, app.database, app.processor, app.clock)
    with open_store(app) as store:
        return max(store.all_tickets(), key=lambda t: t.opened_at).ref


def run_sweep(app: App) -> SweepReport:
    return sweep(app.database, app.clock(), app.deadlines.notifier)


def step_mails(app: App) -> list[tuple[str, str, str]]:
    """(purpose, ticket id, step key) of every reminder/escalation in the outbox, oldest first."""
    with open_store(app) as store:
        rows = store.session.scalars(
            select(Outbox)
            .where(Outbox.purpose.in_(("reminder", "escalation")))
            .order_by(Outbox.created_at, Outbox.dedupe_key)
        )
        return [(r.purpose, *(r.dedupe_key or "::").split(":", 2)[1:]) for r in rows]


def ticket_row(app: App, ref: str) -> Ticket:
    with open_store(app) as store:
        ticket = store.ticket_by_ref(ref)
        assert ticket is not None
        store.session.expunge(ticket)
        return ticket


def test_complaint_walks_every_reminder_and_escalation(
    tmp_path: Path, database_url: str, clock, smtp_sink: SmtpSink
) -> None:
    """Issue 5 / R-B1: 24 h and 6 h reminders to the staff list, the breach escalation to the
    manager (ticket overdue), the second escalation 24 h later; each arrives once, over SMTP."""
    clock.now = RECEIVED
    app = build(tmp_path, database_url, clock, smtp_sink)
    try:
        ref = open_complaint(app)
        app.drain_outbox()
        smtp_sink.clear()
        assert ticket_row(app, ref).first_response_due == DUE
        expected = [
            (DUE - timedelta(hours=24), "reminder", "first_response:remind-24h", STAFF, False),
            (DUE - timedelta(hours=6), "reminder", "first_response:remind-6h", STAFF, False),
            (DUE, "escalation", "first_response:escalate", MANAGER, True),
            (DUE + timedelta(hours=24), "escalation", "first_response:escalate+24h", MANAGER, True),
        ]
        for at, purpose, key, recipient, overdue in expected:
            clock.now = at - timedelta(minutes=1)
            assert run_sweep(app).reminders + run_sweep(app).escalations == 0, f"early before {key}"
            clock.now = at
            report = run_sweep(app)
            assert report.reminders + report.escalations == 1
            assert run_sweep(app).reminders + run_sweep(app).escalations == 0  # a rerun sends nothing
            assert app.drain_outbox() == 1
            [mail] = smtp_sink.wait_for(1)
            smtp_sink.clear()
            msg = mail.message()
            assert mail.rcpt_tos == (recipient,)
            assert f"[{ref}]" in msg["Subject"]
            assert msg["Auto-Submitted"] == "auto-generated"
            body = msg.get_body(("plain",)).get_content()
            assert f"mailbot tickets show {ref}" in body
            assert "zondag 8 maart 2026 om 17:00" in body  # due time in Amsterdam time
            assert "jan@example.nl" not in body and "coach" not in body  # no correspondence
            assert ("ESCALATIE" in msg["Subject"]) == (purpose == "escalation")
            assert ticket_row(app, ref).overdue is overdue
            with open_store(app) as store:
                keys = set(store.session.scalars(select(DeadlineStep.step_key)))
            assert any(k.startswith(key + "@") for k in keys)
        assert [m[0] for m in step_mails(app)] == ["reminder", "reminder", "escalation", "escalation"]
        clock.now = DUE + timedelta(days=10)
        assert run_sweep(app).reminders + run_sweep(app).escalations == 0  # the ladder is finished
    finally:
        app.close()


def test_restart_in_the_middle_sends_nothing_twice(tmp_path: Path, database_url: str, clock) -> None:
    """Issue 5: a new App (process restart) on the same database continues the ladder."""
    clock.now = RECEIVED
    key = generate_secret()
    first = build(tmp_path, database_url, clock, master_key=key)
    open_complaint(first)
    clock.now = DUE - timedelta(hours=24)
    assert run_sweep(first).reminders == 1
    first.close()
    second = build(tmp_path, database_url, clock, master_key=key)  # same database and key
    try:
        assert run_sweep(second).reminders == 0
        clock.now = DUE - timedelta(hours=6)
        assert run_sweep(second).reminders == 1
        assert run_sweep(second).reminders == 0
        assert len(step_mails(second)) == 2
    finally:
        second.close()


def test_steps_missed_while_down_are_sent_once(app: App, clock) -> None:
    """Issue 5: mailbot down from before the first reminder until after the breach → on start one
    escalation (the latest step), the superseded reminders recorded as skipped and never sent."""
    ref = open_complaint(app)
    clock.now = DUE + timedelta(hours=2)
    report = run_sweep(app)
    assert (report.reminders, report.escalations, report.skipped) == (0, 1, 2)
    [(purpose, _, key)] = step_mails(app)
    assert purpose == "escalation" and key.startswith("first_response:escalate@")
    for _ in range(3):
        clock.advance(minutes=1)
        assert run_sweep(app).escalations == 0
    assert ticket_row(app, ref).overdue is True
    with open_store(app) as store:
        outcomes = sorted(store.session.scalars(select(DeadlineStep.outcome)))
    assert outcomes == ["sent", "skipped", "skipped"]


def test_met_deadline_stops_the_ladder(app: App, clock) -> None:
    """Issue 5: once staff answer (first_responded_at), no further step and no overdue mark."""
    ref = open_complaint(app)
    clock.now = DUE - timedelta(hours=24)
    assert run_sweep(app).reminders == 1
    with open_store(app) as store:
        ticket = store.ticket_by_ref(ref)
        assert ticket is not None
        ticket.first_responded_at = clock.now + timedelta(hours=1)
    for hours in (18, 24, 48):
        clock.now = DUE - timedelta(hours=24) + timedelta(hours=hours)
        report = run_sweep(app)
        assert report.reminders + report.escalations == 0
    assert ticket_row(app, ref).overdue is False
    assert len(step_mails(app)) == 1


def test_unassigned_goes_to_staff_assigned_to_assignee(app: App, clock) -> None:
    """Issue 5: reminders go to the assignee when there is one."""
    ref = open_complaint(app)
    with open_store(app) as store:
        ticket = store.ticket_by_ref(ref)
        assert ticket is not None
        ticket.assignee = "coach.piet@ordevos.nl"
    clock.now = DUE - timedelta(hours=24)
    assert run_sweep(app).reminders == 1
    with open_store(app) as store:
        [row] = store.session.scalars(select(Outbox).where(Outbox.purpose == "reminder"))
        where = ("outbox", "envelope", row.id, "system")
        envelope = store.vault.open_text(store.session, row.envelope_enc, where)
    assert envelope is not None and "coach.piet@ordevos.nl" in envelope and STAFF not in envelope


def test_concurrent_sweeps_send_each_step_once(app: App, clock, database_url: str) -> None:
    """Issue 5: two schedulers at the same instant (threads; on PostgreSQL truly concurrent) — the
    unique (ticket, step) key lets exactly one of them queue each mail."""
    refs = [open_complaint(app, sender=f"klant{i}@example.nl") for i in range(4)]
    for at in (DUE - timedelta(hours=24), DUE - timedelta(hours=6), DUE):
        clock.now = at
        reports: list[SweepReport] = []
        barrier = threading.Barrier(2)

        def worker(barrier: threading.Barrier = barrier, reports: list[SweepReport] = reports) -> None:
            barrier.wait()
            reports.append(run_sweep(app))

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(reports) == 2
        assert sum(r.errors for r in reports) == 0 or database_url.startswith("sqlite")
        assert sum(r.reminders + r.escalations for r in reports) == len(refs)
    mails = step_mails(app)
    assert len(mails) == 3 * len(refs)
    assert len(set(mails)) == len(mails)


def test_lease_has_one_holder_at_a_time(app: App, clock) -> None:
    """Issue 5: of several `mailbot run`, one runs the sweep; a dead holder's lease expires."""
    ttl = timedelta(minutes=5)
    with open_store(app) as store:
        assert leases.acquire(store, "deadlines", "a", clock.now, ttl)
    with open_store(app) as store:
        assert not leases.acquire(store, "deadlines", "b", clock.now + timedelta(minutes=1), ttl)
        assert leases.acquire(store, "deadlines", "a", clock.now + timedelta(minutes=1), ttl)  # renewal
    with open_store(app) as store:
        assert not leases.acquire(store, "deadlines", "b", clock.now + timedelta(minutes=5), ttl)
        assert leases.acquire(store, "deadlines", "b", clock.now + timedelta(minutes=6), ttl)  # expired
        assert leases.holder_of(store, "deadlines", clock.now + timedelta(minutes=6)) == "b"
    with open_store(app) as store:
        leases.release(store, "deadlines", "b")
    with open_store(app) as store:
        assert leases.acquire(store, "deadlines", "c", clock.now + timedelta(minutes=6), ttl)


def test_jobs_are_registered_behind_the_lease(app: App) -> None:
    """Issue 5: `mailbot run` schedules the sweep every minute and the digest daily at 08:00 local."""
    jobs = app.jobs()
    assert jobs["deadlines"][1] == {"trigger": "interval", "seconds": 60}
    assert jobs["digest"][1]["trigger"] == "cron"
    assert (jobs["digest"][1]["hour"], jobs["digest"][1]["minute"]) == (8, 0)
    assert jobs["digest"][1]["timezone"] == "Europe/Amsterdam"
