"""Issue 14: mail from the company's own web form is the person's mail, end to end.

By its headers a contact form's mail is machine mail (``noreply@``, ``Auto-Submitted``): kept,
never answered. Read as the person's, it opens their ticket with the 48-hour deadline, under the
customer record of the address they typed, and the acknowledgement goes to that address.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.adapters.db.models import Outbox
from mailbot.bootstrap import App
from mailbot.services.pipeline import run_pass
from tests.support.app import make_app
from tests.support.fakes import MemorySource, keyword_classifier
from tests.support.store import open_store

RECEIVED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # a Monday


def form_mail(
    sender: str,
    person: str = "",
    subject: str = "",
    *,
    message_id: str = "<form-1@web.example>",
    heading: str = "Nieuw bericht via het contactformulier",
    body: str | None = None,
) -> bytes:
    """A website form's mail; ``body`` replaces the default form (name, e-mail, phone, message)."""
    msg = EmailMessage()
    msg["From"] = f"Website <{sender}>"
    msg["To"] = "info@ordevos.nl"
    msg["Subject"] = heading
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(
        body
        if body is not None
        else f"{heading}\n\n"
        f"Naam: Marloes Verbeek\nE-mail: {person}\nTelefoon: 0612345678\nOnderwerp: {subject}\n"
        "Bericht:\nMijn coach is twee keer niet gekomen. Ik wil de sessies terug.\n\n---\nPagina: /contact\n"
    )
    return msg.as_bytes()


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock) -> App:
    application = make_app(
        tmp_path,
        database_url,
        clock,
        classifier=keyword_classifier,
        MAILBOT_ORGANISATION__FORM_SENDERS="@forms.example.net",
    )
    yield application
    application.close()


def one_pass(app: App, *messages: bytes):
    source = MemorySource()
    for raw in messages:
        source.add(raw, RECEIVED)
    return run_pass(source, app.database, app.processor, app.clock)


@pytest.mark.parametrize("sender", ["noreply@ordevos-web.nl", "submissions@forms.example.net"])
def test_a_complaint_through_the_website_form_is_the_persons_ticket(app: App, sender: str) -> None:
    summary = one_pass(app, form_mail(sender, "m.verbeek@example.nl", "Klacht over mijn coach"))
    assert (summary.tickets_opened, summary.automated) == (1, 0)
    with open_store(app) as store:
        [ticket] = store.all_tickets()
        customer = store.customer(ticket.customer_id)
        assert customer is not None and store.customer_address(customer) == "m.verbeek@example.nl"
        assert store.ticket_subject(ticket) == "Klacht over mijn coach"
        assert f"via form {sender}" in store.ticket_evidence(ticket)  # staff see where it came from
        acks = list(
            store.session.scalars(
                select(Outbox).where(Outbox.ticket_id == ticket.id, Outbox.purpose == "acknowledgement")
            )
        )
        assert [a.recipient_index for a in acks] == [store.address_index("m.verbeek@example.nl")]
    assert ticket.category == "complaint"
    assert ticket.first_response_due == RECEIVED + timedelta(hours=48)


def test_two_forms_from_one_person_are_one_customer_and_a_strangers_form_another(app: App) -> None:
    one_pass(
        app,
        form_mail("noreply@ordevos-web.nl", "m.verbeek@example.nl", "Klacht", message_id="<f1@web.example>"),
        form_mail("noreply@ordevos-web.nl", "M.Verbeek@example.nl", "Vraag", message_id="<f2@web.example>"),
        form_mail("noreply@ordevos-web.nl", "piet@example.nl", "Vraag", message_id="<f3@web.example>"),
    )
    with open_store(app) as store:
        owners = [t.customer_id for t in store.all_tickets()]
    assert len(owners) == 3 and owners[0] == owners[1] != owners[2]


def test_a_form_from_an_unknown_machine_stays_machine_mail(app: App) -> None:
    """Not the company's domain, not configured, and it does not call itself a form: unanswered."""
    raw = form_mail("noreply@newsletters.example", "m.verbeek@example.nl", "Klacht", heading="Weekly digest")
    summary = one_pass(app, raw)
    assert (summary.tickets_opened, summary.automated) == (0, 1)


def test_a_call_back_form_opens_a_ticket_with_its_deadline_and_sends_nothing(app: App) -> None:
    """No e-mail field: the person is owed a call within the 48 hours, and no letter can go."""
    raw = form_mail(
        "wordpress@ordevos.nl",
        heading="Klacht: terugbelverzoek",
        message_id="<callback-1@ordevos.nl>",
        body="Naam: R. Pranoto\nTelefoonnummer: 0651229087\nWaar gaat het over?: 2x afgeschreven\n",
    )
    summary = one_pass(app, raw)
    assert (summary.tickets_opened, summary.automated) == (1, 0)
    with open_store(app) as store:
        [ticket] = store.all_tickets()
        outbox = list(store.session.scalars(select(Outbox).where(Outbox.ticket_id == ticket.id)))
        kinds = {e.kind: e.detail for e in store.audit_events(ticket.id)}
    assert ticket.category == "complaint" and ticket.first_response_due == RECEIVED + timedelta(hours=48)
    assert "acknowledgement" not in {o.purpose for o in outbox}
    assert kinds["ack.skipped"]["reason"] == "no-sender"
