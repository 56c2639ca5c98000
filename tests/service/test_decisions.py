"""Human decisions on GDPR requests: the identity-check pause (R-A7, case 9) and refusals with
reasons and remedies (R-A6, R-A8, case 24). Real storage (SQLite and PostgreSQL), real SMTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailbot.adapters.smtp_sender import SmtpMailer
from mailbot.bootstrap import App
from mailbot.services.decisions import DecisionRefused, pause_clock, refuse_request, resume_clock
from mailbot.services.outbox import drain
from mailbot.services.pipeline import run_pass
from tests.support.app import make_app
from tests.support.fakes import MemorySource, keyword_classifier
from tests.support.mail import make_mail
from tests.support.smtp_sink import SmtpSink
from tests.support.store import open_store

# The requester's identity is not in question in these tests: our border server's DMARC pass
# verifies it at once (issue 11), so no identity challenge pauses the clock by itself.
VERIFIED_BY_DMARC = {
    "MAILBOT_IDENTITY__TRUST_DMARC": "true",
    "MAILBOT_IDENTITY__AUTHSERV_ID": "mx.ordevos.nl",
}
DMARC_PASS = {"Authentication-Results": "mx.ordevos.nl; dmarc=pass header.from=example.nl"}
RECEIVED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday 2 March 2026, 10:00 in Amsterdam


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock, smtp_sink: SmtpSink) -> App:
    clock.now = RECEIVED
    application = make_app(
        tmp_path,
        database_url,
        clock,
        classifier=keyword_classifier,
        mailer=SmtpMailer("127.0.0.1", smtp_sink.port, "plain", timeout=5),
        **VERIFIED_BY_DMARC,
    )
    yield application
    application.close()


def open_request(app: App, body: str = "Graag inzage in mijn gegevens.", subject: str = "Verzoek") -> str:
    source = MemorySource()
    source.add(make_mail(subject=subject, body=body, headers=DMARC_PASS), RECEIVED)
    run_pass(source, app.database, app.processor, app.clock)
    with open_store(app) as store:
        return store.all_tickets()[-1].ref


def deps(app: App) -> dict:
    return {"calendar": app.work_calendar, "policy": app.deadline_policy}


def test_identity_pause_moves_the_legal_date_and_keeps_the_unpaused_one(app: App, clock) -> None:
    """R-A7 / case 9: question 2 days after receipt, answer 5 days later → adjusted deadline +5 days,
    the unadjusted date still shown."""
    ref = open_request(app)
    with open_store(app) as store:
        before = store.ticket_by_ref(ref).legal_due
    clock.advance(days=2)
    with open_store(app) as store:
        pause_clock(store, ref, clock(), actor="anna")
        assert store.ticket_by_ref(ref).status == "waiting"
    with open_store(app) as store, pytest.raises(DecisionRefused):
        pause_clock(store, ref, clock())  # already paused
    clock.advance(days=5)
    with open_store(app) as store:
        due = resume_clock(store, ref, clock(), actor="anna", **deps(app))
        ticket = store.ticket_by_ref(ref)
        kinds = [e.kind for e in store.audit_events(ticket.id)]
    assert ticket.legal_due_unpaused == before
    assert ticket.legal_due == due.legal_due and due.legal_due > before
    assert (due.legal_due - before) >= timedelta(days=5)
    assert ticket.status == "open"
    assert {"ticket.clock_paused", "ticket.clock_resumed"} <= set(kinds)


def test_a_late_identity_question_does_not_pause(app: App, clock) -> None:
    """R-A7 / case 9: a question on day 20 was not sent without undue delay: no pause."""
    ref = open_request(app)
    with open_store(app) as store:
        before = store.ticket_by_ref(ref).legal_due
    clock.advance(days=20)
    with open_store(app) as store:
        pause_clock(store, ref, clock())
    clock.advance(days=5)
    with open_store(app) as store:
        due = resume_clock(store, ref, clock(), **deps(app))
    assert due.legal_due == before


def test_refusal_needs_reasons_and_a_human(app: App) -> None:
    """R-A8: mailbot never refuses by itself; R-A6: never without reasons."""
    ref = open_request(app)
    policy = {"renderer": app.renderer, "policy": app.outbox_policy}
    with open_store(app) as store:
        with pytest.raises(DecisionRefused, match="reason"):
            refuse_request(store, ref, ["  "], app.clock(), partial=False, actor="anna", **policy)
        with pytest.raises(DecisionRefused, match="human"):
            refuse_request(
                store, ref, ["kennelijk ongegrond"], app.clock(), partial=False, actor="mailbot", **policy
            )
        # A partial refusal carries the honoured part out: without the means to, nothing happens.
        with pytest.raises(DecisionRefused, match="honoured part"):
            refuse_request(store, ref, ["deels"], app.clock(), partial=True, actor="anna", **policy)
        assert store.ticket_by_ref(ref).answered_at is None


def test_refusal_letter_names_reasons_and_remedies_and_ends_the_clock(app: App, smtp_sink: SmtpSink) -> None:
    """R-A6 / case 24: reasons, the right to complain to the AP and to go to court, before the deadline."""
    ref = open_request(app)
    with open_store(app) as store:
        refuse_request(
            store,
            ref,
            ["Wij verwerken geen gegevens van u."],
            app.clock(),
            partial=False,
            actor="anna",
            renderer=app.renderer,
            policy=app.outbox_policy,
        )
        ticket = store.ticket_by_ref(ref)
        assert ticket.status == "resolved" and ticket.answered_at == app.clock()
        assert ticket.answered_at < ticket.legal_due
    drain(app.database, app.mailer, app.clock, app.outbox_policy)
    letters = [
        d.message()
        for d in smtp_sink.messages
        if "Autoriteit Persoonsgegevens" in d.data.decode("utf-8", "replace")
    ]
    assert len(letters) == 1
    body = letters[0].get_body(("plain",)).get_content()
    assert "Wij verwerken geen gegevens van u." in body
    assert "rechter" in body and "niet aan voldoen" in body
    assert f"[{ref}]" in letters[0]["Subject"]


def test_only_gdpr_requests_can_be_refused(app: App) -> None:
    ref = open_request(app, body="Ik heb een vraag over de training.", subject="Vraag")
    with open_store(app) as store, pytest.raises(DecisionRefused):
        refuse_request(
            store,
            ref,
            ["reden"],
            app.clock(),
            partial=False,
            actor="anna",
            renderer=app.renderer,
            policy=app.outbox_policy,
        )
