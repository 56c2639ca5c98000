"""Issue 5: the daily digest for a realistic set of tickets, and no digest when there is nothing.

Covers R-B1 (48-hour first answer overdue / due soon), R-A4 and case 11 (past the internal target
but before the legal date), R-B2 (the complaint decision term is not yet due), failed outgoing mail
and quarantined messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.adapters.db.models import Outbox
from mailbot.bootstrap import App
from mailbot.services.digest import build_digest, is_empty, queue_digest, render_digest
from mailbot.services.pipeline import run_pass
from tests.support.app import make_app
from tests.support.fakes import MemorySource, keyword_classifier
from tests.support.mail import make_mail
from tests.support.store import open_store

T0 = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)  # Friday 17:00 Amsterdam


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock) -> Iterator[App]:
    clock.now = T0
    application = make_app(
        tmp_path, database_url, clock, classifier=keyword_classifier, MAILBOT_STAFF__ADDRESSES="hk@ordevos.nl"
    )
    yield application
    application.close()


def receive(app: App, subject: str, body: str = "Goedemiddag.", sender: str = "klant@example.nl") -> str:
    source = MemorySource()
    source.add(make_mail(subject=subject, body=body, sender=sender), app.clock())
    run_pass(source, app.database, app.processor, app.clock)
    with open_store(app) as store:
        return max(store.all_tickets(), key=lambda t: t.opened_at).ref


def queue(app: App, **kwargs: bool) -> Outbox | None:
    with open_store(app) as store:
        outbox_id = queue_digest(store, app.renderer, app.outbox_policy, app.clock(), **kwargs)
        if outbox_id is None:
            return None
        store.session.flush()
        row = store.session.get(Outbox, outbox_id)
        assert row is not None
        store.session.expunge(row)
        return row


def refs(rows: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [r["ref"] for r in rows]


def test_digest_for_a_realistic_set_of_tickets(app: App, clock) -> None:
    """Issue 5: overdue, due within 24 h, opened since the last digest, open GDPR requests with
    their legal end dates, failed outgoing mail, quarantined messages — checked for content."""
    overdue_ref = receive(app, "Klacht over de factuur", sender="a@example.nl")
    clock.advance(minutes=1)
    access_ref = receive(app, "Vraag", body="Ik wil graag inzage in mijn gegevens.", sender="b@example.nl")
    with open_store(app) as store:
        access = store.ticket_by_ref(access_ref)
        assert access is not None
        access.first_responded_at = T0 + timedelta(hours=3)  # answered the first time in time
    clock.now = T0 + timedelta(hours=30)
    soon_ref = receive(app, "Klacht over de coach", sender="c@example.nl")  # due T0 + 78 h
    clock.now = T0 + timedelta(hours=59)
    other_ref = receive(app, "Een vraag over het rooster", sender="d@example.nl")
    with open_store(app) as store:
        failed = store.session.scalars(select(Outbox).where(Outbox.purpose == "acknowledgement")).first()
        assert failed is not None
        failed.status = "failed"
        failed.last_error = "550 5.1.1 <a@example.nl>: mailbox unavailable"
        failed_ref = store.ticket(failed.ticket_id).ref  # type: ignore[union-attr]
        raw_id = store.add_raw(
            source="memory:INBOX",
            source_key="1:99",
            raw=b"not a mail",
            fingerprint="f" * 64,
            message_id=None,
            customer=None,
            received_at=clock.now,
            now=clock.now,
        )
        store.session.flush()
        assert store.record_failure(raw_id, ValueError("unparseable"), 1, clock.now)
    clock.now = T0 + timedelta(hours=60)  # Monday 9 March 2026, 05:00 Amsterdam
    with open_store(app) as store:
        digest = build_digest(store, clock.now, app.org)
    assert digest["date"] == date(2026, 3, 9)
    assert [(r["ref"], r["kind"]) for r in digest["overdue"]] == [(overdue_ref, "first_response")]
    assert [(r["ref"], r["kind"]) for r in digest["due_soon"]] == [(soon_ref, "first_response")]
    assert digest["due_soon"][0]["due"] == T0 + timedelta(hours=78)
    assert refs(digest["opened"]) == [other_ref]  # no earlier digest: the last 24 hours only
    [gdpr] = digest["gdpr_open"]
    # Case 1: receipt Thu 5 Mar … here Fri 6 Mar → Mon 6 Apr is 2e Paasdag → Tue 7 Apr (R-A2/A3).
    expected = (access_ref, date(2026, 4, 7), date(2026, 4, 7))
    assert (gdpr["ref"], gdpr["due"], gdpr["unpaused_due"]) == expected
    assert digest["past_internal_target"] == []  # R-A4: the internal target is still ahead
    assert [(r["ref"], r["reason"]) for r in digest["failed"]] == [
        (failed_ref, "550 5.1.1 <<adres>>: mailbox unavailable")  # no address in a staff mail
    ]
    assert digest["quarantined"] == 1
    assert not is_empty(digest)

    rendered = render_digest(app.renderer, app.org, digest)
    assert "1 verlopen, 1 binnenkort" in rendered.subject
    text = rendered.text
    assert overdue_ref in text and soon_ref in text and failed_ref in text
    assert "zondag 8 maart 2026" in text and "17:00" in text  # overdue complaint, Amsterdam time
    assert "a@example.nl" not in text and "factuur" not in text  # no personal data, no subjects

    row = queue(app)
    assert row is not None and row.purpose == "digest" and row.ticket_id is None
    assert app.drain_outbox() >= 1
    clock.advance(hours=1)
    later_ref = receive(app, "Nog een vraag", sender="e@example.nl")
    with open_store(app) as store:
        assert refs(build_digest(store, clock.now, app.org)["opened"]) == [later_ref]  # since the last


def test_case_11_past_internal_target_before_the_legal_date(app: App, clock) -> None:
    """Case 11 / R-A4: a GDPR request past its 20-working-day target but before the legal date.
    Received Fri 2 Jan 2026: internal target Fri 30 Jan, legal due Mon 2 Feb."""
    clock.now = datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
    ref = receive(app, "Vraag", body="Graag inzage in alles wat jullie van mij hebben.")
    with open_store(app) as store:
        ticket = store.ticket_by_ref(ref)
        assert ticket is not None and ticket.internal_due is not None and ticket.legal_due is not None
        internal, legal = ticket.internal_due, ticket.legal_due
    assert (internal.date(), legal.date()) == (date(2026, 1, 30), date(2026, 2, 2))
    clock.now = internal + timedelta(hours=1)
    with open_store(app) as store:
        digest = build_digest(store, clock.now, app.org)
    assert [(r["ref"], r["kind"]) for r in digest["past_internal_target"]] == [(ref, "internal")]
    clock.now = legal + timedelta(hours=1)
    with open_store(app) as store:
        digest = build_digest(store, clock.now, app.org)
    assert digest["past_internal_target"] == []
    assert (ref, "legal") in [(r["ref"], r["kind"]) for r in digest["overdue"]]


def test_empty_digest_sends_nothing_unless_configured(app: App, clock) -> None:
    """Issue 5: nothing to report → no mail; with send_when_empty a digest still goes out."""
    assert queue(app) is None
    assert app.deadlines.queue_digest() is None
    with open_store(app) as store:
        assert list(store.session.scalars(select(Outbox))) == []
    row = queue(app, send_when_empty=True)
    assert row is not None
    assert app.drain_outbox() == 1


def test_scheduled_digest_goes_out_once_per_day(app: App, clock) -> None:
    """Issue 5: two instances (or a rerun) on the same day queue one digest."""
    receive(app, "Klacht over de coach")
    assert queue(app, once_per_day=True) is not None
    assert queue(app, once_per_day=True) is None
    clock.advance(days=1)
    assert queue(app, once_per_day=True) is not None
