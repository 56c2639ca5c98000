"""Issue 14: a complaint a machine relays (a voicemail transcript) reaches the queue, end to end:
a triage ticket with the 48-hour deadline, and no acknowledgement to the machine that sent it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
from tests.support.fakes import FixedReading, MemorySource
from tests.support.mail import voicemail
from tests.support.store import open_store

RECEIVED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # a Monday


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock) -> App:
    rules = load_ruleset(REPO / "mailbot" / "defaults" / "rules")
    classifier = ModelClassifier(rules, Organisation(), FixedReading(Category.COMPLAINT, 0.9))
    application = make_app(tmp_path, database_url, clock, classifier=classifier)
    yield application
    application.close()


def test_a_relayed_complaint_opens_a_ticket_with_its_deadline_and_answers_no_machine(app: App) -> None:
    source = MemorySource()
    source.add(voicemail(Auto_Submitted="auto-generated"), RECEIVED)
    summary = run_pass(source, app.database, app.processor, app.clock)
    assert (summary.tickets_opened, summary.automated) == (1, 0)
    with open_store(app) as store:
        [ticket] = store.all_tickets()
        purposes = {
            o.purpose for o in store.session.scalars(select(Outbox).where(Outbox.ticket_id == ticket.id))
        }
        kinds = {e.kind: e.detail for e in store.audit_events(ticket.id)}
    assert (ticket.category, ticket.triage) == ("complaint", True)
    assert ticket.first_response_due == RECEIVED + timedelta(hours=48)
    assert "acknowledgement" not in purposes
    assert kinds["ack.skipped"]["reason"] == "relayed-by-machine"
