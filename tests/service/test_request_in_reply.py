"""Issue 14/12: a rights request made inside a ticket's thread ("thanks — and please delete all my
data") gets its own ticket: its legal month and its identity check, but no acknowledgement (R-C5:
none inside an existing thread). Appended to the thread's ticket it had neither. On SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.adapters.db.models import Outbox
from mailbot.adapters.rules_loader import load_ruleset
from mailbot.bootstrap import App
from mailbot.domain.classifier import ModelClassifier
from mailbot.domain.model import Category, Organisation
from mailbot.services.pipeline import run_pass
from tests.support.app import REPO, make_app
from tests.support.fakes import MemorySource, WordReading
from tests.support.mail import make_mail
from tests.support.store import open_store

RECEIVED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # a Monday
CUSTOMER = "m.verbeek@example.nl"
WORDS: dict[str, Category | tuple[Category, float]] = {
    "verwijder": Category.ERASURE,
    "misschien wissen": (Category.ERASURE, 0.5),  # below the share that opens a ticket
    "factuur": Category.COMPLAINT,
}
STAFF = "anna@ordevos.nl"


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock) -> App:
    rules = load_ruleset(REPO / "mailbot" / "defaults" / "rules")
    classifier = ModelClassifier(rules, Organisation(), WordReading(WORDS))
    application = make_app(
        tmp_path, database_url, clock, classifier=classifier, MAILBOT_STAFF__ADDRESSES=STAFF
    )
    yield application
    application.close()


def arrive(app: App, raw: bytes) -> None:
    source = MemorySource()
    source.add(raw, RECEIVED)
    run_pass(source, app.database, app.processor, app.clock)


def first_ticket(app: App, body: str, subject: str = "Mijn factuur klopt niet") -> str:
    arrive(app, make_mail(sender=CUSTOMER, subject=subject, body=body))
    with open_store(app) as store:
        [ticket] = store.all_tickets()
        return ticket.ref


def reply(app: App, ref: str, body: str) -> None:
    arrive(app, make_mail(sender=CUSTOMER, subject=f"Re: [{ref}] Mijn factuur", body=body))


def test_a_request_in_a_reply_opens_its_own_ticket_with_its_term(app: App) -> None:
    ref = first_ticket(app, "De factuur van maart is twee keer afgeschreven.")
    reply(app, ref, "Dank voor het terugbetalen. Verwijder nu ook al mijn gegevens, ik stop.")
    with open_store(app) as store:
        tickets = {t.ref: t for t in store.all_tickets()}
        assert len(tickets) == 2
        thread = tickets.pop(ref)
        [request] = tickets.values()
        evidence = store.ticket_evidence(request)
        purposes = [
            o.purpose for o in store.session.scalars(select(Outbox).where(Outbox.ticket_id == request.id))
        ]
        request_events = {e.kind: e.detail for e in store.audit_events(request.id)}
        thread_events = {e.kind: e.detail for e in store.audit_events(thread.id)}
        owners = {thread.customer_id, request.customer_id}
    assert (request.category, request.triage) == ("erasure", True)
    assert request.legal_due is not None and request.legal_due > RECEIVED  # the one-month term runs
    assert f"thread {ref}" in evidence
    assert "acknowledgement" not in purposes and "staff_new_ticket" in purposes  # staff see it
    assert request_events["ack.skipped"]["reason"] == "in-thread"  # R-C5
    assert thread_events["ticket.request_opened"]["request"] == request.ref
    assert len(owners) == 1  # the same customer's request


def test_the_same_request_asked_again_on_its_own_ticket_is_appended(app: App) -> None:
    ref = first_ticket(app, "Verwijder al mijn gegevens.", subject="Gegevens verwijderen")
    reply(app, ref, "Nog een keer: verwijder alles, ook de notities.")
    with open_store(app) as store:
        [ticket] = store.all_tickets()
        kinds = [e.kind for e in store.audit_events(ticket.id)]
    assert ticket.category == "erasure" and "ticket.reply" in kinds


def test_a_reply_without_a_request_is_appended(app: App) -> None:
    ref = first_ticket(app, "De factuur van maart is twee keer afgeschreven.")
    reply(app, ref, "Dank u, het bedrag staat weer op mijn rekening.")
    with open_store(app) as store:
        [ticket] = store.all_tickets()
        kinds = [e.kind for e in store.audit_events(ticket.id)]
    assert "ticket.reply" in kinds and "ticket.request_opened" not in kinds


def test_a_faint_request_in_a_reply_is_appended_and_staff_are_told_how_to_take_it_up(app: App) -> None:
    ref = first_ticket(app, "De factuur van maart is twee keer afgeschreven.")
    reply(app, ref, "Dank u. Kunt u mijn oude gegevens dan misschien wissen?")
    with open_store(app) as store:
        [ticket] = store.all_tickets()
        [notice] = store.session.scalars(
            select(Outbox).where(Outbox.ticket_id == ticket.id, Outbox.purpose == "staff_follow_up")
        )
        where = ("outbox", "payload", notice.id, notice.customer_id)
        raw = store.vault.open(store.session, notice.payload_enc, where)
    assert raw is not None
    body = email.message_from_bytes(raw, policy=email.policy.default).get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert f"mailbot tickets reclassify {ref} erasure" in text
    assert "een nieuw verwijderverzoek" in text  # named in the staff member's language
