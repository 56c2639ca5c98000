"""Issue 14/12: a rights request made inside a ticket's thread ("thanks — and please delete all my
data") gets its own ticket: its legal month, its identity check and its acknowledgement. Appended
to the thread's ticket it had none of these. On SQLite and PostgreSQL."""

from __future__ import annotations

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
WORDS = {"verwijder": Category.ERASURE, "factuur": Category.COMPLAINT}


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock) -> App:
    rules = load_ruleset(REPO / "mailbot" / "defaults" / "rules")
    classifier = ModelClassifier(rules, Organisation(), WordReading(WORDS))
    application = make_app(tmp_path, database_url, clock, classifier=classifier)
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


def test_a_request_in_a_reply_opens_its_own_ticket_with_its_term_and_answer(app: App) -> None:
    ref = first_ticket(app, "De factuur van maart is twee keer afgeschreven.")
    reply(app, ref, "Dank voor het terugbetalen. Verwijder nu ook al mijn gegevens, ik stop.")
    with open_store(app) as store:
        tickets = {t.ref: t for t in store.all_tickets()}
        assert len(tickets) == 2
        thread = tickets.pop(ref)
        [request] = tickets.values()
        evidence = store.ticket_evidence(request)
        acks = [
            o.purpose for o in store.session.scalars(select(Outbox).where(Outbox.ticket_id == request.id))
        ]
        thread_events = {e.kind: e.detail for e in store.audit_events(thread.id)}
        owners = {thread.customer_id, request.customer_id}
    assert (request.category, request.triage) == ("erasure", True)
    assert request.legal_due is not None and request.legal_due > RECEIVED  # the one-month term runs
    assert f"thread {ref}" in evidence
    assert "acknowledgement" in acks
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
